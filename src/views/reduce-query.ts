// Reduce queries: rows stream in key order and are grouped by their group-level key's encoding;
// each group reduces in chunks of at most 1000 rows, then rereduces the partial results. Whole
// blocks of rows (row-blocks.ts) inside the range and inside one group contribute their cached
// reduction instead of their rows, so a full reduce over a big view rereduces a few hundred block
// reductions after the first query instead of rescanning every row.

import { RefugeError, isRefugeError } from '../errors/index.ts';
import { compareStrings } from '../query/index.ts';
import type { ReduceRow } from './builtin-reduce.ts';
import { groupEncoded, groupKey } from './key-codec.ts';
import { isEmpty, rangesFor, type ScanRange } from './key-range.ts';
import { parseRowSuffix } from './layout.ts';
import type { ViewReadContext } from './map-query.ts';
import type { QueryPlan } from './query-options.ts';

export const REDUCE_CHUNK = 1000;

/** A reduced row, or CouchDB's error row for a reduction that grew too fast. */
export type ReduceRowOut = { key: unknown; value: unknown } | { key: unknown; error: 'reduce_overflow_error'; reason: string };

export interface ReduceResult {
  rows: ReduceRowOut[];
  update_seq?: number;
}

/**
 * CouchDB's reduce_limit: a JavaScript reduce whose output is over 4096 bytes of JSON and more than
 * half its input does not reduce; its reduction becomes `{reduce_overflow_error: reason}` (CouchDB's
 * own shape), which every rereduce over it passes on, and the query answers an error row for it.
 */
export const OVERFLOW_LIMIT = 4096;

export function overflowed(output: unknown, input: () => unknown): unknown {
  const outLength = (JSON.stringify(output) ?? 'null').length;
  if (outLength <= OVERFLOW_LIMIT) return output;
  const inLength = (JSON.stringify(input()) ?? 'null').length;
  if (outLength * 2 <= inLength) return output;
  return { reduce_overflow_error: `Reduce output must shrink more rapidly: input size: ${inLength} output size: ${outLength}` };
}

export function overflowReason(reduction: unknown): string | undefined {
  if (reduction === null || typeof reduction !== 'object' || Array.isArray(reduction)) return undefined;
  const keys = Object.keys(reduction);
  const reason = (reduction as { reduce_overflow_error?: unknown }).reduce_overflow_error;
  return keys.length === 1 && typeof reason === 'string' ? reason : undefined;
}

/** The reduce a query runs, possibly async (a JavaScript reduce runs in the sandbox). */
export interface AsyncReducer {
  reduce(rows: readonly ReduceRow[]): unknown;
  rereduce(reductions: readonly unknown[]): unknown;
  finalize(reduction: unknown): unknown;
  /** reduce() of many groups' rows at once, where one call costs far more than its work (a sandbox crossing). */
  reduceMany?(groups: ReadonlyArray<readonly ReduceRow[]>): Promise<unknown[]>;
}

/** Groups whose reduction waits to be computed with others' (see GroupFold.flush). */
const DEFERRED_GROUPS = 256;

interface DeferredGroup {
  key: unknown;
  rows: ReduceRow[];
  skipped: boolean;
}

class Done extends Error {}

/** Folds rows and block reductions into one output row per group. */
class GroupFold {
  private enc: string | undefined;
  private key: unknown;
  private reds: unknown[] = [];
  private rows: ReduceRow[] = [];
  private skip: number;
  private deferred: DeferredGroup[] = [];
  private deferredShown = 0;
  /** Rows shown so far, whether still in `out` or taken from it by a streamed answer. */
  private shown = 0;
  readonly out: ReduceRowOut[] = [];

  constructor(
    private readonly reducer: AsyncReducer,
    private readonly plan: QueryPlan,
  ) {
    this.skip = plan.skip;
  }

  async row(row: ReduceRow, genc: string): Promise<void> {
    if (genc !== this.enc) await this.start(genc, groupKey(row.key, this.plan.groupLevel));
    this.rows.push(row);
    if (this.rows.length >= REDUCE_CHUNK) {
      this.reds.push(await reduceSafely(() => this.reducer.reduce(this.rows)));
      this.rows = [];
    }
  }

  async reduction(red: unknown, genc: string, key: unknown): Promise<void> {
    if (genc !== this.enc) await this.start(genc, key);
    this.reds.push(red);
  }

  private async start(genc: string, key: unknown): Promise<void> {
    await this.flush();
    this.enc = genc;
    this.key = key;
  }

  /**
   * Ends the group in progress. A group of rows alone, with a reducer that takes many groups at
   * once, waits for others (up to DEFERRED_GROUPS, or as many as the limit still shows): group=true
   * over thousands of keys crosses into the sandbox a few times, not once per key.
   */
  async flush(): Promise<void> {
    if (this.enc === undefined) return;
    const skipped = this.skip > 0;
    if (skipped) this.skip--;
    const key = this.plan.groupLevel === 0 ? null : this.key;
    if (this.reducer.reduceMany !== undefined && this.reds.length === 0 && this.rows.length > 0) {
      this.deferred.push({ key, rows: this.rows, skipped });
      if (!skipped) this.deferredShown++;
      this.enc = undefined;
      this.rows = [];
      if (this.deferred.length >= DEFERRED_GROUPS || this.shown + this.deferredShown >= this.plan.limit) await this.settle();
    } else {
      // In order: the groups waiting go first.
      await this.settle();
      if (this.rows.length > 0) this.reds.push(await reduceSafely(() => this.reducer.reduce(this.rows)));
      const red = this.reds.length === 1 ? this.reds[0] : await reduceSafely(() => this.reducer.rereduce(this.reds));
      this.enc = undefined;
      this.reds = [];
      this.rows = [];
      if (!skipped) await this.show(key, red);
    }
    if (this.shown >= this.plan.limit) throw new Done();
  }

  /** Computes the groups waiting in flush, in one call. */
  async settle(): Promise<void> {
    if (this.deferred.length === 0) return;
    const groups = this.deferred;
    this.deferred = [];
    this.deferredShown = 0;
    const reds = (await reduceSafely(() => this.reducer.reduceMany!(groups.map((g) => g.rows)))) as unknown[];
    for (let i = 0; i < groups.length; i++) if (!groups[i]!.skipped) await this.show(groups[i]!.key, reds[i]);
  }

  private async show(key: unknown, red: unknown): Promise<void> {
    const overflow = overflowReason(red);
    this.out.push(overflow === undefined ? { key, value: await this.reducer.finalize(red) } : { key, error: 'reduce_overflow_error', reason: overflow });
    this.shown++;
  }
}

async function reduceSafely(fn: () => unknown): Promise<unknown> {
  try {
    return await fn();
  } catch (err) {
    if (isRefugeError(err)) throw err;
    throw new RefugeError('reduce_error', err instanceof Error ? err.message : String(err), { cause: err });
  }
}

export async function reduceQuery(ctx: ViewReadContext, plan: QueryPlan, reducer: AsyncReducer): Promise<ReduceResult> {
  const fold = new GroupFold(reducer, plan);
  if (plan.limit === 0) return { rows: [] };
  try {
    for (const range of rangesFor(plan, ctx.prefix, ctx.end)) {
      if (!isEmpty(range)) await readRange(ctx, plan, reducer, fold, range);
      // Each of `keys` is its own group, even when the same key is asked twice.
      if (plan.keys) await fold.flush();
    }
    await fold.flush();
    await fold.settle();
  } catch (err) {
    if (!(err instanceof Done)) throw err;
  }
  return { rows: fold.out.slice(0, plan.limit) };
}

/**
 * A grouped answer (no `keys`) chunk by chunk from `ctx.store`, a snapshot: every row is read and
 * folded in order. The row blocks are not used: they follow the live index, not the snapshot. That
 * costs nothing to group=true (a block's reduction never spans one exact group) and little to a
 * group level with as many groups as a streamed answer has (a block seldom lies in one group).
 */
export async function* groupChunks(ctx: ViewReadContext, plan: QueryPlan, reducer: AsyncReducer): AsyncGenerator<ReduceRowOut[], void, undefined> {
  let left = plan.limit;
  const fold = new GroupFold(reducer, plan);
  const taken = () => {
    const rows = fold.out.splice(0, fold.out.length).slice(0, left);
    left -= rows.length;
    return rows;
  };
  const cut = ctx.prefix.length;
  try {
    for (const range of rangesFor(plan, ctx.prefix, ctx.end)) {
      if (isEmpty(range)) continue;
      for await (const entries of ctx.store.scan({ ...range, reverse: plan.descending }, 512)) {
        for (const [k, v] of entries) {
          const row = toRow(k.slice(cut), v);
          await fold.row(row, groupOf(row.enc, plan.groupLevel));
        }
        if (fold.out.length > 0) yield taken();
        if (left <= 0) return;
      }
    }
    await fold.flush();
    await fold.settle();
  } catch (err) {
    if (!(err instanceof Done)) throw err;
  }
  if (fold.out.length > 0 && left > 0) yield taken();
}

async function readRange(ctx: ViewReadContext, plan: QueryPlan, reducer: AsyncReducer, fold: GroupFold, range: ScanRange): Promise<void> {
  if (plan.keys) return readRows(ctx, plan, fold, range);
  const blocks = await ctx.blocks();
  const cut = ctx.prefix.length;
  const first = blocks.locate(range.gte.slice(cut));
  const last = compareStrings(range.lt, ctx.end) >= 0 ? blocks.length - 1 : blocks.locate(range.lt.slice(cut));
  const level = plan.groupLevel;
  for (let n = 0; n <= last - first; n++) {
    const i = plan.descending ? last - n : first + n;
    const whole = blocks.rangeOf(i);
    const part = {
      gte: compareStrings(whole.gte, range.gte) > 0 ? whole.gte : range.gte,
      lt: compareStrings(whole.lt, range.lt) < 0 ? whole.lt : range.lt,
    };
    if (compareStrings(part.gte, part.lt) >= 0 || blocks.count(i) === 0) continue;
    const inside = part.gte === whole.gte && part.lt === whole.lt;
    if (inside && level !== 'exact') {
      let cached = blocks.reduction(i);
      if (cached === undefined) {
        const rows = await collectRows(ctx, whole, false);
        if (rows.length === 0) continue;
        cached = {
          red: await reduceSafely(() => reducer.reduce(rows)),
          firstEnc: rows[0]!.enc,
          lastEnc: rows[rows.length - 1]!.enc,
          firstKey: rows[0]!.key,
        };
        blocks.setReduction(i, cached);
      }
      const genc = groupOf(cached.firstEnc, level);
      if (genc === groupOf(cached.lastEnc, level)) {
        await fold.reduction(cached.red, genc, groupKey(cached.firstKey, level));
        continue;
      }
    }
    await readRows(ctx, plan, fold, part);
  }
}

async function readRows(ctx: ViewReadContext, plan: QueryPlan, fold: GroupFold, range: ScanRange): Promise<void> {
  const cut = ctx.prefix.length;
  for await (const entries of ctx.store.scan({ ...range, reverse: plan.descending }, 512)) {
    for (const [k, v] of entries) {
      const row = toRow(k.slice(cut), v);
      await fold.row(row, groupOf(row.enc, plan.groupLevel));
    }
  }
}

async function collectRows(ctx: ViewReadContext, range: ScanRange, reverse: boolean): Promise<ReduceRow[]> {
  const cut = ctx.prefix.length;
  const rows: ReduceRow[] = [];
  for await (const entries of ctx.store.scan({ ...range, reverse }, 512)) for (const [k, v] of entries) rows.push(toRow(k.slice(cut), v));
  return rows;
}

/** Level 0 puts every row in one group. */
const groupOf = (enc: string, level: number | 'exact'): string => (level === 0 ? '' : groupEncoded(enc, level));

function toRow(suffix: string, json: string): ReduceRow {
  const { enc, id } = parseRowSuffix(suffix);
  const [key, value] = JSON.parse(json) as [unknown, unknown];
  return { key, enc, id, value };
}
