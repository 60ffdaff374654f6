// What a bench scenario is: the figures it produces and how it measures one registry in one run.
import { cpuSeconds } from './processes.js';
import type { Registry } from './registries.js';

/** One row of the result table (per Berth mode). */
export interface Figure {
  key: string;
  /** e.g. "blob push 256 MiB monolithic" */
  title: string;
  unit: 'MiB/s' | 'req/s' | 'MiB' | 'CPU s/GiB';
  /** Throughputs: higher is better; memory and CPU cost: lower is better (the ratio is inverted so > 1 still means better). */
  higherIsBetter: boolean;
}

export interface BenchSettings {
  quick: boolean;
  runs: number;
  blobSize: number;
  chunkSize: number;
  rssBlobSize: number;
  /** Seconds of load per manifest run. */
  loadSeconds: number;
  connections: number;
  imageLayers: number;
  imageSize: number;
  /** Scratch space for the whole bench (OCI layouts, pulled images); removed at the end. */
  workDir: string;
}

export interface Scenario {
  /** The name used to select it: `npm run bench -- <name>` or BENCH_SCENARIOS. */
  name: string;
  figures: Figure[];
  /** Measure against a registry started for this measurement alone, stopped after it (peak memory). */
  freshRegistry?: boolean;
  /** Once per run, before the registries take their turns: data that all of them get. */
  beforeRun?(run: number): Promise<void>;
  /** One registry's turn in one run: figure key → value in the figure's unit. Throws on any wrong answer. */
  measure(registry: Registry, run: number): Promise<Record<string, number>>;
  /** After all runs. */
  teardown?(): Promise<void>;
}

/** A short wall-clock timer around one operation. */
export async function timed(op: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await op();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Wall time of one operation and the CPU seconds the registry's process tree spent meanwhile. */
export async function timedWithCpu(pids: number[], op: () => Promise<unknown>): Promise<{ seconds: number; cpu: number }> {
  const c0 = await cpuSeconds(pids);
  const seconds = await timed(op);
  return { seconds, cpu: (await cpuSeconds(pids)) - c0 };
}
