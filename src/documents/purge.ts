// Purge (CouchDB 3): removes leaf revisions with the branch only they needed, or a whole document as
// if it had never been written, and keeps the last `purged_infos_limit` requests as purge infos.

import { RefugeError } from '../errors/index.ts';
import type { KvReader } from '../storage/index.ts';
import type { DbCore, DbState } from './core.ts';
import { PURGE_INFO, purgeInfoKey } from './keys.ts';
import { ancestry, isValidRev, type Rev, type RevTree } from './rev-tree.ts';
import { leaves } from './rev-leaves.ts';
import type { WriteBatch } from './write-batch.ts';
import type { Writer } from './writer.ts';

/** CouchDB's `[purge] max_document_id_number` and `max_revisions_number` defaults. */
export const MAX_PURGE_IDS = 100;
export const MAX_PURGE_REVS = 1000;

export interface PurgeResult {
  /** The database's purge sequence after this request. */
  purgeSeq: number;
  /** Per document id named, the leaf revisions removed (none when no named rev was a leaf). */
  purged: Record<string, Rev[]>;
}

/** What a stored purge info holds: the request for one id, and the update seq it was applied at. */
interface PurgeInfo {
  id: string;
  revs: Rev[];
  seq: number;
}

const PURGE_INFO_END = PURGE_INFO.slice(0, -1) + String.fromCharCode(PURGE_INFO.charCodeAt(PURGE_INFO.length - 1) + 1);

/** Checks a purge request whole before anything is queued: a bad one changes nothing. */
export function parsePurgeRequest(request: unknown): Map<string, Rev[]> {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new RefugeError('bad_request', 'Request body must be a JSON object');
  }
  const entries = Object.entries(request as Record<string, unknown>);
  if (entries.length > MAX_PURGE_IDS) throw new RefugeError('bad_request', 'Exceeded maximum number of documents.');
  const out = new Map<string, Rev[]>();
  let total = 0;
  for (const [id, revs] of entries) {
    // A lone surrogate cannot be a stored id, and would alias another key once encoded as UTF-8.
    if (!(id as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new RefugeError('bad_request', 'Document id must be valid UTF-8');
    }
    if (!Array.isArray(revs)) throw new RefugeError('bad_request', `Revisions to purge of ${JSON.stringify(id)} must be an array`);
    for (const rev of revs) if (!isValidRev(rev)) throw new RefugeError('bad_request', 'Invalid rev format');
    total += revs.length;
    if (total > MAX_PURGE_REVS) throw new RefugeError('bad_request', 'Exceeded maximum number of revisions.');
    out.set(id, [...new Set(revs as Rev[])]);
  }
  return out;
}

/**
 * CouchDB's `remove_leafs`: drops the named revisions that are leaves, and every ancestor no
 * remaining leaf descends from. Other named revisions are ignored. Pure.
 */
export function removeLeaves(tree: RevTree, revs: readonly Rev[]): { tree: RevTree; removed: Rev[] } {
  const all = leaves(tree);
  const leafSet = new Set(all);
  const removed = [...new Set(revs)].filter((r) => leafSet.has(r));
  if (removed.length === 0) return { tree, removed };
  const gone = new Set(removed);
  const keep = new Set<Rev>();
  for (const leaf of all) if (!gone.has(leaf)) for (const rev of ancestry(tree, leaf)) keep.add(rev);
  const out: RevTree = new Map();
  for (const [rev, node] of tree) if (keep.has(rev)) out.set(rev, node);
  return { tree: out, removed };
}

export function validatePurgedInfosLimit(limit: unknown): number {
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw new RefugeError('bad_request', '`purged_infos_limit` must be positive integer');
  }
  return limit as number;
}

/**
 * Applies a purge as one exclusive writer job: atomic, after every earlier write is in storage (so
 * the purge infos to trim can be read from it), and before any later write.
 */
export async function purge(core: DbCore, writer: Writer, request: unknown): Promise<PurgeResult> {
  const wanted = parsePurgeRequest(request);
  return writer.submit(async (batch) => {
    const state = batch.state;
    const purged: Record<string, Rev[]> = {};
    if (wanted.size === 0) return { purgeSeq: state.purgeSeq, purged };
    await batch.preload(wanted.keys());
    const seqBefore = state.seq;
    for (const [id, revs] of wanted) {
      const current = await batch.current(id);
      const { tree, removed } = current ? removeLeaves(current.tree, revs) : { tree: undefined, removed: [] };
      // defineProperty: an id like `__proto__` must become a key, not a prototype.
      Object.defineProperty(purged, id, { value: removed, enumerable: true, writable: true, configurable: true });
      if (!current || removed.length === 0) continue;
      // A purged document keeps no sequence entry; one with leaves left moves to a new sequence.
      if (leaves(tree!).length === 0) batch.drop(id, current);
      else await batch.prune(id, current, tree!);
    }
    // The update seq always moves (as in CouchDB), so indexers notice purges of whole documents.
    if (state.seq === seqBefore) state.seq++;
    const infos = [...wanted].map(([id, revs]): PurgeInfo => ({ id, revs, seq: state.seq }));
    const first = state.purgeSeq + 1;
    state.purgeSeq += infos.length;
    const keepFrom = state.purgeSeq - state.purgedInfosLimit + 1;
    infos.forEach((info, i) => {
      if (first + i >= keepFrom) batch.setRaw(purgeInfoKey(first + i), JSON.stringify(info));
      else state.purgeTrimmedSeq = Math.max(state.purgeTrimmedSeq, info.seq);
    });
    await trimPurgeInfos(core, batch, first);
    return { purgeSeq: state.purgeSeq, purged };
  }, true);
}

/** Sets `purged_infos_limit`, dropping the purge infos beyond it at once. */
export async function setPurgedInfosLimit(core: DbCore, writer: Writer, limit: unknown): Promise<void> {
  const n = validatePurgedInfosLimit(limit);
  await writer.submit(async (batch) => {
    batch.state.purgedInfosLimit = n;
    await trimPurgeInfos(core, batch, batch.state.purgeSeq + 1);
  }, true);
}

/**
 * Drops stored purge infos older than the limit allows. Runs inside an exclusive job, so storage
 * holds every info below `stored` (the first purge seq this batch writes).
 */
async function trimPurgeInfos(core: DbCore, batch: WriteBatch, stored: number): Promise<void> {
  const state = batch.state;
  const last = Math.min(state.purgeSeq - state.purgedInfosLimit, stored - 1);
  if (last < 1) return;
  for await (const chunk of core.store.scan({ gte: PURGE_INFO, lte: purgeInfoKey(last) }, 256)) {
    for (const [key, value] of chunk) {
      state.purgeTrimmedSeq = Math.max(state.purgeTrimmedSeq, (JSON.parse(value) as PurgeInfo).seq);
      batch.setRaw(key, null);
    }
  }
}

/**
 * Ids of documents purged after update seq `since`, newest purges first, from the infos kept.
 * `complete` is false when infos the caller needs were already dropped: an index that far behind
 * must be rebuilt. `state` is read after `reader` was opened, so it is never older than it.
 */
export async function purgedSince(reader: KvReader, state: () => DbState, since: number): Promise<{ ids: string[]; complete: boolean }> {
  const ids = new Set<string>();
  if (state().purgeTrimmedSeq > since) return { ids: [], complete: false };
  // Infos are in purge order and their update seqs never decrease along it: stop at the first old one.
  scan: for await (const chunk of reader.scan({ gte: PURGE_INFO, lt: PURGE_INFO_END, reverse: true }, 64)) {
    for (const [, value] of chunk) {
      const info = JSON.parse(value) as PurgeInfo;
      if (info.seq <= since) break scan;
      ids.add(info.id);
    }
  }
  return { ids: [...ids], complete: true };
}

/** The purge infos kept (at most `purged_infos_limit`), oldest first: CouchDB's `_purged_infos`. */
export async function purgedInfos(reader: KvReader): Promise<Array<{ id: string; revs: Rev[] }>> {
  const out: Array<{ id: string; revs: Rev[] }> = [];
  for await (const chunk of reader.scan({ gte: PURGE_INFO, lt: PURGE_INFO_END }, 256)) {
    for (const [, value] of chunk) {
      const { id, revs } = JSON.parse(value) as PurgeInfo;
      out.push({ id, revs });
    }
  }
  return out;
}
