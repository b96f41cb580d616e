// Compaction: drop the bodies of revisions that are no longer leaves (the tree itself is kept,
// stemmed to revs_limit), then ask the engine to reclaim the space on disk. Also the path index
// rebuild, which walks every record the same way, and the full merge of its postings.

import type { DbCore } from './core.ts';
import { decodeMeta, decodeRecord, replaceHead } from './doc-record.ts';
import { docKey, revBodyKey } from './keys.ts';
import { mergeAllPostings } from './posting-merge.ts';
import { dropInternalBodies, stem } from './rev-stemming.ts';
import type { WriteBatch } from './write-batch.ts';
import type { JobMode, Writer } from './writer.ts';

const CHUNK = 500;
/** A background chunk grows with the writes between chunks (Writer.lastGroupKeys), up to this. */
const MAX_CHUNK = 20_000;

/**
 * Visits every document record in chunks; each chunk is one writer job of its own, so documents
 * cannot change under it and writes in between are never lost. A chunk reads storage through a
 * snapshot and the writer's unflushed records taken at the same moment; in `'background'` mode it
 * does not wait for writes to reach storage, and records only written since the compaction began
 * (not yet in storage) are left for the next one.
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

/** A compaction under way, as `_active_tasks` shows it (CouchDB's `database_compaction`). */
export interface CompactionTask {
  startedOn: number;
  updatedOn: number;
  /** Document records visited so far, of `totalChanges` when it started. */
  changesDone: number;
  totalChanges: number;
}

/** Runs a database's compactions, one at a time: asked again while one runs, it answers that one. */
export class Compactor {
  private running: { promise: Promise<{ droppedBodies: number }>; task: CompactionTask } | undefined;

  constructor(
    private readonly core: DbCore,
    private readonly writer: Writer,
  ) {}

  /** The compaction under way, if any (a copy). */
  get task(): CompactionTask | undefined {
    return this.running && { ...this.running.task };
  }

  run(): Promise<{ droppedBodies: number }> {
    if (this.running) return this.running.promise;
    const now = Date.now();
    const task: CompactionTask = { startedOn: now, updatedOn: now, changesDone: 0, totalChanges: this.core.state.docCount + this.core.state.delCount };
    const promise = compact(this.core, this.writer, () => {
      task.changesDone++;
      task.updatedOn = Date.now();
    }).finally(() => (this.running = undefined));
    this.running = { promise, task };
    return promise;
  }
}

async function compact(core: DbCore, writer: Writer, visited: () => void = () => undefined): Promise<{ droppedBodies: number }> {
  let droppedBodies = 0;
  // Every write made before the compaction was asked for reaches storage first: the passes below
  // see only what is there (and what is unflushed of it), and a document written just before
  // (not in storage at all yet) would be skipped. One wait, at the start only.
  const addedBefore = await writer.submit(async (batch) => batch.state.oldBodyAdded, true);
  await forEachRecordChunk(core, writer, 'background', (batch, key, id, value) => {
    visited();
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
    if (tree !== rec.tree) {
      const record = replaceHead(value, { ...rec, tree });
      batch.setRaw(key, record);
      // The live records' bytes (sizes.external) follow every rewrite, as a write's do.
      batch.state.liveBytes += record.length - value.length;
    }
  });
  await mergeAllPostings(core, writer);
  // Background passes are acknowledged unflushed: this one waits until all of them are in storage.
  // The old bodies counted before the start are gone; those counted since may not all be (what
  // purges and stemming took off meanwhile may have been either): all of these are kept counted.
  await writer.submit(async (batch) => {
    batch.state.oldBodyBytes = batch.state.oldBodyAdded - addedBefore;
  }, true);
  if (core.store.capabilities.compactRange) await core.store.compactRange!({ gte: '', lt: '\u007f' });
  return { droppedBodies };
}
