// The database's maintenance and settings: compaction, purge and its limit, revs_limit, and the
// automatic path index switched on (rebuilt) or off. Each is a writer job, or a run of them.

import { RefugeError } from '../errors/index.ts';
import { Compactor, rebuildPathIndex, type CompactionTask } from './compaction.ts';
import type { DbCore } from './core.ts';
import { DatabaseBase, type OpenDatabaseOptions } from './database-base.ts';
import { purge, purgedInfos, purgedSince, setPurgedInfosLimit, type PurgeResult } from './purge.ts';
import type { Rev } from './rev-tree.ts';
import { validateRevsLimit } from './validate.ts';

export abstract class DatabaseMaintenance extends DatabaseBase {
  private readonly compactor: Compactor;

  protected constructor(core: DbCore, options: OpenDatabaseOptions) {
    super(core, options);
    this.compactor = new Compactor(core, this.writer);
  }

  /** Whether a compaction or purge notes the attachments it may drop: watched, and the database ever had some. */
  private get attachmentsWatched(): boolean {
    return this.dropsWatched && this.core.state.attachmentsSeen !== false;
  }

  /** Drops old revision bodies and reclaims their space; asked while one runs, answers that one. */
  async compact(): Promise<{ droppedBodies: number }> {
    this.check();
    // What attachments named before: the node's gc deletes among those only (a scan, when watched).
    // A compaction drops bodies of revisions that are not winners: theirs alone.
    const named = this.attachmentsWatched ? await this.namedAttachments({ winners: false }) : undefined;
    return this.droppingRevisions(named, () => this.compactor.run(), (result) => result.droppedBodies > 0);
  }

  /**
   * The bytes of the bodies kept for old revisions (what compaction drops) and of the live
   * documents' records, as writes counted them (uncompressed): CouchDB's file size is about their sum.
   */
  get revisionBytes(): { old: number; live: number } {
    return { old: this.core.state.oldBodyBytes, live: this.core.state.liveBytes };
  }

  /** The compaction under way, if any (CouchDB's `compact_running`, `_active_tasks`). */
  get compaction(): CompactionTask | undefined {
    return this.compactor.task;
  }

  /**
   * CouchDB's purge: each named leaf revision goes with the branch only it needed; a document left
   * without leaves is gone entirely. Admin-only on the wire; not replicated.
   */
  async purge(request: Record<string, Rev[]>): Promise<PurgeResult> {
    this.check();
    const touchesDesign = request !== null && typeof request === 'object' && Object.keys(request).some((id) => id.startsWith('_design/'));
    try {
      const named = this.attachmentsWatched ? await this.namedAttachments() : undefined;
      return await this.droppingRevisions(named, () => purge(this.core, this.writer, request), (result) => Object.values(result.purged).some((revs) => revs.length > 0));
    } finally {
      if (touchesDesign) this.hooks.designWritten?.();
    }
  }

  /** The purges remembered (the newest `purged_infos_limit`), oldest first. */
  async purgedInfos(): Promise<Array<{ id: string; revs: Rev[] }>> {
    await this.settle();
    return this.withSnapshot((snap) => purgedInfos(snap));
  }

  /** Documents purged after update seq `since` (for indexers); `complete` false: rebuild instead. */
  async purgedSince(since: number): Promise<{ ids: string[]; complete: boolean }> {
    await this.settle();
    return this.withSnapshot((snap) => purgedSince(snap, () => this.core.state, since));
  }

  async setPurgedInfosLimit(limit: number): Promise<void> {
    this.check();
    await setPurgedInfosLimit(this.core, this.writer, limit);
  }

  getPurgedInfosLimit(): number {
    return this.core.state.purgedInfosLimit;
  }

  async setRevsLimit(limit: number): Promise<void> {
    this.check();
    const n = validateRevsLimit(limit);
    await this.writer.submit(async (batch) => {
      batch.state.revsLimit = n;
    }, true);
  }

  getRevsLimit(): number {
    return this.core.state.revsLimit;
  }

  /** Turns the automatic path index on (rebuilding it) or off (dropping it). */
  async setAutoIndex(on: boolean): Promise<void> {
    this.check();
    if (typeof on !== 'boolean') throw new RefugeError('bad_request', 'autoIndex must be true or false');
    // Not ready is stored with the switch, in one write: until the rebuild below has visited every
    // document, queries scan documents instead, and a restart rebuilds again.
    await this.writer.submit(async (batch) => {
      batch.state.autoIndex = on;
      batch.state.pathIndexReady = false;
    }, true);
    await this.core.store.clear({ gte: 'i!', lt: 'i"' });
    if (!on) return;
    const build = rebuildPathIndex(this.core, this.writer).then(() =>
      this.writer.submit(async (batch) => {
        // Turned off (or on again) meanwhile: that call owns the flag now.
        if (this.indexBuild === build) batch.state.pathIndexReady = batch.state.autoIndex;
      }, true),
    );
    this.indexBuild = build;
    await build;
  }
}
