// One batch of the protocol: the changes' revisions → revs_diff on the target → _bulk_get of the
// missing ones from the source (with their histories) → _bulk_docs new_edits:false on the target.

import type { BulkGetRequest, BulkGetResult, Doc } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { PeerChangeRow, PeerWriteResult, ReplicationPeer } from './peer.ts';
import { withBase64 } from './attachment-data.ts';

export interface BatchResult {
  missingChecked: number;
  missingFound: number;
  docsRead: number;
  docsWritten: number;
  docWriteFailures: number;
  /** The documents written (each revision as sent to the target). */
  docs: Doc[];
  failures: PeerWriteResult[];
}

/** Runs one peer call, retrying it when the replication's policy allows. */
export type Call = <T>(fn: () => Promise<T>) => Promise<T>;

export async function replicateBatch(
  rows: readonly PeerChangeRow[],
  source: ReplicationPeer,
  target: ReplicationPeer,
  call: Call,
  signal: AbortSignal,
): Promise<BatchResult> {
  // A Map, not an object: ids read from a feed are fresh strings, which object keys would make V8
  // internalize one by one (1.3 µs of the replicator's time per document).
  const revs = new Map<string, string[]>();
  let missingChecked = 0;
  for (const row of rows) {
    let known = revs.get(row.id);
    if (known === undefined) revs.set(row.id, (known = []));
    for (const { rev } of row.changes) {
      if (!known.includes(rev)) {
        known.push(rev);
        missingChecked++;
      }
    }
  }
  const result: BatchResult = { missingChecked, missingFound: 0, docsRead: 0, docsWritten: 0, docWriteFailures: 0, docs: [], failures: [] };
  if (missingChecked === 0) return result;

  const diff = await call(() => target.revsDiff(revs, { signal }));
  // Winning revisions the changes already carried need no bulkGet (a feed names each id once).
  const carried = new Map<string, Doc>();
  for (const row of rows) if (row.doc) carried.set(row.id, row.doc);
  const requests: BulkGetRequest[] = [];
  for (const [id, entry] of diff) {
    // Only what was asked about: a target's answer cannot make the source's other documents flow.
    if (!revs.has(id)) continue;
    const doc = carried.get(id);
    // Attachments the target has in a revision it holds come as stubs, not their bytes (CouchDB's atts_since).
    const since = source.capabilities.attsSince && entry.possibleAncestors?.length ? entry.possibleAncestors : undefined;
    for (const rev of entry.missing) {
      result.missingFound++;
      if (doc !== undefined && doc._rev === rev) result.docs.push(doc);
      else requests.push(since ? { id, rev, atts_since: since } : { id, rev });
    }
  }
  if (result.missingFound === 0) return result;

  const asked = new Set(requests.map((r) => r.id));
  // `latest` can answer two requests of one branch with the same newest leaf: send it once.
  const seen = new Set(result.docs.map((d) => `${d._id}\u0000${d._rev}`));
  const fetch = async (group: readonly BulkGetRequest[]): Promise<Doc[]> => {
    let fetched: Awaited<ReturnType<typeof source.bulkGet>>;
    try {
      fetched = await call(() => source.bulkGet(group, { revs: true, latest: true, signal }));
    } catch (err) {
      // An answer past the client's size limit: asked again in halves, as a write too large is;
      // a single revision too large to carry is a failure of that document, as CouchDB counts one.
      if (!isRefugeError(err, 'too_large')) throw err;
      if (group.length === 1) {
        result.failures.push({ id: group[0]!.id, rev: group[0]!.rev, error: 'too_large', reason: err.reason });
        result.docWriteFailures++;
        return [];
      }
      const half = Math.ceil(group.length / 2);
      return [...(await fetch(group.slice(0, half))), ...(await fetch(group.slice(half)))];
    }
    const { docs, unresolved } = take(fetched, group);
    return unresolved.length === 0 ? docs : [...docs, ...(await refetch(unresolved))];
  };
  /**
   * The documents of an answer to `group`, and the revisions it did not give (an error entry, or
   * no entry at all for an id asked).
   */
  const take = (fetched: BulkGetResult, group: readonly BulkGetRequest[]): { docs: Doc[]; unresolved: Unresolved[] } => {
    const docs: Doc[] = [];
    const unresolved: Unresolved[] = [];
    const answered = new Set<string>();
    for (const { id, docs: entries } of fetched.results) {
      for (const entry of entries ?? []) {
        if (!('ok' in entry)) {
          const failedId = entry.error?.id ?? id;
          if (typeof failedId === 'string' && asked.has(failedId)) {
            answered.add(failedId);
            const rev = entry.error?.rev;
            // An error naming no revision stands for every revision of that id asked here.
            for (const r of group) if (r.id === failedId && (typeof rev !== 'string' || r.rev === rev)) unresolved.push({ ...r, why: describeEntry(entry) });
          }
          continue;
        }
        if (!asked.has(entry.ok._id!)) throw new RefugeError('bad_gateway', `the source answered document ${JSON.stringify(entry.ok._id)}, which was not asked for`);
        answered.add(entry.ok._id!);
        const key = `${entry.ok._id}\u0000${entry.ok._rev}`;
        if (seen.has(key)) continue;
        seen.add(key);
        docs.push(entry.ok);
      }
    }
    for (const r of group) if (!answered.has(r.id)) unresolved.push({ ...r, why: 'not in the answer' });
    return { docs, unresolved: dedupe(unresolved) };
  };
  /**
   * Revisions the source listed in its changes but did not return (a failing shard, a lagging
   * replica, a purge since): asked again after the replication's back-off, and never skipped, as
   * CouchDB's missing_doc: a checkpoint past them would leave them behind for good. Still missing
   * after REFETCH_ASKS asks (or once the retry policy gives up), the batch fails: a continuous
   * replication starts again from its checkpoint, where a purged revision no longer shows in the
   * changes, and a job tries a failed one-shot run again later.
   */
  const refetch = async (group: readonly Unresolved[]): Promise<Doc[]> => {
    const docs: Doc[] = [];
    let left = group;
    let asks = 0;
    await call(async () => {
      // Not asked again at once: the peer already tried them one by one (HttpPeer reads _bulk_get's
      // errors again with open_revs); the first failure is reported, and waited out, like any other.
      if (asks++ === 0) throw missingRevisions(left);
      const requests = left.map(({ id, rev }) => ({ id, rev }));
      const again = take(await source.bulkGet(requests, { revs: true, latest: true, signal }), requests);
      docs.push(...again.docs);
      left = again.unresolved;
      if (left.length === 0) return;
      // Asked often enough: the changes may have moved on (a revision purged since they were read
      // shows no more), so the replication reads them again from its checkpoint (Replication.restartAfter).
      throw asks > REFETCH_ASKS ? missingRevisions(left, 'missing_doc') : missingRevisions(left);
    });
    return docs;
  };
  const write = async (docs: Doc[]): Promise<void> => {
    if (docs.length === 0) return;
    let failures = await writeDocs(target, docs, call, signal);
    // A stub the target could not resolve (the revision it named lacks that attachment, or it looks
    // stubs up by a digest of its own): those documents are read again with all their attachments
    // and written once more, as CouchDB's replicator does.
    const stubbed = failures.filter((f) => f.error === 'missing_stub');
    if (stubbed.length > 0) {
      const again = docs.filter((d) => stubbed.some((f) => f.id === d._id && (f.rev === undefined || f.rev === d._rev))).map((d) => ({ id: d._id!, rev: d._rev! }));
      for (const r of again) seen.delete(`${r.id}\u0000${r.rev}`);
      const refailed = again.length > 0 ? await writeDocs(target, await fetch(again), call, signal) : stubbed;
      failures = [...failures.filter((f) => f.error !== 'missing_stub'), ...refailed];
    }
    result.failures.push(...failures);
    result.docWriteFailures += failures.length;
    result.docsWritten += docs.length - failures.length;
  };

  const groups = groupRequests(requests, rows);
  if (groups.length <= 1) {
    // The common case: one _bulk_get, one _bulk_docs.
    if (groups.length === 1) result.docs.push(...(await fetch(groups[0]!)));
    result.docsRead = result.docs.length;
    await write(result.docs);
    return result;
  }
  // Large attachments: each group is fetched and written before the next, so neither the source's
  // answer nor what is held here grows with the batch; written docs keep stubs, not the bytes.
  const written = result.docs.splice(0);
  await write(written);
  for (const group of groups) {
    const docs = await fetch(group);
    await write(docs);
    for (const d of docs) written.push(withStubs(d));
  }
  result.docs = written;
  result.docsRead = written.length;
  return result;
}

/** A revision asked of the source and not returned, with what the source said of it. */
interface Unresolved extends BulkGetRequest {
  why: string;
}

function describeEntry(entry: { error?: { error?: unknown; reason?: unknown } }): string {
  const { error, reason } = entry.error ?? {};
  return [error, reason].filter((x) => typeof x === 'string' && x !== '').join(': ') || 'an error';
}

function dedupe(list: Unresolved[]): Unresolved[] {
  const byKey = new Map<string, Unresolved>();
  for (const r of list) byKey.set(`${r.id}\u0000${r.rev}`, r);
  return [...byKey.values()];
}

/** Times revisions the source did not return are asked again before the batch gives up on them. */
const REFETCH_ASKS = 3;

/**
 * `unavailable`, retried: the source may give the revisions on a later attempt (a shard back, a
 * replica caught up). `missing_doc` once asked often enough: the batch fails without them.
 */
function missingRevisions(left: readonly Unresolved[], code: 'unavailable' | 'missing_doc' = 'unavailable'): RefugeError {
  const named = left.slice(0, 3).map((r) => `${JSON.stringify(r.id)} ${r.rev ?? '(winner)'} (${r.why})`).join(', ');
  const more = left.length > 3 ? ` and ${left.length - 3} more` : '';
  return new RefugeError(code, `the source did not return revisions its changes listed: ${named}${more} (never skipped: asked again, or the batch fails)`, { status: 502 });
}

/** Attachment bytes a single `_bulk_get` may carry before the next documents go in another one. */
const GROUP_ATTACHMENT_BYTES = 4 * 1024 * 1024;

/**
 * `requests` in groups whose attachments (as the changes rows announce them) stay near
 * GROUP_ATTACHMENT_BYTES; documents of unknown size (other branches) join the current group.
 */
function groupRequests(requests: readonly BulkGetRequest[], rows: readonly PeerChangeRow[]): BulkGetRequest[][] {
  if (requests.length === 0) return [];
  const sizes = new Map<string, number>();
  for (const row of rows) if (row.attachmentBytes) sizes.set(row.id, row.attachmentBytes);
  if (sizes.size === 0) return [[...requests]];
  const groups: BulkGetRequest[][] = [[]];
  let bytes = 0;
  for (const r of requests) {
    const size = sizes.get(r.id) ?? 0;
    if (bytes > 0 && bytes + size > GROUP_ATTACHMENT_BYTES) {
      groups.push([]);
      bytes = 0;
    }
    groups[groups.length - 1]!.push(r);
    bytes += size;
  }
  return groups;
}

/** The document with its attachments' inline bytes dropped for stubs (what progress events keep). */
function withStubs(doc: Doc): Doc {
  const atts = doc._attachments as Record<string, Record<string, unknown>> | undefined;
  if (!atts) return doc;
  const stubs: Record<string, Record<string, unknown>> = {};
  for (const [name, { data: _d, follows: _f, ...meta }] of Object.entries(atts)) stubs[name] = { ...meta, stub: true };
  return { ...doc, _attachments: stubs };
}

/** Writes with new_edits:false; a body the target finds too large is split in halves (as CouchDB's replicator does). */
async function writeDocs(target: ReplicationPeer, docs: readonly Doc[], call: Call, signal: AbortSignal): Promise<PeerWriteResult[]> {
  try {
    // A target that takes only base64 is given it (a local source hands bytes on unread).
    const results = await call(async () => target.bulkDocs(target.capabilities.attachmentBytes ? docs : await withBase64(docs), { newEdits: false, signal }));
    return results.filter((r) => r.error !== undefined);
  } catch (err) {
    // A body past the target's request limit (too_large), one document past its document limit
    // (document_too_large, CouchDB 3's 413 naming it), or attachment bytes gone from the source
    // since they were listed (gone): halves until that document is alone, and it fails.
    if (!isRefugeError(err, 'too_large') && !isRefugeError(err, 'document_too_large') && !isRefugeError(err, 'gone')) throw err;
    if (docs.length === 1) return [{ id: String(docs[0]!._id), rev: docs[0]!._rev, error: err.code, reason: err.reason }];
    const half = Math.ceil(docs.length / 2);
    return [...(await writeDocs(target, docs.slice(0, half), call, signal)), ...(await writeDocs(target, docs.slice(half), call, signal))];
  }
}
