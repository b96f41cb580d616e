// The changes feed: one entry per document at its latest sequence, read from the s! keyspace.
// Records are fetched only when a row needs more than the sequence entry carries.

import { RefugeError } from '../errors/index.ts';
import type { KvRange, KvReader } from '../storage/index.ts';
import { decodeMeta, decodeRecord, decodeWinnerDoc, singleLeaf } from './doc-record.ts';
import { docKey, revBodyKey, seqFromKey, seqKey } from './keys.ts';
import { buildDoc } from './reads.ts';
import { ancestry, type Rev, type RevTree } from './rev-tree.ts';
import { sortedLeaves } from './rev-leaves.ts';
import type { ChangeRow, ChangesOptions, ChangesResult, Doc, JsonObject } from './types.ts';
import { checkBooleanOptions } from './validate.ts';

/** A compiled filter: which ids to keep, and a predicate on the winning document. */
export interface ChangesFilter {
  docIds?: Set<string>;
  match?: (doc: Doc) => boolean;
  /** A predicate judging a chunk's documents at once (a design document's filter, in its sandbox). */
  matchMany?: (docs: Doc[]) => Promise<boolean[]>;
  /** `match` and `matchMany` see `_conflicts`, as CouchDB opens documents for design-document filters. */
  matchConflicts?: boolean;
  /** Included documents keep only these fields (ChangesOptions.fields, checked). */
  fields?: readonly string[];
}

export function checkChangesOptions(o: ChangesOptions): void {
  checkBooleanOptions(o, ['descending', 'includeDocs', 'conflicts', 'revs', 'attachments']);
  if (o.since !== undefined && (!Number.isSafeInteger(o.since) || o.since < 0)) {
    throw new RefugeError('bad_request', 'since must be a non-negative integer');
  }
  if (o.limit !== undefined && (!Number.isSafeInteger(o.limit) || o.limit < 0)) {
    throw new RefugeError('bad_request', 'limit must be a non-negative integer');
  }
  if (o.style !== undefined && o.style !== 'main_only' && o.style !== 'all_docs') {
    throw new RefugeError('bad_request', 'style must be main_only or all_docs');
  }
  if (o.docIds !== undefined && (!Array.isArray(o.docIds) || !o.docIds.every((d) => typeof d === 'string'))) {
    throw new RefugeError('bad_request', 'doc_ids must be an array of strings');
  }
  if (o.maxDocBytes !== undefined && (typeof o.maxDocBytes !== 'number' || !(o.maxDocBytes >= 0))) {
    throw new RefugeError('bad_request', 'maxDocBytes must be a number >= 0');
  }
}

/**
 * The `since` a feed reads after, given the last sequence this database gave. One past it names no
 * change of this database (it was deleted and made again, the sequence is another database's, or a
 * crash in fast mode took back writes it had acknowledged): the feed starts over from 0, as
 * CouchDB's does for a sequence of another shard file (couch_db:calculate_start_seq), rather than
 * skipping every change until the count passes it.
 */
export function sinceHere(since: number, lastGiven: number): number {
  return since > lastGiven ? 0 : since;
}

/**
 * Where a read of changes stands: the last sequence examined (the answer's `last_seq` once the
 * read ended) and how many sequence entries were, rows a filter passed over included.
 */
export interface ChangesProgress {
  lastSeq: number;
  examined: number;
}

/**
 * Reads changes after `since` (exclusive) up to `upTo` (the committed sequence when the read
 * began), chunk by chunk as storage gives them: a chunk may be empty (all filtered out), so a
 * consumer gets a turn at every read. `progress` follows the read; `lastSeq` is the last sequence
 * examined, so a filtered feed still makes progress.
 */
export async function* changeChunks(
  reader: KvReader,
  o: ChangesOptions,
  filter: ChangesFilter,
  upTo: number,
  progress: ChangesProgress,
): AsyncGenerator<ChangeRow[], void, undefined> {
  const since = o.since ?? 0;
  const limit = o.limit ?? Infinity;
  progress.lastSeq = since;
  if (limit === 0) return;
  // Rows with documents, or judged by a filter, read every record; a feed of all leaves reads
  // those whose sequence entry does not say their tree is one run (storeWinner).
  const needDocs = o.includeDocs === true || filter.match !== undefined || filter.matchMany !== undefined;
  const allLeaves = o.style === 'all_docs';
  const needRecord = needDocs || allLeaves;
  // A read with a limit and no filter asks storage for no more entries than it gives rows (with a
  // read ahead, a 1024-entry chunk was most of a `limit=10` answer's time, and a replicator's
  // `limit=100` read a second hundred it never gave).
  const unfiltered = filter.docIds === undefined && filter.match === undefined && filter.matchMany === undefined;
  // Descending starts from the newest change and, as in CouchDB, takes no lower bound from since.
  const range: KvRange = { gt: seqKey(o.descending ? 0 : since), lte: seqKey(upTo), reverse: o.descending === true };
  if (unfiltered && Number.isFinite(limit)) range.limit = limit;
  if (o.descending) progress.lastSeq = upTo;
  let given = 0;
  let docBytesLeft = o.maxDocBytes ?? Infinity;
  const chunkSize = Math.min(needRecord ? 256 : 1024, unfiltered ? limit : Infinity);
  for await (const chunk of reader.scan(range, chunkSize)) {
    const entries = chunk.map(([key, value]) => {
      const [id, rev, deleted, oneRun] = JSON.parse(value) as [string, string, number, number?];
      return { seq: seqFromKey(key), id, rev, deleted: deleted === 1, oneRun: oneRun === 1 };
    });
    const wanted = filter.docIds ? entries.filter((e) => filter.docIds!.has(e.id)) : entries;
    const values = needDocs ? await reader.getMany(wanted.map((e) => docKey(e.id))) : allLeaves ? await leafRecords(reader, wanted) : [];
    const others = allLeaves && (filter.match || filter.matchMany) ? await otherLeafBodies(reader, wanted, values) : undefined;
    const judged = filter.matchMany ? await judgeChunk(wanted, values, o, filter, filter.matchMany, others) : undefined;
    const rows: ChangeRow[] = [];
    let w = 0;
    for (const e of entries) {
      progress.lastSeq = e.seq;
      progress.examined++;
      if (filter.docIds && !filter.docIds.has(e.id)) continue;
      const raw = needRecord ? values[w] : undefined;
      const ready = judged?.[w];
      w++;
      if (ready === false) continue;
      const row: ChangeRow = ready ?? { seq: e.seq, id: e.id, changes: [{ rev: e.rev }] };
      if (e.deleted) row.deleted = true;
      if (raw !== undefined) {
        if (ready === undefined && fillRow(row, e, raw, o, filter, docBytesLeft > 0, others?.[w - 1]) === false) continue;
        // A judged row was filled before its turn: past the budget, it goes without its document.
        if (ready !== undefined && docBytesLeft <= 0) {
          delete row.doc;
          delete row.docJson;
        }
        if (row.doc !== undefined || row.docJson !== undefined) docBytesLeft -= raw.length;
      }
      rows.push(row);
      if (++given >= limit) break;
    }
    yield rows;
    if (given >= limit) return;
  }
  if (!o.descending) progress.lastSeq = Math.max(progress.lastSeq, upTo);
}

/** The records of the entries whose leaves their sequence entry does not give, in the entries' places. */
async function leafRecords(reader: KvReader, entries: ReadonlyArray<{ id: string; oneRun: boolean }>): Promise<Array<string | undefined>> {
  const unknown = entries.filter((e) => !e.oneRun);
  if (unknown.length === 0) return [];
  const read = await reader.getMany(unknown.map((e) => docKey(e.id)));
  let r = 0;
  return entries.map((e) => (e.oneRun ? undefined : read[r++]));
}

/**
 * For a feed of all leaves that a filter judges: per wanted entry whose tree is not one run, the
 * stored bodies of its leaves other than the winner (the winner's is in its record). CouchDB judges
 * every leaf and lists those that pass (couch_changes:filter/3, open_revs, filter_revs): a
 * filtered replication then carries neither a leaf the filter refuses (a deletion a filter keeps
 * out) nor misses a conflicting leaf that passes beside a winner that does not.
 */
async function otherLeafBodies(
  reader: KvReader,
  entries: ReadonlyArray<{ id: string }>,
  records: ReadonlyArray<string | undefined>,
): Promise<Array<Map<Rev, JsonObject> | undefined>> {
  const keys: string[] = [];
  const places: Array<{ at: number; rev: Rev }> = [];
  const out = entries.map((e, i) => {
    const raw = records[i];
    const revs = raw === undefined ? undefined : otherLeaves(raw);
    if (revs === undefined) return undefined;
    for (const rev of revs) {
      keys.push(revBodyKey(e.id, rev));
      places.push({ at: i, rev });
    }
    return new Map<Rev, JsonObject>();
  });
  if (keys.length === 0) return out;
  const bodies = await reader.getMany(keys);
  places.forEach(({ at, rev }, k) => {
    const body = bodies[k];
    if (body !== undefined) out[at]!.set(rev, JSON.parse(body) as JsonObject);
  });
  return out;
}

/** The leaves of a stored record other than its winner whose bodies are stored; undefined for a tree of one run (its winner is its leaf). */
export function otherLeaves(raw: string): Rev[] | undefined {
  if (singleLeaf(raw)) return undefined;
  const { tree, rev: winner } = decodeMeta(raw);
  return sortedLeaves(tree)
    .filter((l) => l.rev !== winner && tree.get(l.rev)!.available)
    .map((l) => l.rev);
}

/** A leaf a filter judges: its rev, and the document the filter sees. */
interface JudgedLeaf {
  rev: Rev;
  doc: Doc;
}

/**
 * The rows of a chunk's wanted entries, filled and judged by `matchMany` in one call (false where
 * a filter refuses the document), before changeChunks takes them in order up to its limit.
 */
async function judgeChunk(
  wanted: ReadonlyArray<{ seq: number; id: string; rev: string; deleted: boolean }>,
  values: ReadonlyArray<string | undefined>,
  o: ChangesOptions,
  filter: ChangesFilter,
  matchMany: (docs: Doc[]) => Promise<boolean[]>,
  others: ReadonlyArray<Map<Rev, JsonObject> | undefined> | undefined,
): Promise<Array<ChangeRow | false>> {
  const out: Array<ChangeRow | false> = [];
  const docs: Doc[] = [];
  // Each judged row's place in `out`, and its leaves, judged from `first` on in `docs`.
  const slots: Array<{ at: number; first: number; leaves: JudgedLeaf[] }> = [];
  wanted.forEach((e, i) => {
    const row: ChangeRow = { seq: e.seq, id: e.id, changes: [{ rev: e.rev }] };
    const raw = values[i];
    const filled = raw === undefined ? true : fillRow(row, e, raw, o, filter, true, others?.[i]);
    if (Array.isArray(filled)) {
      slots.push({ at: out.length, first: docs.length, leaves: filled });
      for (const leaf of filled) docs.push(leaf.doc);
    }
    out.push(filled === false ? false : row);
  });
  if (docs.length > 0) {
    const passed = await matchMany(docs);
    for (const { at, first, leaves } of slots) {
      const kept = leaves.filter((_, k) => passed[first + k] === true);
      if (kept.length === 0) out[at] = false;
      else if (o.style === 'all_docs') (out[at] as ChangeRow).changes = kept.map((l) => ({ rev: l.rev }));
    }
  }
  return out;
}

/** changeChunks' rows in one answer (for reads of a bounded size: a live feed's batches). */
export async function readChanges(reader: KvReader, o: ChangesOptions, filter: ChangesFilter, upTo: number): Promise<ChangesResult> {
  const progress: ChangesProgress = { lastSeq: 0, examined: 0 };
  const results: ChangeRow[] = [];
  for await (const rows of changeChunks(reader, o, filter, upTo, progress)) for (const row of rows) results.push(row);
  return { results, lastSeq: progress.lastSeq };
}

/**
 * Completes `row` from its document's record (the snapshot guarantees the record is at the row's
 * sequence): `all_docs` leaves, and the document when `withDoc`, as text where it can be spliced.
 * False when the filter rejects the document; with `matchMany`, the leaves it is to judge. With
 * `others` (a feed of all leaves whose document has several: otherLeafBodies), every leaf is
 * judged and the row lists those that pass; its document stays the winner, as CouchDB's. The
 * tree is decoded only when the row needs it.
 */
function fillRow(
  row: ChangeRow,
  e: { id: string; rev: string; deleted: boolean },
  raw: string,
  o: ChangesOptions,
  filter: ChangesFilter,
  withDoc: boolean,
  others?: ReadonlyMap<Rev, JsonObject>,
): boolean | JudgedLeaf[] {
  const wantDoc = o.includeDocs === true && withDoc;
  if (!wantDoc && !filter.match && !filter.matchMany) {
    // Only the leaves are asked for (every replicator reads `style=all_docs`): the tree alone is
    // decoded, not the body besides, and not even the tree when it is one run (the winner is its leaf).
    if (o.style === 'all_docs' && !singleLeaf(raw)) row.changes = sortedLeaves(decodeMeta(raw).tree).map((l) => ({ rev: l.rev }));
    return true;
  }
  if (wantDoc && o.docText && !filter.match && !filter.matchMany && !filter.fields && !o.conflicts && !o.attachments) {
    const tree = o.style === 'all_docs' || o.revs ? decodeMeta(raw).tree : undefined;
    const text = docText(e, raw, o.revs ? tree : undefined);
    if (text !== undefined) {
      if (o.style === 'all_docs') row.changes = sortedLeaves(tree!).map((l) => ({ rev: l.rev }));
      row.docJson = text;
      return true;
    }
  }
  let doc: Doc;
  let leaves: JudgedLeaf[];
  if (o.style === 'all_docs' || o.conflicts || (o.revs && o.includeDocs) || filter.matchConflicts) {
    const rec = decodeRecord(e.id, raw);
    doc = buildDoc(rec, rec.rev, rec.body, { conflicts: o.conflicts, revs: o.revs === true && o.includeDocs === true });
    const matched = filter.matchConflicts && !o.conflicts ? buildDoc(rec, rec.rev, rec.body, { conflicts: true }) : doc;
    leaves = [{ rev: rec.rev, doc: matched }];
    if (o.style === 'all_docs') {
      const all = sortedLeaves(rec.tree);
      row.changes = all.map((l) => ({ rev: l.rev }));
      // Judged leaf by leaf; one whose body is gone is left out, as CouchDB's open_revs leaves it.
      if (others !== undefined) {
        leaves = all.flatMap((l) => {
          if (l.rev === rec.rev) return [{ rev: l.rev, doc: matched }];
          const body = others.get(l.rev);
          return body === undefined ? [] : [{ rev: l.rev, doc: buildDoc(rec, l.rev, body, {}) }];
        });
      }
    }
  } else {
    doc = decodeWinnerDoc(e.id, e.rev, raw) as Doc;
    if (e.deleted) doc._deleted = true;
    leaves = [{ rev: e.rev, doc }];
  }
  const passing = filter.match ? leaves.filter((l) => filter.match!(l.doc)) : leaves;
  if (passing.length === 0) return false;
  if (others !== undefined && o.style === 'all_docs') row.changes = passing.map((l) => ({ rev: l.rev }));
  if (wantDoc) row.doc = doc;
  // The leaves a chunk's matchMany judges (judgeChunk).
  return filter.matchMany ? passing : true;
}

/**
 * The winning document as buildDoc would serialize it (with `_revisions` from `revsOf` when
 * given), spliced from the stored record: the body text is JSON.stringify output, so it reads
 * back identically. Undefined when the body holds attachment stubs (rewritten on the way out).
 */
function docText(e: { id: string; rev: string; deleted: boolean }, raw: string, revsOf: RevTree | undefined): string | undefined {
  const nl = raw.indexOf('\n');
  if (nl < 0 || raw.includes('"_attachments":', nl)) return undefined;
  // The sequence entry names the winner the record holds (both come from one snapshot).
  let out = '{"_id":' + JSON.stringify(e.id) + ',"_rev":"' + e.rev + '"';
  // A body is `{...}`: its members go after _rev; `{}` has none.
  if (raw.length - nl > 3) out += ',' + raw.slice(nl + 2, raw.length - 1);
  if (e.deleted) out += ',"_deleted":true';
  if (revsOf) {
    // Rev ids are validated: no quote or backslash to escape.
    let ids = '';
    for (const r of ancestry(revsOf, e.rev)) ids += (ids === '' ? '"' : ',"') + r.slice(r.indexOf('-') + 1) + '"';
    out += ',"_revisions":{"start":' + Number.parseInt(e.rev, 10) + ',"ids":[' + ids + ']}';
  }
  return out + '}';
}

/**
 * A changes row as JSON text, with `docJson` spliced in as its `doc`. Fields go in ChangeRow's
 * order, as JSON.stringify writes them; `tail` holds further members (`,"name":value`). Revs are
 * written as they are: a stored rev holds nothing JSON escapes (rev-tree.ts). A quarter of
 * JSON.stringify's time for a row without a document (0.10 µs against 0.40).
 */
export function changeRowJson(
  row: { seq: number | string; id: string; changes: ReadonlyArray<{ rev: string }>; deleted?: boolean; doc?: unknown; docJson?: string },
  tail = '',
): string {
  const changes = row.changes;
  let revs = '';
  for (let i = 0; i < changes.length; i++) revs += (i === 0 ? '{"rev":"' : ',{"rev":"') + changes[i]!.rev + '"}';
  const seq = typeof row.seq === 'number' ? String(row.seq) : JSON.stringify(row.seq);
  let out = '{"seq":' + seq + ',"id":' + JSON.stringify(row.id) + ',"changes":[' + revs + ']';
  if (row.deleted) out += ',"deleted":true';
  if (row.docJson !== undefined) out += ',"doc":' + row.docJson;
  else if (row.doc !== undefined) out += ',"doc":' + JSON.stringify(row.doc);
  return out + tail + '}';
}

