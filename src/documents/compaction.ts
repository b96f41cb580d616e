// Compaction: drop the bodies of revisions that are no longer leaves (the tree itself is kept,
// stemmed to revs_limit), then ask the engine to reclaim the space on disk. Also the path index
// rebuild, which walks every record the same way, and the full merge of its postings.

import type { DbCore } from './core.ts';
import { decodeRecord, encodeRecord } from './doc-record.ts';
import { docKey, revBodyKey } from './keys.ts';
import { mergeAllPostings } from './posting-merge.ts';
import { dropInternalBodies, stem } from './rev-tree.ts';
import type { WriteBatch } from './write-batch.ts';
import type { Writer } from './writer.ts';

const CHUNK = 500;

/**
 * Visits every document record in chunks; each chunk is one exclusive write job, so documents
 * cannot change under it and writes in between are never lost.
 */
async function forEachRecordChunk(
  core: DbCore,
  writer: Writer,
  visit: (batch: WriteBatch, key: string, id: string, value: string) => void,
): Promise<void> {
  let cursor: string | undefined;
  for (;;) {
    const next = await writer.submit(async (batch) => {
      let last: string | undefined;
      let seen = 0;
      const range = cursor === undefined ? { gte: 'd!', lt: 'd"' } : { gt: docKey(cursor), lt: 'd"' };
      for await (const chunk of core.store.scan({ ...range, limit: CHUNK }, CHUNK)) {
        for (const [key, value] of chunk) {
          seen++;
          last = key.slice(2);
          visit(batch, key, last, value);
        }
      }
      return seen < CHUNK ? undefined : last;
    }, true);
    if (next === undefined) return;
    cursor = next;
  }
}

/** Re-adds the path index entries of every live winner (autoIndex must already be on). */
export async function rebuildPathIndex(core: DbCore, writer: Writer): Promise<void> {
  await forEachRecordChunk(core, writer, (batch, _key, id, value) => {
    const rec = decodeRecord(id, value);
    if (rec.deleted) return;
    core.indexEntries(rec.body, (path, v) => batch.indexPut(id, path, v));
  });
}

export async function compact(core: DbCore, writer: Writer): Promise<{ droppedBodies: number }> {
  let droppedBodies = 0;
  await forEachRecordChunk(core, writer, (batch, key, id, value) => {
    const rec = decodeRecord(id, value);
    const stemmed = stem(rec.tree, core.state.revsLimit);
    const { tree, dropped } = dropInternalBodies(stemmed);
    for (const [rev, node] of rec.tree) {
      if (!stemmed.has(rev) && node.available && rev !== rec.rev) {
        batch.setRaw(revBodyKey(id, rev), null);
        droppedBodies++;
      }
    }
    for (const rev of dropped) batch.setRaw(revBodyKey(id, rev), null);
    droppedBodies += dropped.length;
    if (tree !== rec.tree) batch.setRaw(key, encodeRecord({ ...rec, tree }));
  });
  await mergeAllPostings(core, writer);
  if (core.store.capabilities.compactRange) await core.store.compactRange!({ gte: '', lt: '\u007f' });
  return { droppedBodies };
}
