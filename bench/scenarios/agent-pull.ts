// A node's second pull of a layer, through Berth's P2P agent: the agent's local endpoint serving a blob it already
// holds (warmed by one untimed pull through it), timed with curl as the pull scenario is, and the agent's CPU per
// GiB. distribution's row is the same blob pulled straight from it: what a node without Berth does. Registries with
// token auth are left out (the agent needs the client's own credentials; the pull scenario covers those).
import { MiB, PatternBlob } from '../lib/pattern-blob.js';
import { curlGet } from '../lib/curl-get.js';
import { answers, cpuSeconds, freePort, type Service, type ServicePool } from '../lib/processes.js';
import { berthBin, type Registry } from '../lib/registries.js';
import { RegistryClient, UnexpectedResponse } from '../lib/registry-client.js';
import type { BenchSettings, Scenario } from '../lib/scenario.js';

const REPO = 'bench/pull';

export function agentPull(s: BenchSettings, pool: ServicePool): Scenario {
  let blob: PatternBlob;
  const agents = new Map<string, { svc: Service; url: string }>();

  async function agentFor(registry: Registry): Promise<{ svc: Service; url: string }> {
    let a = agents.get(registry.url);
    if (a) return a;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const svc = await pool.start({
      name: `agent of ${registry.label}`,
      command: process.execPath,
      args: [berthBin, 'agent'],
      env: { ...process.env, BERTH_ORIGIN: registry.url, BERTH_AGENT_ADDR: `127.0.0.1:${port}`, BERTH_AGENT_DATA_DIR: await pool.freshDir('agent'), BERTH_AGENT_PEER_PORT: String(await freePort()), BERTH_LOG_LEVEL: 'error' },
      ready: () => answers(`${url}/v2/`),
    });
    a = { svc, url };
    agents.set(registry.url, a);
    return a;
  }

  return {
    name: 'agent',
    figures: [
      { key: 'agent-pull', title: `blob pull ${s.blobSize / MiB} MiB from the P2P agent's cache (distribution: direct)`, unit: 'MiB/s', higherIsBetter: true },
      { key: 'agent-pull-cpu', title: 'agent CPU, cached blob pull (distribution: registry CPU)', unit: 'CPU s/GiB', higherIsBetter: false },
    ],
    async beforeRun() {
      blob = new PatternBlob(s.blobSize);
    },
    // The agents outlive the runs (their caches are the point); stopped here, or their pipes keep the bench alive.
    async teardown() {
      for (const { svc } of agents.values()) await svc.stop();
      agents.clear();
    },
    async measure(registry): Promise<Record<string, number>> {
      if (registry.authorization) return {};
      const client = new RegistryClient(registry.url);
      try {
        await client.pushMonolithic(REPO, blob);
      } finally {
        client.close();
      }
      const path = `/v2/${REPO}/blobs/${blob.digest}`;
      const direct = registry.label.startsWith('distribution');
      const via = direct ? { url: registry.url, pids: registry.pids } : await agentFor(registry).then((a) => ({ url: a.url, pids: [a.svc.pid] }));
      if (!direct) await curlGet(`${via.url}${path}`, blob.size); // the first pull fills the agent's cache
      const cpu0 = await cpuSeconds(via.pids);
      const seconds = await curlGet(`${via.url}${path}`, blob.size);
      const cpu = (await cpuSeconds(via.pids)) - cpu0;
      const check = new RegistryClient(via.url);
      try {
        const served = await check.pull(REPO, blob.digest, true);
        if (served.digest !== blob.digest) throw new UnexpectedResponse(`GET ${path} from ${via.url}: served ${served.digest}`);
      } finally {
        check.close();
      }
      return { 'agent-pull': s.blobSize / MiB / seconds, 'agent-pull-cpu': cpu / (s.blobSize / 1024 / MiB) };
    },
  };
}
