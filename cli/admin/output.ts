import Table from 'cli-table3';
import pc from 'picocolors';

// How results reach the terminal: JSON for scripts (--json), a table or `key: value` lines for people.

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

export interface Output {
  json: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A list: the raw API objects with --json, otherwise the chosen columns. */
export function printList<T>(out: Output, rows: T[], columns: Column<T>[]): void {
  if (out.json) return printJson(rows);
  if (rows.length === 0) {
    process.stdout.write(pc.dim('(none)') + '\n');
    return;
  }
  const table = new Table({ head: columns.map((c) => pc.bold(c.header)), style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
  process.stdout.write(table.toString() + '\n');
}

/** One object: --json as is, otherwise aligned `key: value` lines of the chosen fields. */
export function printObject<T>(out: Output, value: T, columns: Column<T>[]): void {
  if (out.json) return printJson(value);
  const width = Math.max(...columns.map((c) => c.header.length));
  for (const c of columns) process.stdout.write(`${pc.bold(c.header.padEnd(width))}  ${cell(c.value(value))}\n`);
}

/** A one-line confirmation for people; scripts get `{"ok":true,…}` with --json. */
export function printDone(out: Output, message: string, extra: Record<string, unknown> = {}): void {
  if (out.json) return printJson({ ok: true, ...extra });
  process.stdout.write(`${pc.green('✔')} ${message}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.map(cell).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** 1536 → "1.5 KiB". */
export function bytes(n: unknown): string {
  const v = Number(n);
  if (!Number.isFinite(v)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${x.toFixed(1)} ${units[i]}`;
}

/** An ISO time without milliseconds, or nothing. */
export function when(t: unknown): string {
  if (typeof t !== 'string' || t === '' || t.startsWith('0001-')) return '';
  return t.replace(/\.\d+Z$/, 'Z').replace('T', ' ');
}

export function colourStatus(s: unknown): string {
  const v = String(s ?? '');
  if (/^(Succeed|Success|healthy|SUCCESS)$/i.test(v)) return pc.green(v);
  if (/^(Failed|Error|unhealthy|ERROR)$/i.test(v)) return pc.red(v);
  if (/^(InProgress|Running|Pending|RUNNING|PENDING)$/i.test(v)) return pc.yellow(v);
  return v;
}
