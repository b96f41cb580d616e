// `allDocs`: documents in id order from the record keyspace, streamed in chunks so a large
// listing never holds more than one chunk of records in memory at a time.

import { RefugeError } from '../errors/index.ts';
import type { KvRange, KvReader } from '../storage/index.ts';
import { decodeHead, decodeRecord, decodeWinnerDoc } from './doc-record.ts';
import { DOC, docKey } from './keys.ts';
import { buildDoc } from './reads.ts';
import type { AllDocsOptions, AllDocsResult, AllDocsRow, Doc } from './types.ts';
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

export async function allDocs(
  reader: KvReader,
  o: AllDocsOptions,
  ctx: { docCount: number },
): Promise<Omit<AllDocsResult, 'updateSeq'>> {
  checkAllDocsOptions(o);
  const skip = o.skip ?? 0;
  const limit = o.limit ?? Infinity;
  const rows: AllDocsRow[] = [];

  if (o.keys !== undefined || o.key !== undefined) {
    const keys = o.keys ?? [o.key!];
    // CouchDB answers `keys` with descending in reverse key order, then skips and limits.
    const ordered = o.descending ? [...keys].reverse() : keys;
    const values = await reader.getMany(ordered.map(docKey));
    ordered.forEach((key, i) => {
      const v = values[i];
      if (v === undefined) {
        if (o.keys) rows.push({ key, error: 'not_found' });
        return;
      }
      const head = decodeHead(v);
      if (head.deleted) {
        if (o.keys) rows.push({ id: key, key, value: { rev: head.rev, deleted: true }, ...(o.includeDocs ? { doc: null } : {}) });
        return;
      }
      const row: AllDocsRow = { id: key, key, value: { rev: head.rev } };
      if (o.includeDocs) row.doc = docOf(key, head.rev, v, o);
      rows.push(row);
    });
    // `offset` counts the rows skipped; the caller adds those before `key` (CouchDB's meaning).
    return { totalRows: ctx.docCount, offset: o.keys ? skip : Math.min(skip, rows.length), rows: rows.slice(skip, skip + limit) };
  }

  if (limit === 0 && skip === 0) return { totalRows: ctx.docCount, offset: 0, rows };
  let skipped = 0;
  outer: for await (const chunk of reader.scan(idRange(o), 512)) {
    for (const [key, v] of chunk) {
      const head = decodeHead(v);
      if (head.deleted) continue;
      if (skipped < skip) {
        skipped++;
        continue;
      }
      // `limit: 0` with a skip still counts the rows it passes over: no more than the range holds.
      if (rows.length >= limit) break outer;
      const id = key.slice(DOC.length);
      const row: AllDocsRow = { id, key: id, value: { rev: head.rev } };
      if (o.includeDocs) row.doc = docOf(id, head.rev, v, o);
      rows.push(row);
      if (rows.length >= limit) break outer;
    }
  }
  // The rows skipped; the caller adds the live documents before the start key.
  return { totalRows: ctx.docCount, offset: skipped, rows };
}
