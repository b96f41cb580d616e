// Automatic blob garbage collection, as Kubo's `--enable-gc` runs it periodically: a node whose
// documents stopped naming attachment blobs (a compaction dropped old revisions, a purge, a deleted
// database, an unpinned root) collects them within minutes, as CouchDB's compaction gives their
// space back; blobs merely added (uploads that failed, snapshots never named) are looked at hourly.
//
// A writer that names its blobs only once all are stored (a snapshot) holds gc off meanwhile
// (gc/holds.ts). One that does not is kept safe by time, as for gc by hand, with more of it: blobs
// stored in the last hour are kept, and nothing is collected while blobs are being added (none in
// the last five minutes). A node that is never quiet that long is left to gc by hand.

import { isRefugeError } from '../errors/index.ts';
import type { GcReport } from '../gc/gc.ts';

export interface AutoBlobGcOptions {
  /** How often the node looks whether a collection is due (default one minute). */
  intervalMs?: number;
  /** At most this often for blobs only added since the last collection (default one hour). */
  addedEveryMs?: number;
  /** Blobs stored less than this long ago are kept (gc's grace period; default one hour). */
  graceMs?: number;
  /** Nothing is collected until no blob was added for this long (default five minutes). */
  quietMs?: number;
  /** Told of each collection that ran (the node's log; tests). */
  onCollected?: (report: GcReport) => void;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_ADDED_EVERY_MS = 60 * 60_000;
const DEFAULT_GRACE_MS = 60 * 60_000;
const DEFAULT_QUIET_MS = 5 * 60_000;

export class AutoBlobGc {
  /** References were dropped: collect at the next look. */
  private dropped = false;
  /** Blobs were added (or kept young last time): collect once `addedEveryMs` has passed. */
  private added = false;
  private lastRun = Date.now();
  private lastAdd = 0;
  private running: Promise<GcReport | undefined> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly addedEveryMs: number;

  constructor(
    /** One collection with this grace period; undefined when the store holds no blob at all. */
    private readonly collect: (graceMs: number, signal: AbortSignal) => Promise<GcReport | undefined>,
    private readonly options: AutoBlobGcOptions = {},
    /** True while a writer holds gc off (gc/holds.ts): collections wait. */
    private readonly held: () => boolean = () => false,
  ) {
    this.addedEveryMs = options.addedEveryMs ?? DEFAULT_ADDED_EVERY_MS;
    this.timer = setInterval(() => void this.lookNow().catch(() => undefined), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    // Never what holds a process open.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Blob references went away (compaction, purge, a deleted database, an unpin). */
  referencesDropped(): void {
    this.dropped = true;
  }

  /** A blob was added: unreferenced, it is garbage once older than the grace period. */
  blobAdded(): void {
    this.added = true;
    this.lastAdd = Date.now();
  }

  /** Collects now when one is due (as the timer does); answers its report, or undefined. */
  lookNow(): Promise<GcReport | undefined> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<GcReport | undefined> {
    const now = Date.now();
    const due = this.dropped || (this.added && now - this.lastRun >= this.addedEveryMs);
    if (!due || this.stopped || now - this.lastAdd < (this.options.quietMs ?? DEFAULT_QUIET_MS) || this.held()) return undefined;
    const wasDropped = this.dropped;
    this.dropped = false;
    this.added = false;
    this.lastRun = Date.now();
    let report: GcReport | undefined;
    try {
      report = await this.collect(this.options.graceMs ?? DEFAULT_GRACE_MS, this.abort.signal);
    } catch (err) {
      // Missing blobs of a damaged tree, or of one being pulled (`conflict`), wait for an admin or
      // the next blobs added: retrying each minute would only scan again. A hold taken meanwhile, a
      // node closing, or storage failing is retried at the next look.
      if (isRefugeError(err, 'conflict') && !this.held()) return undefined;
      if (wasDropped) this.dropped = true;
      this.added = true;
      if (isRefugeError(err) || this.stopped) return undefined;
      throw err;
    }
    // Unreferenced blobs still within the grace period go at a later collection.
    if (report && report.young > 0) this.added = true;
    if (report) this.options.onCollected?.(report);
    return report;
  }

  /** Stops looking; a collection under way stops at its next blob and is waited for. */
  stop(): Promise<unknown> {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort();
    return this.running?.catch(() => undefined) ?? Promise.resolve();
  }
}
