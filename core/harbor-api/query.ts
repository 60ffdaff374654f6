import { badRequest } from './errors.js';

// Harbor's `q` parameter, the subset list endpoints need: exact `k=v`, fuzzy `k=~v`, range `k=[min~max]` and
// union `k={v1 v2}`, intersection `k=(v1 v2)`, comma-separated (swagger: parameters.query; lib/q/builder.go). Values may be quoted.

export type QueryTerm =
  | { key: string; kind: 'exact'; value: string }
  | { key: string; kind: 'fuzzy'; value: string }
  | { key: string; kind: 'range'; min?: string; max?: string }
  | { key: string; kind: 'union'; values: string[] }
  | { key: string; kind: 'intersection'; values: string[] };

export type FieldType = 'string' | 'number' | 'boolean' | 'time';

type FieldValue = string | number | boolean;

/** The fields a list can be queried by: q key (case-insensitive) → how to read it from a document. A field may
 *  hold several values (an artifact's tags): a term then matches when one of them does, an intersection when
 *  every value it names is among them. */
export type QueryFields<T> = Record<string, { type: FieldType; get: (doc: T) => FieldValue | FieldValue[] }>;

export function parseQuery(q: string | undefined): QueryTerm[] {
  if (q === undefined || q.trim() === '') return [];
  const terms: QueryTerm[] = [];
  for (const part of splitTopLevel(unescapeOnce(q))) {
    const i = part.indexOf('=');
    if (i <= 0) throw badRequest(`invalid query term "${part.slice(0, 100)}": expected key=value`);
    const key = part.slice(0, i).trim();
    const raw = part.slice(i + 1).trim();
    const closer = { '(': ')', '[': ']', '{': '}' }[raw[0] ?? ''];
    if (closer && !raw.endsWith(closer)) throw badRequest(`invalid query term "${part.slice(0, 100)}": ${raw[0]} without ${closer}`);
    if (raw.startsWith('~')) terms.push({ key, kind: 'fuzzy', value: unquote(raw.slice(1)) });
    else if (raw.startsWith('[') && raw.endsWith(']')) {
      const inner = raw.slice(1, -1);
      const t = inner.indexOf('~');
      if (t < 0) throw badRequest(`invalid range for ${key}: expected [min~max]`);
      const min = unquote(inner.slice(0, t).trim());
      const max = unquote(inner.slice(t + 1).trim());
      terms.push({ key, kind: 'range', ...(min !== '' && { min }), ...(max !== '' && { max }) });
    } else if (raw.startsWith('{') && raw.endsWith('}')) {
      terms.push({ key, kind: 'union', values: raw.slice(1, -1).split(/\s+/).filter(Boolean).map(unquote) });
    } else if (raw.startsWith('(') && raw.endsWith(')')) {
      terms.push({ key, kind: 'intersection', values: raw.slice(1, -1).split(/\s+/).filter(Boolean).map(unquote) });
    } else terms.push({ key, kind: 'exact', value: unquote(raw) });
  }
  return terms;
}

/** Checks every term names a known field; answers 400 naming the ones that may be used. */
export function checkTerms<T>(terms: QueryTerm[], fields: QueryFields<T>): void {
  const known = Object.keys(fields);
  for (const t of terms) {
    if (!fieldOf(fields, t.key)) throw badRequest(`cannot query by "${t.key.slice(0, 100)}"; supported: ${known.join(', ')}`);
  }
}

export function matches<T>(doc: T, terms: QueryTerm[], fields: QueryFields<T>): boolean {
  return terms.every((t) => {
    const field = fieldOf(fields, t.key)!;
    const got = field.get(doc);
    const values = Array.isArray(got) ? got : [got];
    if (t.kind === 'intersection') return t.values.every((x) => values.some((v) => same(field.type, v, x)));
    return values.some((v) => matchesValue(field.type, v, t));
  });
}

function matchesValue(type: FieldType, v: FieldValue, t: Exclude<QueryTerm, { kind: 'intersection' }>): boolean {
  switch (t.kind) {
    case 'exact':
      return same(type, v, t.value);
    case 'fuzzy':
      return String(v).toLowerCase().includes(t.value.toLowerCase());
    case 'union':
      return t.values.some((x) => same(type, v, x));
    case 'range': {
      const n = comparable(type, v);
      return (t.min === undefined || n >= comparable(type, t.min)) && (t.max === undefined || n <= comparable(type, t.max));
    }
  }
}

function fieldOf<T>(fields: QueryFields<T>, key: string) {
  const k = key.toLowerCase();
  const name = Object.keys(fields).find((f) => f.toLowerCase() === k);
  return name === undefined ? undefined : fields[name];
}

function same(type: FieldType, v: FieldValue, wanted: string): boolean {
  if (type === 'boolean') return String(v) === wanted.toLowerCase();
  if (type === 'number') return Number(v) === Number(wanted);
  return String(v) === wanted;
}

function comparable(type: FieldType, v: FieldValue): number | string {
  if (type === 'number') return Number(v);
  if (type === 'time') {
    const s = String(v);
    // Harbor writes times as "2020-04-09 02:36:00" (UTC); ISO strings work too.
    const iso = s.includes('T') ? s : s.replace(' ', 'T');
    const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
    if (Number.isNaN(t)) throw badRequest(`invalid time "${s.slice(0, 40)}"`);
    return t;
  }
  return String(v);
}

function unquote(s: string): string {
  return s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) ? s.slice(1, -1) : s;
}

/** Splits at commas outside brackets and quotes. */
function splitTopLevel(q: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(q.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(q.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/**
 * Harbor unescapes q once more before it splits it (lib/q/builder.go parseKeywords), and clients count on it:
 * harbor-cli sends `Level%3Dproject%2CProjectID%3D5` inside q. Unlike Go's QueryUnescape a `+` stays a `+` (robot
 * names hold one); a q that is not valid percent-encoding is read as it is, as Harbor does.
 */
function unescapeOnce(q: string): string {
  if (!q.includes('%')) return q;
  try {
    return decodeURIComponent(q);
  } catch {
    return q;
  }
}
