// Compaction: drop the bodies of revisions that are no longer leaves (the tree itself is kept,
// stemmed to revs_limit), then ask the engine to reclaim the space on disk. Also the path index
// rebuild, which walks every record the same way, and the full merge of its postings.

import type { DbCore } from './core.ts';
import { decodeMeta, decodeRecord, replaceHead } from './doc-record.ts';
import { docKey, revBodyKey } from './keys.ts';
import { mergeAllPostings } from './posting-merge.ts';
import { dropInternalBodies, stem } from './rev-tree.ts';
import type { WriteBatch } from './write-batch.ts';
import type { JobMode, Writer } from './writer.ts';

const CHUNK = 500;
/** A background chunk grows with the writes between chunks (Writer.lastGroupKeys), up to this. */
const MAX_CHUNK = 20_000;

/**
 * Visits every document record in chunks; each chunk is one writer job of its own, so documents
 * cannot change under it and writes in between are never lost. A chunk reads storage through a
 * snapshot and the writer's unflushed records taken at the same moment; in `'background'` mode it
 * does not wait for writes to reach storage, and records only written since (not yet in storage)
 * are left for the next pass.
 */
async function forEachRecordChunk(
  core: DbCore,
  writer: Writer,
  mode: JobMode,
  visit: (batch: WriteBatch, key: string, id: string, value: string) => void,
): Promise<void> {
  let cursor: string | undefined;
  for (;;) {
    const next = await writer.submit(async (batch) => {
      let last: string | undefined;
      let seen = 0;
      // Records visited per job at least match the keys the writes in between changed (~3 per
      // document): with new ids landing ahead of the cursor, a fixed chunk could fall behind for good.
      const limit = mode === 'background' ? Math.min(MAX_CHUNK, Math.max(CHUNK, writer.lastGroupKeys)) : CHUNK;
      const range = cursor === undefined ? { gte: 'd!', lt: 'd"' } : { gt: docKey(cursor), lt: 'd"' };
      const pending = writer.pendingView();
      const snapshot = core.store.snapshot();
      try {
        for await (const chunk of snapshot.scan({ ...range, limit }, 500)) {
          for (const [key, stored] of chunk) {
            seen++;
            last = key.slice(2);
            const value = pending(key);
            if (value !== null) visit(batch, key, last, value ?? stored);
          }
        }
      } finally {
        await snapshot.close();
      }
      return seen < limit ? undefined : last;
    }, mode);
    if (next === undefined) return;
    cursor = next;
  }
}

/** Re-adds the path index entries of every live winner (autoIndex must already be on). */
export async function rebuildPathIndex(core: DbCore, writer: Writer): Promise<void> {
  await forEachRecordChunk(core, writer, true, (batch, _key, id, value) => {
    const rec = decodeRecord(id, value);
    if (rec.deleted) return;
    core.indexEntries(rec.body, (path, v) => batch.indexPut(id, path, v));
  });
}

export async function compact(core: DbCore, writer: Writer): Promise<{ droppedBodies: number }> {
  let droppedBodies = 0;
  await forEachRecordChunk(core, writer, 'background', (batch, key, id, value) => {
    // The head alone: a body is neither parsed nor serialized again.
    const rec = decodeMeta(value);
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
    if (tree !== rec.tree) batch.setRaw(key, replaceHead(value, { ...rec, tree }));
  });
  await mergeAllPostings(core, writer);
  // Background passes are acknowledged unflushed: this one waits until all of them are in storage.
  await writer.submit(async () => undefined, true);
  if (core.store.capabilities.compactRange) await core.store.compactRange!({ gte: '', lt: '\u007f' });
  return { droppedBodies };
}
