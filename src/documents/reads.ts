// Reading documents: by id, by revision, every open revision, in bulk, and the revs_diff answer
// replication asks first. Winner bodies live in the record; other revisions under r!.

import { RefugeError, notFound } from '../errors/index.ts';
import type { KvReader } from '../storage/index.ts';
import { decodeHead, decodeMeta, decodeRecord, winnerDocJson, type DocRecord } from './doc-record.ts';
import { docKey, revBodyKey } from './keys.ts';
import { ancestry, isForeignRev, isValidRev, revsInfo, type Rev } from './rev-tree.ts';
import {
  conflicts,
  deletedConflicts,
  latestLeaves,
  leaves,
  revsDiff as treeRevsDiff,
  sortedLeaves,
} from './rev-leaves.ts';
import type { BulkGetRequest, BulkGetResult, Doc, GetOptions, JsonObject, OpenRevsResult, RevsDiffEntry, RevsDiffResult } from './types.ts';
import { checkLongIds, validateDocId } from './validate.ts';

export async function readRecord(reader: KvReader, id: string): Promise<DocRecord | undefined> {
  const v = await reader.get(docKey(id));
  return v === undefined ? undefined : decodeRecord(id, v);
}

async function bodyOf(reader: KvReader, rec: DocRecord, rev: Rev): Promise<JsonObject | undefined> {
  if (rev === rec.rev) return rec.body;
  const node = rec.tree.get(rev);
  if (!node || !node.available) return undefined;
  const raw = await reader.get(revBodyKey(rec.id, rev));
  return raw === undefined ? undefined : JSON.parse(raw);
}

/** Assembles the document CouchDB would return for `rev`, with the special fields asked for. */
export function buildDoc(rec: DocRecord, rev: Rev, body: JsonObject, opts: GetOptions): Doc {
  const doc: Doc = { _id: rec.id, _rev: rev, ...body };
  const node = rec.tree.get(rev)!;
  if (node.deleted) doc._deleted = true;
  if (opts.revs) {
    const path = ancestry(rec.tree, rev);
    doc._revisions = {
      start: Number.parseInt(rev, 10),
      ids: path.map((r) => r.slice(r.indexOf('-') + 1)),
    };
  }
  // Both histories are the stored path, as CouchDB's: stemming cuts it at writes and compaction, so a
  // lowered revs_limit shows after the next one, and a path sharing ancestors with another leaf's
  // may be longer than the limit (cutting it here made replicas graft it as a new branch).
  if (opts.revsInfo && rev === rec.rev) doc._revs_info = revsInfo(rec.tree, rev);
  if (opts.conflicts && rev === rec.rev) {
    const c = conflicts(rec.tree);
    if (c.length) doc._conflicts = c;
  }
  if (opts.deletedConflicts && rev === rec.rev) {
    const d = deletedConflicts(rec.tree);
    if (d.length) doc._deleted_conflicts = d;
  }
  if (opts.localSeq) doc._local_seq = rec.seq;
  return doc;
}

function isPlainGet(o: GetOptions): boolean {
  return o.rev === undefined && !o.revs && !o.revsInfo && !o.conflicts && !o.deletedConflicts && !o.localSeq;
}

/** The winning revision's text from its stored record, as a plain get (no options) answers it. */
function plainText(id: string, raw: string | undefined): { json: string; rev: Rev } {
  if (raw === undefined) throw notFound('missing');
  const head = decodeHead(raw);
  if (head.deleted) throw notFound('deleted');
  return { json: winnerDocJson(id, head.rev, raw), rev: head.rev };
}

function plainDoc(id: string, raw: string | undefined): Doc {
  return JSON.parse(plainText(id, raw).json) as Doc;
}

/**
 * A plain get answered synchronously, when the reader reads synchronously; undefined when the
 * options or the reader need the general path. Spares a hot read its promise hops.
 */
export function getPlainSync(reader: KvReader, id: string, opts: GetOptions): Doc | undefined {
  if (!reader.getSync || !isPlainGet(opts)) return undefined;
  return plainDoc(id, reader.getSync(docKey(id)));
}

/**
 * A plain get's answer as JSON text, read and spliced without a parse (an HTTP GET sends it as it
 * is); undefined where the reader does not read synchronously. Errors as a plain get's.
 */
export function getPlainJsonSync(reader: KvReader, id: string): { json: string; rev: Rev } | undefined {
  return reader.getSync ? plainText(id, reader.getSync(docKey(id))) : undefined;
}

/**
 * Each id's stored winner as a validate_doc_update function gets it: the document as a plain get
 * answers it, the tombstone `{_id, _rev, _deleted}` of a deleted one (as CouchDB hands it), null
 * for an id never written. One read for them all.
 */
export async function storedWinners(reader: KvReader, ids: readonly string[]): Promise<Array<Doc | null>> {
  const raws = await reader.getMany(ids.map(docKey));
  return raws.map((raw, i) => {
    if (raw === undefined) return null;
    const id = ids[i]!;
    const head = decodeHead(raw);
    if (head.deleted) return { _id: id, _rev: head.rev, _deleted: true };
    return JSON.parse(winnerDocJson(id, head.rev, raw)) as Doc;
  });
}

export async function getDoc(reader: KvReader, id: string, opts: GetOptions): Promise<Doc> {
  if (opts.rev !== undefined && !isValidRev(opts.rev)) {
    if (isForeignRev(opts.rev)) throw notFound('missing');
    throw new RefugeError('bad_request', 'Invalid rev format');
  }
  if (isPlainGet(opts)) {
    // The common case needs neither the tree nor other revisions: skip decoding them.
    const key = docKey(id);
    return plainDoc(id, reader.getSync ? reader.getSync(key) : await reader.get(key));
  }
  const rec = await readRecord(reader, id);
  if (!rec) throw notFound('missing');
  let rev = opts.rev;
  if (rev === undefined) {
    if (rec.deleted) throw notFound('deleted');
    rev = rec.rev;
  } else {
    if (!isValidRev(rev)) throw new RefugeError('bad_request', 'Invalid rev format');
    if (opts.latest && rec.tree.has(rev)) {
      // Computed once: asked per candidate leaf, it made a document with many conflicts quadratic.
      const latest = new Set(latestLeaves(rec.tree, rev));
      const best = sortedLeaves(rec.tree).find((l) => latest.has(l.rev));
      if (best) rev = best.rev;
    }
  }
  const body = await bodyOf(reader, rec, rev);
  if (!body) throw notFound('missing');
  return buildDoc(rec, rev, body, opts);
}

/** CouchDB's `open_revs`: 'all' leaves, or the listed revisions (each found or reported missing). */
export async function getOpenRevs(
  reader: KvReader,
  id: string,
  revs: 'all' | readonly Rev[],
  opts: GetOptions,
): Promise<OpenRevsResult> {
  if (revs !== 'all' && (!Array.isArray(revs) || !revs.every((r) => isValidRev(r) || isForeignRev(r)))) {
    throw new RefugeError('bad_request', 'Invalid rev format');
  }
  const rec = await readRecord(reader, id);
  if (!rec) {
    if (revs === 'all') throw notFound('missing');
    return revs.map((r) => ({ missing: r }));
  }
  let wanted: Rev[];
  if (revs === 'all') wanted = leaves(rec.tree).sort();
  else if (opts.latest) wanted = [...new Set(revs.flatMap((r) => (rec.tree.has(r) ? latestLeaves(rec.tree, r) : [r])))];
  else wanted = [...revs];
  const out: OpenRevsResult = [];
  for (const rev of wanted) {
    const body = rec.tree.has(rev) ? await bodyOf(reader, rec, rev) : undefined;
    out.push(body ? { ok: buildDoc(rec, rev, body, { ...opts, revsInfo: false }) } : { missing: rev });
  }
  return out;
}

export async function bulkGet(
  reader: KvReader,
  requests: readonly BulkGetRequest[],
  opts: { revs?: boolean; latest?: boolean },
): Promise<BulkGetResult> {
  const results: BulkGetResult['results'] = [];
  const ids = requests.map((r) => r?.id).filter((id): id is string => typeof id === 'string');
  checkLongIds(ids);
  reader = await prefetchRecords(reader, ids);
  for (const req of requests) {
    const id = req?.id;
    const rev = req?.rev;
    // Without a rev asked, CouchDB names the rev "undefined" (chttpd_db's bulk_get_rev_error(all)).
    const fail = (error: string, reason: string) => ({ error: { id: id as string, rev: rev ?? 'undefined', error, reason } });
    // CouchDB's answers for an item without an id, or with one no document can have (no rev then).
    if (id === undefined || id === null) {
      results.push({ id: null, docs: [{ error: { id: null, rev: null, error: 'bad_request', reason: 'document id missed' } }] });
      continue;
    }
    try {
      validateDocId(id);
    } catch (err) {
      const shown = typeof id === 'string' ? id : JSON.stringify(id);
      results.push({ id: shown, docs: [{ error: { id: shown, rev: null, error: 'illegal_docid', reason: (err as RefugeError).reason } }] });
      continue;
    }
    if (rev !== undefined && !isValidRev(rev)) {
      results.push({ id, docs: [fail('bad_request', 'Invalid rev format')] });
      continue;
    }
    try {
      // No rev asks for every leaf, deleted ones too (CouchDB reads it as open_revs=all).
      const docs = await getOpenRevs(reader, id, rev === undefined ? 'all' : [rev], { revs: opts.revs, latest: opts.latest });
      results.push({ id, docs: docs.map((d) => ('ok' in d ? d : fail('not_found', 'missing'))) });
    } catch (err) {
      const e = err instanceof RefugeError ? err : new RefugeError('internal', String(err), { cause: err });
      if (e.code === 'internal' || e.code === 'closed') throw e;
      results.push({ id, docs: [fail(e.code, e.reason)] });
    }
  }
  return { results };
}

/**
 * A reader that answers the records of `ids` from one `getMany` (a single storage round trip for
 * a whole `_bulk_get`) and everything else from `reader`.
 */
async function prefetchRecords(reader: KvReader, ids: readonly string[]): Promise<KvReader> {
  const keys = [...new Set(ids)].map(docKey);
  const values = await reader.getMany(keys);
  const cache = new Map<string, string | undefined>();
  keys.forEach((k, i) => cache.set(k, values[i]));
  return {
    get: (key) => (cache.has(key) ? Promise.resolve(cache.get(key)) : reader.get(key)),
    getMany: (ks) => reader.getMany(ks),
    scan: (range, chunk) => reader.scan(range, chunk),
    scanKeys: (range, chunk) => reader.scanKeys(range, chunk),
  };
}

/**
 * A revision `_revs_diff` may be asked about: any valid one, and generation 0 too, which CouchDB
 * parses (it is what a `_local` document's rev looks like) and which no tree ever holds: missing.
 */
const isAskableRev = (rev: unknown): boolean => isValidRev(rev) || (typeof rev === 'string' && rev.startsWith('0-') && isValidRev('1' + rev.slice(1)));

/**
 * CouchDB's `_revs_diff`. Given a Map (as the replicator asks), it answers a Map: ids read from a
 * feed are fresh strings, and object keys would make V8 internalize each one. `isNew` names ids
 * known to have no record without a read (above the id ceiling).
 */
export async function revsDiff(reader: KvReader, request: ReadonlyMap<string, readonly unknown[]>, isNew?: (id: string) => boolean): Promise<Map<string, RevsDiffEntry>>;
export async function revsDiff(reader: KvReader, request: Record<string, unknown>, isNew?: (id: string) => boolean): Promise<RevsDiffResult>;
export async function revsDiff(
  reader: KvReader,
  request: Record<string, unknown> | ReadonlyMap<string, readonly unknown[]>,
  isNew: (id: string) => boolean = () => false,
): Promise<RevsDiffResult | Map<string, RevsDiffEntry>> {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new RefugeError('bad_request', 'revs_diff expects an object of id -> [revs]');
  }
  const asMap = request instanceof Map;
  const entries: Array<[string, unknown]> = asMap ? [...(request as ReadonlyMap<string, unknown>)] : Object.entries(request);
  for (const [, revs] of entries) {
    if (!Array.isArray(revs) || !revs.every(isAskableRev)) throw new RefugeError('bad_request', 'Invalid rev format');
  }
  checkLongIds(entries.map(([id]) => id));
  // A replication into a new database asks about ids none of which is stored: nothing to read.
  const toRead = entries.filter(([id]) => !isNew(id));
  const read = toRead.length === 0 ? [] : await reader.getMany(toRead.map(([id]) => docKey(id)));
  let r = 0;
  const out = new Map<string, RevsDiffEntry>();
  entries.forEach((entry) => {
    const [id, revs] = entry;
    const v = toRead[r] === entry ? read[r++] : undefined;
    const tree = v === undefined ? undefined : decodeMeta(v).tree;
    const { missing, possibleAncestors } = treeRevsDiff(tree, revs as Rev[]);
    if (missing.length) out.set(id, possibleAncestors.length ? { missing, possibleAncestors } : { missing });
  });
  return asMap ? out : (Object.fromEntries(out) as RevsDiffResult);
}
