// `_local/` documents: per-replica state such as replication checkpoints. No revision tree, no
// sequence, never in changes or allDocs; `_rev` is `0-N`, bumped on each write, never checked (CouchDB 2+).

import { RefugeError, notFound } from '../errors/index.ts';
import type { KvReader } from '../storage/index.ts';
import { checkAllDocsOptions, idRange, keysAnswered } from './all-docs.ts';
import { LOCAL, localKey } from './keys.ts';
import type { AllDocsOptions, AllDocsRow, Doc, JsonObject, WriteResult } from './types.ts';
import { checkJsonValue, checkSpecialMember } from './validate.ts';
import type { WriteBatch } from './write-batch.ts';

interface LocalRecord {
  n: number;
  body: JsonObject;
}

export function checkLocalId(id: unknown): string {
  if (typeof id !== 'string' || !id.startsWith('_local/') || id.length === '_local/'.length || id.includes('\u0000')) {
    throw new RefugeError('bad_request', 'Local document ids start with _local/');
  }
  return id;
}

export async function getLocal(reader: KvReader, id: string): Promise<Doc> {
  const raw = await reader.get(localKey(checkLocalId(id)));
  if (raw === undefined) throw notFound('missing');
  const rec = JSON.parse(raw) as LocalRecord;
  return { _id: id, _rev: `0-${rec.n}`, ...rec.body };
}

function bodyOf(doc: JsonObject): JsonObject {
  const body: JsonObject = {};
  for (const k of Object.keys(doc)) if (!k.startsWith('_')) body[k] = doc[k];
  return body;
}

/**
 * Runs inside the writer so concurrent updates of one checkpoint serialise. `deleting`: 'delete'
 * (DELETE: the document must exist) or 'put' (a write with `_deleted: true`: gone either way).
 * As in CouchDB 2+, no revision is checked: the new one is the given one's number plus one (`0-1`
 * without one), and a deletion takes any revision (couch_db_updater's increment_local_doc_revs).
 */
export async function writeLocal(batch: WriteBatch, doc: Doc, deleting: false | 'delete' | 'put'): Promise<WriteResult> {
  const id = doc._id!;
  const raw = await batch.read(localKey(id));
  if (deleting) {
    if (raw === undefined && deleting === 'delete') throw notFound('missing');
    batch.setRaw(localKey(id), null);
    return { ok: true, id, rev: '0-0' };
  }
  const n = (doc._rev === undefined ? 0 : Number(doc._rev.slice(2))) + 1;
  if (!Number.isSafeInteger(n)) throw new RefugeError('bad_request', 'Invalid rev format');
  batch.setRaw(localKey(id), JSON.stringify({ n, body: bodyOf(doc) } satisfies LocalRecord));
  return { ok: true, id, rev: `0-${n}` };
}

/**
 * A local document to write: an object with a `_local/` id, and a `_rev` (when given) of the form
 * `0-N`; a deletion's may be any `N-x`, since CouchDB parses it and then ignores it.
 */
export function validateLocalDoc(doc: unknown): Doc {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new RefugeError('bad_request', 'Document must be a JSON object');
  }
  const d = doc as Doc;
  checkLocalId(d._id);
  if (d._deleted !== undefined && typeof d._deleted !== 'boolean') throw new RefugeError('doc_validation', '_deleted must be a boolean');
  const form = d._deleted === true ? /^[0-9]+-./ : /^0-[0-9]+$/;
  if (d._rev !== undefined && (typeof d._rev !== 'string' || !form.test(d._rev))) {
    throw new RefugeError('bad_request', 'Invalid rev format');
  }
  // Refused here, not when the write is stored: a value JSON cannot carry would fail the whole write group.
  for (const key of Object.keys(d)) {
    if (key.charCodeAt(0) === 95 /* _ */) checkSpecialMember(key);
    if (d[key] !== undefined) checkJsonValue(d[key], key);
  }
  return d;
}

function localRow(id: string, raw: string, includeDocs: boolean | undefined): AllDocsRow {
  const rec = JSON.parse(raw) as LocalRecord;
  const rev = `0-${rec.n}`;
  const row: AllDocsRow = { id, key: id, value: { rev } };
  if (includeDocs) row.doc = { _id: id, _rev: rev, ...rec.body };
  return row;
}

/** Rows read from storage at once: a listing holds about this many in memory, never the whole answer. */
const CHUNK = 256;

/**
 * CouchDB's `_local_docs`: local documents in id order, with `_all_docs`'s options, chunk by chunk
 * from `reader` (a snapshot its caller holds). As CouchDB parses them (couch_mrview_http), `keys`
 * answer a row per key, found or not, reversed when descending; a single `key` is a range of one
 * id, so a missing one answers no row.
 */
export async function* localDocsChunks(reader: KvReader, o: AllDocsOptions): AsyncGenerator<AllDocsRow[], void, undefined> {
  checkAllDocsOptions(o);
  const skip = o.skip ?? 0;
  const limit = o.limit ?? Infinity;
  if (o.keys !== undefined) {
    // Ids of other documents name none here: left out (after skip and limit), as CouchDB's
    // filter_keys_by_namespace leaves them, not answered as missing.
    const wanted = keysAnswered(o.keys, o).filter((key) => key.startsWith('_local/'));
    for (let i = 0; i < wanted.length; i += CHUNK) {
      const keys = wanted.slice(i, i + CHUNK);
      const values = await reader.getMany(keys.map(localKey));
      yield keys.map((key, k): AllDocsRow => (values[k] === undefined ? { key, error: 'not_found' } : localRow(key, values[k]!, o.includeDocs)));
    }
    return;
  }
  if (limit === 0) return;
  const range = idRange(o.key === undefined ? o : { ...o, startkey: o.key, endkey: o.key }, LOCAL);
  let skipped = 0;
  let given = 0;
  for await (const chunk of reader.scan(range, Math.min(CHUNK, skip + limit))) {
    const rows: AllDocsRow[] = [];
    for (const [key, raw] of chunk) {
      if (skipped < skip) {
        skipped++;
        continue;
      }
      rows.push(localRow(key.slice(LOCAL.length), raw, o.includeDocs));
      if (++given >= limit) break;
    }
    yield rows;
    if (given >= limit) return;
  }
}
