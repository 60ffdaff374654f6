import type { Server } from 'node:http';
import { splitHostPort, type AgentConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { Agent, type AgentOptions } from './agent.js';
import { createEndpoint } from './endpoint.js';
import { PreheatWorker } from './preheat.js';

export interface RunningAgent {
  agent: Agent;
  server: Server;
  /** http://host:port of the local registry endpoint. */
  url: string;
  close(): Promise<void>;
}

/** Starts an agent: cache, peer port, the local endpoint, and the preheat worker for the seed role. */
export async function startAgent(config: AgentConfig, log: Logger, opts: AgentOptions = {}): Promise<RunningAgent> {
  const agent = new Agent(config, log, opts);
  await agent.open();
  const server = createEndpoint(agent);
  const { host, port } = splitHostPort(config.agent_addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  const preheat = config.agent_role === 'seed' ? new PreheatWorker(agent) : undefined;
  preheat?.start();
  log.info({ addr: `${host}:${bound}`, peerPort: agent.port, origin: config.origin, idc: config.idc, role: config.agent_role, cacheMax: config.agent_cache_max }, 'berth agent listening');
  return {
    agent,
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    close: async () => {
      preheat?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await agent.close();
    },
  };
}
