// One batch of the protocol: the changes' revisions → revs_diff on the target → _bulk_get of the
// missing ones from the source (with their histories) → _bulk_docs new_edits:false on the target.

import type { BulkGetRequest, Doc } from '../documents/index.ts';
import { isRefugeError } from '../errors/index.ts';
import type { PeerChangeRow, PeerWriteResult, ReplicationPeer } from './peer.ts';

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
  const revs: Record<string, string[]> = {};
  let missingChecked = 0;
  for (const row of rows) {
    const known = (revs[row.id] ??= []);
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
  for (const id in diff) {
    const doc = carried.get(id);
    for (const rev of diff[id]!.missing) {
      result.missingFound++;
      if (doc !== undefined && doc._rev === rev) result.docs.push(doc);
      else requests.push({ id, rev });
    }
  }
  if (result.missingFound === 0) return result;

  if (requests.length > 0) {
    const fetched = await call(() => source.bulkGet(requests, { revs: true, latest: true, signal }));
    // `latest` can answer two requests of one branch with the same newest leaf: send it once.
    const seen = new Set(result.docs.map((d) => `${d._id}\u0000${d._rev}`));
    for (const { docs } of fetched.results) {
      for (const entry of docs) {
        // A revision the source no longer has (compacted or purged since the changes read) is skipped,
        // as CouchDB does: the next changes entry for that document brings its newer leaf.
        if (!('ok' in entry)) continue;
        const key = `${entry.ok._id}\u0000${entry.ok._rev}`;
        if (seen.has(key)) continue;
        seen.add(key);
        result.docs.push(entry.ok);
      }
    }
  }
  result.docsRead = result.docs.length;
  if (result.docs.length === 0) return result;

  result.failures = await writeDocs(target, result.docs, call, signal);
  result.docWriteFailures = result.failures.length;
  result.docsWritten = result.docs.length - result.failures.length;
  return result;
}

/** Writes with new_edits:false; a body the target finds too large is split in halves (as CouchDB's replicator does). */
async function writeDocs(target: ReplicationPeer, docs: readonly Doc[], call: Call, signal: AbortSignal): Promise<PeerWriteResult[]> {
  try {
    const results = await call(() => target.bulkDocs(docs, { newEdits: false, signal }));
    return results.filter((r) => r.error !== undefined);
  } catch (err) {
    if (!isRefugeError(err, 'too_large')) throw err;
    if (docs.length === 1) return [{ id: String(docs[0]!._id), rev: docs[0]!._rev, error: 'too_large', reason: err.reason }];
    const half = Math.ceil(docs.length / 2);
    return [...(await writeDocs(target, docs.slice(0, half), call, signal)), ...(await writeDocs(target, docs.slice(half), call, signal))];
  }
}
