// Collecting measurements and printing the one result table: medians per registry, Berth/distribution ratios.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Figure } from './scenario.js';

/** Ratio targets (Berth / distribution; CPU and memory ratios are inverted, so >= still means better) from issue 17
 *  (issue 5's push, manifest and memory targets kept), or an absolute ceiling for memory. */
export const targets: Record<string, { ratio?: number; below?: number }> = {
  'push-mono': { ratio: 4 },
  'push-chunked': { ratio: 4 },
  pull: { ratio: 1 },
  'pull-cpu': { ratio: 1 },
  'pull32-same': { ratio: 1.5 },
  'pull32-diff': { ratio: 1.5 },
  'manifest-get': { ratio: 2 },
  'manifest-head': { ratio: 2 },
  'skopeo-push': { ratio: 1 },
  'skopeo-pull': { ratio: 1 },
  rss: { below: 200 },
};

export class Results {
  private readonly samples = new Map<string, number[]>();
  private readonly failures = new Map<string, string>();

  add(figure: string, registry: string, value: number): void {
    const k = `${figure}\0${registry}`;
    this.samples.set(k, [...(this.samples.get(k) ?? []), value]);
  }

  /** Keeps the first failure: later runs usually fail the same way. */
  fail(figure: string, registry: string, message: string): void {
    const k = `${figure}\0${registry}`;
    if (!this.failures.has(k)) this.failures.set(k, message);
  }

  median(figure: string, registry: string): number | undefined {
    const xs = [...(this.samples.get(`${figure}\0${registry}`) ?? [])].sort((a, b) => a - b);
    if (xs.length === 0) return undefined;
    const mid = Math.floor(xs.length / 2);
    return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  }

  count(figure: string, registry: string): number {
    return this.samples.get(`${figure}\0${registry}`)?.length ?? 0;
  }

  /** max / min over the runs; well above 1 means the machine was noisy for this figure. */
  spread(figure: string, registry: string): { min: number; max: number } | undefined {
    const xs = this.samples.get(`${figure}\0${registry}`) ?? [];
    return xs.length > 1 ? { min: Math.min(...xs), max: Math.max(...xs) } : undefined;
  }

  failure(figure: string, registry: string): string | undefined {
    return this.failures.get(`${figure}\0${registry}`);
  }
}

export function formatValue(value: number, unit: Figure['unit']): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
}

/** Berth over distribution, inverted for lower-is-better figures, so > 1 always means Berth is better. */
export function ratio(berth: number, dist: number, higherIsBetter: boolean): number {
  return higherIsBetter ? berth / dist : dist / berth;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The machine and tool versions the figures were measured with. */
export function machineLines(): string[] {
  const version = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0]! : 'not installed';
  };
  const cpu = cpus();
  return [
    `machine: ${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`,
    `node ${process.version}; ${version('docker-registry', ['--version'])}; ${version('skopeo', ['--version'])}; load: ${version('sh', ['-c', 'wrk -v 2>&1 | head -1'])
      .replace(/ Copyright.*/, '')}, ${version('sh', ['-c', 'ab -V | head -1']).replace(/^This is ApacheBench, Version ([\d.]+).*/, 'ab $1')}`,
  ];
}

/** The 1-minute load average now, e.g. "0.12". */
export function loadAverage(): string {
  return loadavg()[0]!.toFixed(2);
}
