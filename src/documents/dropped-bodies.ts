// The bodies a write batch's stemming dropped, by document. CouchDB stems a document once, after
// merging all of a batch's edits of it: a body dropped by one edit may be kept by a later one.

import type { BatchRecords } from './batch-records.ts';
import type { DocRecord } from './doc-record.ts';
import { revBodyKey } from './keys.ts';
import type { RevTree } from './rev-tree.ts';

/**
 * Revisions whose bodies stemming dropped, by document: deleted once the batch is done, unless
 * the final tree kept them (a later edit in the batch brought them within revs_limit again).
 */
export class DroppedBodies {
  /** Made on the first body dropped: most batches stem nothing. */
  private byId: Map<string, Set<string>> | undefined;

  add(id: string, rev: string): void {
    const byId = (this.byId ??= new Map());
    let revs = byId.get(id);
    if (revs === undefined) byId.set(id, (revs = new Set()));
    revs.add(rev);
  }

  /**
   * Adds the bodies of revisions that stemming `grown` into `tree` dropped, and answers those that
   * leave the stored tree now (`current`'s, or one not in `base`): those an earlier edit of the
   * batch dropped already were counted.
   */
  addStemmed(id: string, current: DocRecord, grown: RevTree, tree: RevTree, base: RevTree | undefined): string[] | undefined {
    let stemmed: string[] | undefined;
    for (const [rev, node] of grown) {
      if (!tree.has(rev) && node.available && rev !== current.rev) {
        this.add(id, rev);
        if (current.tree.has(rev) || !base?.has(rev)) (stemmed ??= []).push(rev);
      }
    }
    return stemmed;
  }

  /**
   * Deletes (in `ops`) the bodies stemming dropped that the documents' final trees do not hold;
   * answers their keys.
   */
  deleteUnkept(records: BatchRecords, ops: Map<string, string | null>): string[] {
    if (this.byId === undefined) return [];
    const deleted: string[] = [];
    for (const [id, revs] of this.byId) {
      const record = records.loaded(id);
      for (const rev of revs) {
        if (!record?.holds(rev) || record.rev === rev) {
          const key = revBodyKey(id, rev);
          ops.set(key, null);
          deleted.push(key);
        }
      }
    }
    this.byId.clear();
    return deleted;
  }
}
