// The records one job's interactive edits found, by id: CouchDB checks every interactive edit of a
// request against the stored document (couch_db:prep_and_validate_updates), so an edit of a
// document the same request edited before is judged against what that first edit found.

import type { DocRecord } from './doc-record.ts';
import { checkRequestStart } from './edits.ts';
import type { SplitDoc } from './validate.ts';

/**
 * The first document a job edits is held in two fields, the others in a map made on the second:
 * most jobs are one put, and a write group that is one put made this map for nothing.
 */
export class JobStarts {
  private firstId: string | undefined;
  private firstRecord: DocRecord | undefined;
  private others: Map<string, DocRecord | undefined> | undefined;

  /** A job begins: no document edited yet. */
  clear(): void {
    this.firstId = undefined;
    this.firstRecord = undefined;
    this.others?.clear();
  }

  /** Judges `edit` against what the job's first edit of its document found (`current` if this is that edit). */
  check(edit: SplitDoc & { id: string }, current: DocRecord | undefined): void {
    const id = edit.id;
    if (this.firstId === undefined) {
      this.firstId = id;
      this.firstRecord = current;
    } else if (this.firstId === id) checkRequestStart(this.firstRecord, edit);
    else {
      const others = (this.others ??= new Map());
      if (others.has(id)) checkRequestStart(others.get(id), edit);
      else others.set(id, current);
    }
  }
}
