// Automatic compaction, as CouchDB 3's smoosh does by default: databases written to are looked at
// now and then, and one whose old revision bodies take as much room as everything else together
// (CouchDB's ratio of 2) is compacted in the background, one database at a time.

import { isRefugeError } from '../errors/index.ts';
import type { DbLease } from './open-dbs.ts';

export interface AutoCompactionOptions {
  /** How often the databases written since the last look are looked at (default one minute). */
  intervalMs?: number;
  /** Revision bodies below this many bytes never start a compaction (default 1 MiB). */
  minBytes?: number;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_MIN_BYTES = 1024 * 1024;

export class AutoCompaction {
  private readonly written = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;
  private looking: Promise<string[]> | undefined;
  private stopped = false;
  private readonly minBytes: number;

  constructor(
    private readonly lease: (name: string) => Promise<DbLease>,
    options: AutoCompactionOptions = {},
  ) {
    this.minBytes = options.minBytes ?? DEFAULT_MIN_BYTES;
    this.timer = setInterval(() => void this.lookNow().catch(() => undefined), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    // A node with nothing else to do may end: this never holds the process open.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** A write to `name` committed: it is looked at next time. */
  touched(name: string): void {
    if (!this.stopped) this.written.add(name);
  }

  /** Database `name` was deleted: it is not looked at. */
  forget(name: string): void {
    this.written.delete(name);
  }

  /** Looks at the databases written since the last look now; answers those it compacted. */
  lookNow(): Promise<string[]> {
    this.looking ??= this.look().finally(() => (this.looking = undefined));
    return this.looking;
  }

  private async look(): Promise<string[]> {
    const names = [...this.written];
    this.written.clear();
    const compacted: string[] = [];
    for (const [i, name] of names.entries()) {
      if (this.stopped) break;
      try {
        if (await this.compactIfWorth(name)) compacted.push(name);
      } catch (err) {
        // Deleted, closed with the node, or a storage failure its own requests report: the next
        // write brings it back here. Anything else is a fault of this code, not to be hidden; the
        // databases not looked at yet wait for the next look.
        if (!isRefugeError(err)) {
          for (const rest of names.slice(i + 1)) this.written.add(rest);
          throw err;
        }
      }
    }
    return compacted;
  }

  private async compactIfWorth(name: string): Promise<boolean> {
    const { db, release } = await this.lease(name);
    try {
      // As writes counted them: conflicting leaves' bodies, which compaction keeps, are not old.
      const { old, live } = db.revisionBytes;
      if (old < this.minBytes || old < live) return false;
      await db.compact();
      return true;
    } finally {
      release();
    }
  }

  /** Stops looking; a look under way ends at its next database (a compaction, with its database). */
  stop(): Promise<unknown> {
    this.stopped = true;
    clearInterval(this.timer);
    return this.looking?.catch(() => undefined) ?? Promise.resolve();
  }
}
