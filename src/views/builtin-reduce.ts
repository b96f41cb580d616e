// CouchDB's built-in reduce functions with its exact semantics (couch_query_servers.erl): _count,
// _sum (numbers, arrays element-wise, nested objects; a bad value makes the reduction an inline
// {"error":"builtin_reduce_error",...} object, as CouchDB 3 does), _stats (throws on bad input) and
// _approx_count_distinct (HyperLogLog over the keys). CouchDB also matches them by prefix ("_sum2").

import { RefugeError } from '../errors/index.ts';
import { HyperLogLog } from './hll.ts';

export const SUM_ERROR =
  'The _sum function requires that map values be numbers, arrays of numbers, or objects. Objects cannot be mixed with ' +
  'other data structures. Objects can be arbitrarily nested, provided that the values for all fields are themselves ' +
  'numbers, arrays of numbers, or objects.';

/** One mapped row as a reduce sees it: the key, its encoding, the doc id and the value. */
export interface ReduceRow {
  key: unknown;
  enc: string;
  id: string;
  value: unknown;
}

/** A reduce function: first over rows, then over its own partial results (rereduce). */
export interface Reducer {
  reduce(rows: readonly ReduceRow[]): unknown;
  rereduce(reductions: readonly unknown[]): unknown;
  /** The reduction as a query returns it. */
  finalize(reduction: unknown): unknown;
}

export type BuiltinName = '_count' | '_sum' | '_stats' | '_approx_count_distinct';

/** The builtin a reduce source names (CouchDB matches by prefix), or undefined for JS source. */
export function builtinName(source: string): BuiltinName | undefined {
  if (!source.startsWith('_')) return undefined;
  for (const name of ['_count', '_sum', '_stats', '_approx_count_distinct'] as const) if (source.startsWith(name)) return name;
  throw new RefugeError('invalid_design_doc', `\`${source}\` is not a supported reduce function.`);
}

export function builtinReducer(name: BuiltinName): Reducer {
  switch (name) {
    case '_count':
      return { reduce: (rows) => rows.length, rereduce: sumRows, finalize: copy };
    case '_sum':
      return { reduce: (rows) => sumRows(rows.map((r) => r.value)), rereduce: sumRows, finalize: copy };
    case '_stats':
      return { reduce: (rows) => stats(rows.map((r) => r.value)), rereduce: stats, finalize: packStats };
    case '_approx_count_distinct':
      return {
        reduce: (rows) => {
          const h = new HyperLogLog();
          for (const r of rows) h.add(r.enc);
          return h;
        },
        rereduce: (reds) => reds.reduce<HyperLogLog>((acc, h) => acc.merge(h as HyperLogLog), new HyperLogLog()),
        finalize: (h) => Math.round((h as HyperLogLog).estimate()),
      };
  }
}

// Reductions may be cached (row blocks): what a query returns must not be the cached object itself.
export const copy = (v: unknown): unknown => (typeof v === 'object' && v !== null ? structuredClone(v) : v);

// ---- _sum ----

class SumError {
  constructor(readonly value: Record<string, unknown>) {}
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** builtin_sum_rows: folds sum_values from 0; an error stops the fold and becomes the result. */
export function sumRows(values: readonly unknown[]): unknown {
  let acc: unknown = 0;
  try {
    for (const v of values) acc = sumValues(v, acc);
    return acc;
  } catch (err) {
    if (err instanceof SumError) return err.value;
    throw err;
  }
}

function sumError(cause: unknown): SumError {
  return new SumError({ error: 'builtin_reduce_error', reason: SUM_ERROR, caused_by: cause });
}

function sumValues(value: unknown, acc: unknown): unknown {
  if (typeof value === 'number') {
    if (typeof acc === 'number') return acc + value;
    if (Array.isArray(acc)) return sumArrays(acc, [value]);
  } else if (Array.isArray(value)) {
    if (Array.isArray(acc)) return sumArrays(acc, value);
    if (typeof acc === 'number') return sumArrays([acc], value);
  } else if (isObj(value)) {
    // An error object from an earlier reduction travels up unchanged.
    if (value.error === 'builtin_reduce_error') throw new SumError(value);
    if (acc === 0) return value;
    if (isObj(acc)) return sumObjects(value, acc);
    throw sumError(value); // CouchDB crashes (case_clause) here; an error value is kinder
  }
  throw sumError(value);
}

function sumArrays(xs: readonly unknown[], ys: readonly unknown[]): unknown[] {
  if (xs.length === 0) return [...ys];
  if (ys.length === 0) return [...xs];
  const out: unknown[] = [];
  const n = Math.max(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    if (i >= xs.length) out.push(ys[i]);
    else if (i >= ys.length) out.push(xs[i]);
    else if (typeof xs[i] === 'number' && typeof ys[i] === 'number') out.push((xs[i] as number) + (ys[i] as number));
    else throw sumError(xs.slice(i));
  }
  return out;
}

// Keys sorted as Erlang sorts binaries (code units of UTF-8, i.e. code points for our purposes).
function sumObjects(a: Obj, b: Obj): Obj {
  const out: Obj = {};
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) out[k] = a[k];
    else if (!Object.hasOwn(a, k)) out[k] = b[k];
    else out[k] = sumValues(a[k], b[k]);
  }
  return out;
}

// ---- _stats ----

/** An unpacked _stats accumulator ({Sum, Cnt, Min, Max, Sqr} in CouchDB). */
class Stats {
  constructor(
    readonly sum: number,
    readonly count: number,
    readonly min: number,
    readonly max: number,
    readonly sumsqr: number,
  ) {}
  static of(x: number): Stats {
    return new Stats(x, 1, x, x, x * x);
  }
  plus(o: Stats): Stats {
    return new Stats(this.sum + o.sum, this.count + o.count, Math.min(this.min, o.min), Math.max(this.max, o.max), this.sumsqr + o.sumsqr);
  }
}

type StatsAcc = Stats | StatsAcc[];

const show = (v: unknown): string => (v instanceof Stats ? JSON.stringify({ ...v }) : JSON.stringify(v) ?? String(v));

function statsError(reason: string): RefugeError {
  // CouchDB throws {invalid_value, Reason} from its _stats reducer.
  return new RefugeError('invalid_value', reason);
}

function stats(values: readonly unknown[]): unknown {
  if (values.length === 0) return new Stats(0, 0, 0, 0, 0);
  let acc = initial(values[0]);
  for (let i = 1; i < values.length; i++) acc = statValues(values[i], acc);
  return acc;
}

function initial(v: unknown): StatsAcc {
  if (Array.isArray(v)) return v.map(initial);
  if (typeof v === 'number') return Stats.of(v);
  if (v instanceof Stats) return v;
  if (isObj(v)) return unpack(v);
  throw statsError(`non-numeric _stats input: ${show(v)}`);
}

function statValues(value: unknown, acc: StatsAcc): StatsAcc {
  if (Array.isArray(value) && Array.isArray(acc)) {
    if (value.length !== acc.length) throw statsError(`The _stats function requires arrays of the same length, got ${show(value)}`);
    return value.map((v, i) => statValues(v, acc[i]!));
  }
  if (isObj(value) && !(value instanceof Stats)) return statValues(unpack(value), acc);
  if (typeof value === 'number') return statValues(Stats.of(value), acc);
  if (value instanceof Stats && acc instanceof Stats) return value.plus(acc);
  throw statsError(`The _stats function requires that map values be numbers or arrays of numbers, not '${show(value)}'`);
}

function unpack(o: Obj): Stats {
  const get = (k: string): number => {
    const v = o[k];
    if (typeof v === 'number') return v;
    if (v === undefined) throw statsError(`user _stats input missing required field ${k} (${show(o)})`);
    throw statsError(`non-numeric _stats input received for ${k}: ${show(v)}`);
  };
  return new Stats(get('sum'), get('count'), get('min'), get('max'), get('sumsqr'));
}

function packStats(acc: unknown): unknown {
  if (acc instanceof Stats) return { sum: acc.sum, count: acc.count, min: acc.min, max: acc.max, sumsqr: acc.sumsqr };
  if (Array.isArray(acc)) return acc.map(packStats);
  return acc;
}
