// Reading the path index: rows (value, doc id) in index order from the postings of each value.
// A value whose postings start with merged chunks (sorted, disjoint) is streamed chunk by chunk,
// either way, with the few postings written since applied on the way, so `limit` stops the
// reading early. A query's index scan is read here too, as places (scanRows).

import { compareStrings, scanBounds, type IndexScan } from '../query/index.ts';
import type { KvReader } from '../storage/index.ts';
import type { IndexPlace } from './find-bookmark.ts';
import { INDEX } from './keys.ts';
import { applyPosting, countEntries, isChunk, MERGE_THRESHOLD, resolvePostings, SEP, valueRange } from './postings.ts';

export interface PostingScanStats {
  /** Index entries read (ids in postings, removals included): CouchDB's keys examined. */
  keys: number;
}

type Rows = Array<[string, string]>;

/**
 * The postings written after a value's merged chunks, as an overlay on them: ids they name are
 * decided by them (`state`), the ones present are merged into the chunks' order (either way).
 */
class ChunkOverlay {
  private readonly added: string[] = [];
  /** The next overlay id to place: counting up, or down when descending. */
  private next: number;

  constructor(
    private readonly state: Map<string, boolean>,
    private readonly descending: boolean,
  ) {
    for (const [id, present] of state) if (present) this.added.push(id);
    this.added.sort(compareStrings);
    this.next = descending ? this.added.length - 1 : 0;
  }

  /** The ids of one chunk in scan order, with the overlay's ids that come before its last one. */
  chunk(value: string): string[] {
    const out: string[] = [];
    const entries = value.split(SEP);
    if (this.descending) entries.reverse();
    const added = this.added;
    for (const entry of entries) {
      const id = entry.slice(1);
      if (this.descending) while (this.next >= 0 && compareStrings(added[this.next]!, id) > 0) out.push(added[this.next--]!);
      else while (this.next < added.length && compareStrings(added[this.next]!, id) < 0) out.push(added[this.next++]!);
      if (!this.state.has(id)) out.push(id);
    }
    return out;
  }

  rest(): string[] {
    return this.descending ? this.added.slice(0, this.next + 1).reverse() : this.added.slice(this.next);
  }
}

/** The overlay of loose postings given in ascending group order. */
function overlayFrom(loose: readonly string[], descending: boolean): ChunkOverlay {
  const state = new Map<string, boolean>();
  for (const p of loose) applyPosting(p, state);
  return new ChunkOverlay(state, descending);
}

/** The postings after the merged chunks of a value (read backwards from its end), in group order. */
async function overlayOf(reader: KvReader, prefix: string, stats: PostingScanStats): Promise<{ overlay: ChunkOverlay; loose: number }> {
  const loose: string[] = [];
  outer: for await (const chunk of reader.scan({ ...valueRange(prefix), reverse: true }, 4)) {
    for (const [key, value] of chunk) {
      if (isChunk(key, prefix.length)) break outer;
      loose.push(value);
      stats.keys += countEntries(value);
    }
  }
  return { overlay: overlayFrom(loose.reverse(), false), loose: loose.length };
}

/**
 * Index rows `[encodedValue, docId]` of every value in `range` (bounds on whole values, in `i!`
 * keyspace), in (value, id) order or its reverse. `fragmented` hears of each value that had more
 * than MERGE_THRESHOLD postings besides merged chunks, so the owner can merge them.
 */
export async function* scanPostings(
  reader: KvReader,
  range: { gte: string; lt: string },
  descending: boolean,
  stats: PostingScanStats,
  fragmented?: (prefix: string) => void,
  rowsPerChunk = 512,
): AsyncGenerator<Rows> {
  let prefix: string | undefined;
  let enc = '';
  let postings: string[] = [];
  let loose = 0;
  let streaming: ChunkOverlay | undefined;
  const rows = function* (ids: string[]): Generator<Rows> {
    for (let i = 0; i < ids.length; i += rowsPerChunk) yield ids.slice(i, i + rowsPerChunk).map((id) => [enc, id] as [string, string]);
  };
  const finish = function* (): Generator<Rows> {
    if (prefix === undefined) return;
    if (loose > MERGE_THRESHOLD) fragmented?.(prefix);
    if (streaming) return yield* rows(streaming.rest());
    if (descending) postings.reverse();
    const ids = resolvePostings(postings);
    if (descending) ids.reverse();
    yield* rows(ids);
  };
  // Few postings per read: a merged chunk alone holds up to MERGED_CHUNK ids.
  for await (const chunk of reader.scan({ gte: range.gte, lt: range.lt, reverse: descending }, 16)) {
    for (const [key, value] of chunk) {
      const cut = key.lastIndexOf(SEP) + 1;
      if (prefix === undefined || prefix.length !== cut || !key.startsWith(prefix)) {
        yield* finish();
        prefix = key.slice(0, cut);
        enc = prefix.slice(prefix.indexOf(SEP) + 1, -1);
        postings = [];
        loose = 0;
        streaming = undefined;
        if (!descending && isChunk(key, cut)) ({ overlay: streaming, loose } = await overlayOf(reader, prefix, stats));
      }
      // Descending, a value's later postings come first: at its first chunk they become the overlay.
      if (descending && !streaming && isChunk(key, cut)) streaming = overlayFrom([...postings].reverse(), true);
      if (streaming) {
        // Postings after the chunks are in the overlay already.
        if (!isChunk(key, cut)) continue;
        stats.keys += countEntries(value);
        yield* rows(streaming.chunk(value));
        continue;
      }
      postings.push(value);
      if (!isChunk(key, cut)) loose++;
      stats.keys += countEntries(value);
    }
  }
  yield* finish();
}

/** Told of each index value a query found with many postings, so they get merged. */
export type Fragmented = (valuePrefix: string) => void;

/**
 * Index rows of a scan as places (its range's number, encoded value, doc id), in index order (an id
 * may recur on array paths), in chunks of rows of many values: a field whose values are each one
 * document's (a date, a counter) would otherwise give a chunk, and its reader a document read, per
 * row. Chunks grow from `firstChunk` rows to `rowsPerChunk`, so a reader that needs only a few rows
 * (a small limit) reads only a few more.
 */
export async function* scanRows(
  reader: KvReader,
  scan: IndexScan,
  descending: boolean,
  stats: { keys: number },
  fragmented: Fragmented | undefined,
  rowsPerChunk: number,
  firstChunk = rowsPerChunk,
): AsyncGenerator<IndexPlace[]> {
  const bounds = scanBounds(scan).map((b, section) => ({ ...b, section }));
  if (descending) bounds.reverse();
  let want = Math.max(1, Math.min(firstChunk, rowsPerChunk));
  let out: IndexPlace[] = [];
  for (const b of bounds) {
    for await (const rows of scanPostings(reader, { gte: INDEX + b.gte, lt: INDEX + b.lt }, descending, stats, fragmented, rowsPerChunk)) {
      for (const [enc, id] of rows) out.push([b.section, enc, id]);
      if (out.length < want) continue;
      yield out;
      out = [];
      want = Math.min(want * 2, rowsPerChunk);
    }
  }
  if (out.length > 0) yield out;
}
