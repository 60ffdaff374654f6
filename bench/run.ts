// `npm run bench`: Berth against CNCF distribution on this machine, same disk, same client, same run.
// Registries take turns run by run (distribution, Berth fs, Berth S3, distribution, …) so machine noise lands on
// all of them alike; the table shows medians. See `npm run bench -- --help`.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MiB } from './lib/pattern-blob.js';
import { ServicePool, ServiceStartError } from './lib/processes.js';
import { allRegistries, ModeUnavailable, repoRoot, type Registry, type RegistrySpec } from './lib/registries.js';
import { formatValue, loadAverage, machineLines, markdownTable, ratio, Results, targets } from './lib/report.js';
import type { BenchSettings, Scenario } from './lib/scenario.js';
import { agentPull } from './scenarios/agent-pull.js';
import { blobPull } from './scenarios/blob-pull.js';
import { blobPush } from './scenarios/blob-push.js';
import { concurrentPull } from './scenarios/concurrent-pull.js';
import { manifestLoad } from './scenarios/manifest-load.js';
import { pushRss } from './scenarios/push-rss.js';
import { skopeoCopy } from './scenarios/skopeo-copy.js';

const usage = `usage: npm run bench -- [scenario …]

scenarios: push pull concurrent manifest skopeo rss agent (default: all)

environment:
  BENCH_RUNS=5           runs per registry; the table shows medians
  BENCH_QUICK=1          smoke check: small sizes, 1 run, short load; writes bench/results/quick.md
  BENCH_SCENARIOS=a,b    same as naming scenarios on the command line
  BENCH_MODES=fs,s3,nginx,token
                         Berth modes to run (fs: fs+SQLite, s3: S3+Redis, nginx: fs+SQLite behind nginx with
                         blob_offload: nginx, token: fs+SQLite with token auth, against distribution with
                         auth: token); default: all four
  BENCH_LOAD_SECONDS=10  seconds of load per manifest measurement
  BERTH_*                passed through to berth serve (e.g. BERTH_WORKERS=2)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    return;
  }
  const env = process.env;
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const runs = Number(env.BENCH_RUNS ?? (quick ? 1 : 5));
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a positive integer, got ${env.BENCH_RUNS}`);
  const loadSeconds = Number(env.BENCH_LOAD_SECONDS ?? (quick ? 2 : 10));
  if (!(loadSeconds >= 1)) throw new Error(`BENCH_LOAD_SECONDS must be a number of seconds >= 1, got ${env.BENCH_LOAD_SECONDS}`);
  const modeNames = (env.BENCH_MODES ?? 'fs,s3,nginx,token').split(',').map((m) => m.trim());
  const badMode = modeNames.find((m) => !['fs', 's3', 'nginx', 'token'].includes(m));
  if (badMode !== undefined) throw new Error(`BENCH_MODES takes fs, s3, nginx and/or token, got ${badMode}`);
  const pool = new ServicePool();
  const settings: BenchSettings = {
    quick,
    runs,
    blobSize: (quick ? 16 : 256) * MiB,
    chunkSize: (quick ? 4 : 16) * MiB,
    rssBlobSize: (quick ? 64 : 2048) * MiB,
    loadSeconds,
    connections: 32,
    imageLayers: 5,
    imageSize: (quick ? 10 : 100) * MiB,
    workDir: await pool.freshDir('work'),
  };

  const scenarios = [
    blobPush(settings),
    blobPull(settings),
    concurrentPull(settings),
    manifestLoad(settings),
    skopeoCopy(settings),
    pushRss(settings),
    agentPull(settings, pool),
  ];
  const wanted = [...args, ...(env.BENCH_SCENARIOS?.split(',') ?? [])].map((a) => a.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}\n\n${usage}`);
  const selected = wanted.length ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;

  // Each Berth mode runs with the distribution it is compared with (token auth: distribution with auth: token).
  const berthSpecs = allRegistries.filter((r) => !isBaseline(r.id) && modeNames.includes(r.id.replace('berth-', '')));
  const baselines = new Set(berthSpecs.map((r) => r.baseline ?? 'distribution'));
  const specs = allRegistries.filter((r) => (isBaseline(r.id) && baselines.has(r.id)) || berthSpecs.includes(r));

  const loadAtStart = loadAverage();
  const results = new Results();
  const notes: string[] = [];
  const unavailable = new Map<string, string>();
  const shared = new Map<string, Registry>();
  try {
    // Registries shared by every scenario except those that want a fresh process per measurement.
    if (selected.some((s) => !s.freshRegistry)) {
      for (const spec of specs) {
        const started = await startOrExplain(spec, pool, unavailable);
        if (started) shared.set(spec.id, started);
      }
    } else {
      // Still learn up front whether each Berth mode can run at all.
      for (const spec of specs) await (await startOrExplain(spec, pool, unavailable))?.stop();
    }
    if (unavailable.has('distribution')) throw new Error(`distribution did not start: ${unavailable.get('distribution')}`);
    if (specs.some((r) => r.id === 'berth-token')) {
      notes.push(
        '[token auth] rows: Berth with BERTH_AUTH=token (a private project, the admin\'s Bearer token on every request; skopeo does the ' +
          'token dance) against distribution with auth: token (RS256 tokens with an x5c certificate from the bench\'s own issuer).',
      );
    }
    for (const [id, why] of unavailable) notes.push(`${labelOf(id)} skipped: ${why}`);
    if (specs.some((r) => r.id === 'berth-s3') && !unavailable.has('berth-s3')) {
      notes.push(
        '[S3+Redis] rows: Berth keeps blobs in s3rver (a JavaScript S3 test double on loopback) and metadata in Redis, ' +
          'against distribution on local disk; s3rver\'s own speed bounds these rows. (distribution 2.8\'s s3 driver ' +
          'fails against s3rver, so a like-for-like S3 baseline is not available here.)',
      );
    }

    for (const scenario of selected) {
      for (let run = 0; run < runs; run++) {
        await scenario.beforeRun?.(run);
        for (const spec of specs) {
          if (unavailable.has(spec.id)) continue;
          await measureOnce(scenario, spec, run, shared, pool, results);
        }
      }
      await scenario.teardown?.();
    }
  } finally {
    for (const r of shared.values()) await r.stop().catch(() => undefined);
    await rm(settings.workDir, { recursive: true, force: true });
  }

  const load = `load average ${loadAtStart} at the start, ${loadAverage()} at the end (other work on the machine adds noise)`;
  const report = render(settings, selected, specs, results, unavailable, notes, load);
  console.log(`\n${report}`);
  const out = join(repoRoot, 'bench', 'results', quick ? 'quick.md' : 'latest.md');
  await mkdir(join(repoRoot, 'bench', 'results'), { recursive: true });
  await writeFile(out, `${report}\n`);
  console.log(`\nwritten to ${out}`);
}

function isBaseline(id: string): boolean {
  return id.startsWith('distribution');
}

function labelOf(id: string): string {
  return allRegistries.find((r) => r.id === id)?.label ?? id;
}

/** Starts a registry; a mode that cannot run here is recorded with its reason instead of failing the bench. */
async function startOrExplain(spec: RegistrySpec, pool: ServicePool, unavailable: Map<string, string>): Promise<Registry | undefined> {
  try {
    return await spec.start(pool);
  } catch (e) {
    if (e instanceof ModeUnavailable) unavailable.set(spec.id, e.message);
    else if (e instanceof ServiceStartError) unavailable.set(spec.id, `${e.service} ${e.reason}: ${lastLines(e.output)}`);
    else throw e;
    return undefined;
  }
}

/** The gist of a failed start: the last lines that are not stack frames. */
function lastLines(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() && !/^\s+at /.test(l))
    .slice(-3)
    .join(' / ');
  return lines ? lines.slice(0, 400) : '(no output)';
}

async function measureOnce(
  scenario: Scenario,
  spec: RegistrySpec,
  run: number,
  shared: Map<string, Registry>,
  pool: ServicePool,
  results: Results,
): Promise<void> {
  let registry: Registry | undefined = shared.get(spec.id);
  try {
    if (scenario.freshRegistry) registry = await spec.start(pool);
    if (!registry) return;
    const values = await scenario.measure(registry, run);
    const shown: string[] = [];
    for (const f of scenario.figures) {
      const v = values[f.key];
      if (v === undefined) continue;
      results.add(f.key, spec.id, v);
      shown.push(`${f.key} ${formatValue(v, f.unit)}`);
    }
    console.error(`${scenario.name} run ${run + 1}: ${spec.label.padEnd(16)} ${shown.join(', ')}`);
  } catch (e) {
    const message = e instanceof ServiceStartError ? `${e.service} ${e.reason}: ${lastLines(e.output)}` : (e as Error).message;
    console.error(`${scenario.name} run ${run + 1}: ${spec.label.padEnd(16)} FAILED: ${message}`);
    for (const f of scenario.figures) results.fail(f.key, spec.id, message.split('\n')[0]!.slice(0, 300));
  } finally {
    if (scenario.freshRegistry) await registry?.stop();
  }
}

function render(
  s: BenchSettings,
  scenarios: Scenario[],
  specs: RegistrySpec[],
  results: Results,
  unavailable: Map<string, string>,
  notes: string[],
  load: string,
): string {
  // Rows for the Berth modes that ran; while none can, one row per figure shows distribution alone.
  const allModes = specs.filter((r) => !isBaseline(r.id));
  const running = allModes.filter((r) => !unavailable.has(r.id));
  const berthModes = running.length ? running : allModes.slice(0, 1);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  const spreads: string[] = [];
  const cell = (fig: Scenario['figures'][number], id: string) => {
    if (unavailable.has(id)) return 'n/a';
    const m = results.median(fig.key, id);
    if (m === undefined) return results.failure(fig.key, id) ? 'failed' : 'n/a';
    return formatValue(m, fig.unit) + (results.failure(fig.key, id) ? ' (some runs failed)' : '');
  };
  for (const sc of scenarios) {
    for (const fig of sc.figures) {
      for (const mode of berthModes) {
        const baseline = mode.baseline ?? 'distribution';
        const dist = results.median(fig.key, baseline);
        const berth = unavailable.has(mode.id) ? undefined : results.median(fig.key, mode.id);
        const r = berth !== undefined && dist !== undefined ? ratio(berth, dist, fig.higherIsBetter) : undefined;
        rows.push([running.length ? `${fig.title} [${mode.storage}]` : fig.title, cell(fig, mode.id), cell(fig, baseline), r === undefined ? 'n/a' : `${r.toFixed(2)}x`]);
        const t = targets[fig.key];
        if (t && berth !== undefined && r !== undefined) {
          const met = t.ratio !== undefined ? r >= t.ratio : berth < t.below!;
          const goal = t.ratio !== undefined ? `>= ${t.ratio}x` : `< ${t.below} MiB`;
          verdicts.push(`${met ? 'met   ' : 'MISSED'} ${fig.title} (${mode.storage}): ${t.ratio !== undefined ? `${r.toFixed(2)}x` : formatValue(berth, fig.unit)}, target ${goal}`);
        }
      }
      for (const id of [...specs.filter((r) => isBaseline(r.id)).map((r) => r.id), ...running.map((m) => m.id)]) {
        const f = results.failure(fig.key, id);
        if (f) notes.push(`${fig.title}, ${labelOf(id)} failed: ${f}`);
        const sp = results.spread(fig.key, id);
        if (sp && sp.max > sp.min * 1.5) spreads.push(`${fig.title}, ${labelOf(id)}: ${formatValue(sp.min, fig.unit)} – ${formatValue(sp.max, fig.unit)}`);
      }
    }
  }
  const header = [
    `# Berth vs distribution — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    ...[...machineLines(), load].map((l) => `${l}  `),
    `runs: ${s.runs} per registry, alternated, medians shown${s.quick ? ' — QUICK MODE (small sizes, smoke check only)' : ''}; ` +
      `BERTH_WORKERS=${process.env.BERTH_WORKERS ?? 'default'}; ratio = Berth / distribution (memory: distribution / Berth), > 1 is better`,
    '',
  ];
  const table = markdownTable(['scenario', 'Berth', 'distribution', 'ratio'], rows);
  const tail = [
    ...(verdicts.length ? ['', 'Targets (issue 17):', ...verdicts.map((v) => `- ${v}`)] : []),
    ...(notes.length ? ['', 'Notes:', ...[...new Set(notes)].map((n) => `- ${n}`)] : []),
    ...(spreads.length ? ['', 'Noisy figures (slowest run – fastest run, more than 1.5x apart):', ...[...new Set(spreads)].map((n) => `- ${n}`)] : []),
  ];
  return [...header, table, ...tail].join('\n');
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
