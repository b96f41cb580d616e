// `allDocs`: documents in id order from the record keyspace, read in chunks that are handed on as
// they come, so a listing never holds more than one chunk of records in memory at a time.

import { RefugeError } from '../errors/index.ts';
import type { KvRange, KvReader } from '../storage/index.ts';
import { decodeHead, decodeRecord, decodeWinnerDoc } from './doc-record.ts';
import { DOC, docKey } from './keys.ts';
import { buildDoc } from './reads.ts';
import type { AllDocsOptions, AllDocsRow, Doc } from './types.ts';
import { checkBooleanOptions } from './validate.ts';

export function checkAllDocsOptions(o: AllDocsOptions): void {
  checkBooleanOptions(o, ['inclusiveEnd', 'descending', 'includeDocs', 'conflicts', 'attachments']);
  for (const k of ['startkey', 'endkey', 'key'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new RefugeError('bad_request', `${k} must be a string`);
  }
  if (o.keys !== undefined && (!Array.isArray(o.keys) || !o.keys.every((k) => typeof k === 'string'))) {
    throw new RefugeError('bad_request', '`keys` must be an array of strings');
  }
  // As CouchDB: listed keys and a key range do not mix (an empty list of keys asks for nothing).
  if (o.keys !== undefined && o.keys.length > 0 && (o.key !== undefined || o.startkey !== undefined || o.endkey !== undefined)) {
    throw new RefugeError('query_parse_error', '`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  for (const k of ['limit', 'skip'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw new RefugeError('bad_request', `${k} must be a non-negative integer`);
    }
  }
}

/** The key range of a listing over one keyspace (`d!` documents by default, `l!` local ones). */
export function idRange(o: AllDocsOptions, prefix = DOC): KvRange {
  const inclusiveEnd = o.inclusiveEnd !== false;
  const lo = o.descending ? o.endkey : o.startkey;
  const hi = o.descending ? o.startkey : o.endkey;
  const range: KvRange = { reverse: o.descending === true };
  range.gte = lo === undefined ? prefix : prefix + lo;
  // '"' follows '!': the end of the keyspace.
  if (hi === undefined) range.lt = prefix.slice(0, -1) + '"';
  else if (inclusiveEnd || o.descending) range.lte = prefix + hi;
  else range.lt = prefix + hi;
  // CouchDB applies inclusive_end to endkey whichever the direction.
  if (o.descending && !inclusiveEnd && lo !== undefined) {
    delete range.gte;
    range.gt = prefix + lo;
  }
  return range;
}

/**
 * The keys a listing by `keys` answers, a row each, found or not: skip and limit take a slice of
 * the keys, which CouchDB first reverses when descending.
 */
export function keysAnswered(keys: readonly string[], o: AllDocsOptions): readonly string[] {
  const skip = o.skip ?? 0;
  const ordered = o.descending ? [...keys].reverse() : keys;
  return ordered.slice(skip, skip + (o.limit ?? Infinity));
}

/** The winning document of a live record; the tree is decoded only when conflicts are asked for. */
function docOf(id: string, rev: string, raw: string, o: AllDocsOptions): Doc {
  if (!o.conflicts) return decodeWinnerDoc(id, rev, raw) as Doc;
  const rec = decodeRecord(id, raw);
  return buildDoc(rec, rec.rev, rec.body, { conflicts: true });
}

/**
 * The id whose preceding documents count towards `offset`: CouchDB's offset is the number of rows
 * before the first one returned, in the listing's direction.
 */
export function offsetKey(o: AllDocsOptions): string | undefined {
  return o.keys === undefined && o.offset !== false ? (o.key ?? o.startkey) : undefined;
}

/** Rows read from storage at once: a listing holds about this many in memory, never the whole answer. */
const CHUNK = 512;

/**
 * The rows of a listing from `reader` (a snapshot its caller holds), chunk by chunk as storage
 * gives them; a chunk may be empty (all skipped, deleted or past the limit), so a consumer gets a
 * turn at every read. `progress.skipped` counts the rows skipped (CouchDB's offset, less the
 * documents before the start key): final once a chunk with rows has come, or the chunks ended.
 */
export async function* allDocsChunks(reader: KvReader, o: AllDocsOptions, progress: { skipped: number }): AsyncGenerator<AllDocsRow[], void, undefined> {
  checkAllDocsOptions(o);
  const skip = o.skip ?? 0;
  const limit = o.limit ?? Infinity;
  if (o.keys !== undefined) {
    const wanted = keysAnswered(o.keys, o);
    progress.skipped = skip;
    for (let i = 0; i < wanted.length; i += CHUNK) {
      const keys = wanted.slice(i, i + CHUNK);
      const values = await reader.getMany(keys.map(docKey));
      yield keys.map((key, k) => keyRow(key, values[k], o));
    }
    return;
  }
  if (o.key !== undefined) {
    // A single key answers a live document only (no not_found or deleted row).
    const [value] = await reader.getMany([docKey(o.key)]);
    const row = value === undefined || decodeHead(value).deleted ? undefined : keyRow(o.key, value, o);
    const rows = row ? [row] : [];
    progress.skipped = Math.min(skip, rows.length);
    yield rows.slice(skip, skip + limit);
    return;
  }
  if (limit === 0 && skip === 0) return;
  let given = 0;
  // No more entries at once than a small page needs (deleted ones, when any, take further chunks).
  for await (const chunk of reader.scan(idRange(o), Math.min(CHUNK, skip + limit))) {
    const rows: AllDocsRow[] = [];
    let done = false;
    for (const [key, v] of chunk) {
      const head = decodeHead(v);
      if (head.deleted) continue;
      if (progress.skipped < skip) {
        progress.skipped++;
        continue;
      }
      // `limit: 0` with a skip still counts the rows it passes over: no more than the range holds.
      done = given >= limit;
      if (done) break;
      const id = key.slice(DOC.length);
      const row: AllDocsRow = { id, key: id, value: { rev: head.rev } };
      if (o.includeDocs) row.doc = docOf(id, head.rev, v, o);
      rows.push(row);
      done = ++given >= limit;
      if (done) break;
    }
    yield rows;
    if (done) return;
  }
}

/** The row of a key asked for by name: not_found, deleted (with a null doc when docs are asked) or live. */
function keyRow(key: string, value: string | undefined, o: AllDocsOptions): AllDocsRow {
  if (value === undefined) return { key, error: 'not_found' };
  const head = decodeHead(value);
  if (head.deleted) return { id: key, key, value: { rev: head.rev, deleted: true }, ...(o.includeDocs ? { doc: null } : {}) };
  const row: AllDocsRow = { id: key, key, value: { rev: head.rev } };
  if (o.includeDocs) row.doc = docOf(key, head.rev, value, o);
  return row;
}
