// When a failed session starts again rather than failing the replication, and how long it waits
// first: counted since the last checkpoint recorded, so a replication stuck failing ends.

import { isRefugeError, type RefugeError } from '../errors/index.ts';
import type { ResolvedOptions } from './options.ts';
import { backoffDelay } from './retry.ts';

/** Restarts in a row (no checkpoint recorded between them) before the replication fails instead. */
export const MAX_RESTARTS = 5;

/**
 * After a checkpoint the databases refused (CouchDB's checkpoint_commit_failure: one of them was
 * created again, or its log is not the one this session read), a new session re-reads the logs
 * (none on a new database: from the start), as CouchDB's scheduler restarts the job. Bounded:
 * after MAX_RESTARTS with no checkpoint recorded between them the replication fails.
 * A continuous replication also starts again from its checkpoint past revisions the source kept
 * failing to return (CouchDB's job crashes on missing_doc and its scheduler restarts it): changes
 * read again no longer list one purged since, and one merely late is asked again. Those restarts
 * back off as retries do, and end only where retries would (the retry policy's attempts).
 */
export class Restarts {
  /** Restarts since the last checkpoint recorded, after refused checkpoints. */
  private refused = 0;
  /** The same, after missing_doc. */
  private missing = 0;

  constructor(private readonly options: Pick<ResolvedOptions, 'continuous' | 'retry'>) {}

  /** Whether the session `error` ended may start again, rather than the replication fail. */
  allow(error: unknown): error is RefugeError {
    const missing = this.missingDoc(error);
    if (!(missing || isRefugeError(error, 'checkpoint_commit_failure'))) return false;
    return missing ? this.missing + 1 < this.options.retry.maxAttempts : this.refused < MAX_RESTARTS;
  }

  /** Counts a restart after `error` (one allowed): the wait before it after missing_doc, none otherwise. */
  take(error: unknown): number | undefined {
    if (this.missingDoc(error)) return backoffDelay(++this.missing, this.options.retry);
    this.refused++;
    return undefined;
  }

  /** Restarts since the last checkpoint recorded. */
  get count(): number {
    return this.refused + this.missing;
  }

  /** Whether a checkpoint was refused since the last one recorded. */
  get afterRefusal(): boolean {
    return this.refused > 0;
  }

  /** A checkpoint was recorded: the failures before it are behind. */
  recorded(): void {
    this.refused = 0;
    this.missing = 0;
  }

  private missingDoc(error: unknown): boolean {
    return isRefugeError(error, 'missing_doc') && this.options.continuous;
  }
}
