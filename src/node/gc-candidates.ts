// The node's own blob gc's candidates, kept in the node's catalog so they outlive a restart: a
// database deleted (or compacted) just before the node stopped would otherwise leave its
// attachments' blobs to gc by hand for good.

import type { KvOp, KvStore } from '../storage/index.ts';
import type { CandidateLog } from './auto-blob-gc.ts';

const PREFIX = 'gc!';
const END = 'gc"';

/** Catalog writes that note `ids` as candidates: put in the same batch as what drops them (a database's deletion). */
export function candidatePuts(ids: Iterable<string>): KvOp[] {
  const ops: KvOp[] = [];
  for (const id of ids) ops.push({ type: 'put', key: PREFIX + id, value: '' });
  return ops;
}

/**
 * Not synced, but for a compaction's or a purge's note, written before they drop anything: another
 * candidate lost with the machine (not the process) only waits for gc by hand, and one whose
 * removal is lost is looked at once more.
 */
export function catalogCandidateLog(catalog: KvStore): CandidateLog {
  return {
    async load() {
      const ids: string[] = [];
      for await (const keys of catalog.scanKeys({ gte: PREFIX, lt: END })) for (const k of keys) ids.push(k.slice(PREFIX.length));
      return ids;
    },
    add: (ids, sync) => catalog.batch(candidatePuts(ids), sync ? { sync: true } : undefined),
    remove: (ids) => catalog.batch(ids.map((id) => ({ type: 'del' as const, key: PREFIX + id }))),
  };
}
