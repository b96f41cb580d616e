// Automatic blob garbage collection, as Kubo's `--enable-gc` runs it periodically, but only over
// what references dropped: the attachments old revisions named once a compaction, a stemming write
// or a purge dropped them, a deleted database's, an unpinned root's. It deletes those that nothing
// names any more, as CouchDB's compaction gives attachment space back; a blob stored by hand and
// never named is never its to delete (gc by hand sweeps the whole store).
//
// A writer that names its blobs only once all are stored (a snapshot) holds gc off meanwhile
// (gc/holds.ts). What is young is kept by time, with more of it than gc by hand: blobs stored in
// the last hour stay (tried again an hour later), and nothing is collected while blobs are being
// added (none in the last five minutes). A node that is never quiet that long is left to gc by hand.

import { isRefugeError } from '../errors/index.ts';
import type { GcReport } from '../gc/gc.ts';

export interface AutoBlobGcOptions {
  /** How often the node looks whether a collection is due (default one minute). */
  intervalMs?: number;
  /** When the last collection kept some blobs as young (or failed), it is tried again this much later (default one hour). */
  retryMs?: number;
  /** Blobs stored less than this long ago are kept (gc's grace period; default one hour). */
  graceMs?: number;
  /** Nothing is collected until no blob was added for this long (default five minutes). */
  quietMs?: number;
  /** Told of each collection that ran (the node's log; tests). */
  onCollected?: (report: GcReport) => void;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_RETRY_MS = 60 * 60_000;
const DEFAULT_GRACE_MS = 60 * 60_000;
const DEFAULT_QUIET_MS = 5 * 60_000;

/**
 * Where candidates outlive the process (the node's catalog). Without one, candidates noted before a
 * restart are left to gc by hand.
 */
export interface CandidateLog {
  load(): Promise<string[]>;
  /** `sync`: on stable storage once it resolves (a note written ahead of a drop). */
  add(ids: readonly string[], sync?: boolean): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
}

/** What the node's own gc has still to look at, and what it last did (`GET /_blobs/_gc`). */
export interface AutoBlobGcStatus {
  /** Blob ids and roots whose references dropped, not settled yet. */
  candidates: number;
  /**
   * The earliest time the next collection may run (ms since the epoch; the node looks once a
   * minute), or undefined when nothing is due. It moves later while blobs keep being added.
   */
  dueAt: number | undefined;
  /** A writer holds gc off (a snapshot): the collection waits for it. */
  held: boolean;
  running: boolean;
  /** The last collection that ran, and when it ended. */
  last: { at: number; report: GcReport } | undefined;
  /** Why the last attempt failed (a damaged tree, storage), when it did: tried again an hour later. */
  failed: { at: number; reason: string } | undefined;
}

/** One collection: delete among `only` (blob ids or tree roots) what nothing names. */
export type CollectAmong = (only: ReadonlySet<string>, graceMs: number, signal: AbortSignal) => Promise<GcReport>;

export class AutoBlobGc {
  /** Roots whose references dropped since the last collection: collected at the next look. */
  private fresh = new Set<string>();
  /** Roots a collection kept (young) or could not look at: tried again at `retryAt`. */
  private retry = new Set<string>();
  private retryAt = 0;
  private lastAdd = 0;
  private running: Promise<GcReport | undefined> | undefined;
  private last: { at: number; report: GcReport } | undefined;
  private failed: { at: number; reason: string } | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly timer: ReturnType<typeof setInterval>;
  /** The log's writes, one after the other: a candidate noted again after a collection dropped it is kept. */
  private logged: Promise<void> = Promise.resolve();
  /**
   * Ids noted in the log ahead of a drop under way (referencesMayDrop), with how many drops noted
   * each: a collection that settles one meanwhile leaves it in the log, which the drop counts on.
   */
  private readonly ahead = new Map<string, number>();

  constructor(
    private readonly collect: CollectAmong,
    private readonly options: AutoBlobGcOptions = {},
    /** True while a writer holds gc off (gc/holds.ts): collections wait. */
    private readonly held: () => boolean = () => false,
    private readonly log?: CandidateLog,
    /** Candidates the log kept from before a restart: due at the first look. */
    carried: Iterable<string> = [],
  ) {
    for (const id of carried) this.retry.add(id);
    this.timer = setInterval(() => void this.lookNow().catch(() => undefined), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    // Never what holds a process open.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * References to these blob ids or roots went away (compaction, stemming, purge, a deleted
   * database, an unpin). `logged`: the caller already wrote them to the log, in the batch that
   * dropped them.
   */
  referencesDropped(named: Iterable<string>, logged = false): void {
    if (this.stopped) return;
    const added: string[] = [];
    for (const id of named) {
      if (this.fresh.has(id) || this.retry.has(id)) continue;
      this.fresh.add(id);
      added.push(id);
    }
    if (added.length > 0 && !logged) void this.toLog((log) => log.add(added));
  }

  /**
   * A compaction or purge may drop references to these: they are written to the log, synced, before
   * it drops any, so a crash in the middle of it leaves them candidates at the next start (due at
   * the first look). Answers what to call once it ended, telling whether it dropped any: they are
   * then candidates, or out of the log again.
   */
  async referencesMayDrop(named: Iterable<string>): Promise<(dropped: boolean) => void> {
    const ids = [...new Set(named)];
    if (this.stopped || ids.length === 0) return () => undefined;
    for (const id of ids) this.ahead.set(id, (this.ahead.get(id) ?? 0) + 1);
    const log = this.log;
    // Not written (the catalog failing): the drop goes on, and its candidates are noted after it.
    const written = log ? await this.toLog((l) => l.add(ids, true)) : false;
    return (dropped) => {
      for (const id of ids) {
        const n = this.ahead.get(id)!;
        if (n > 1) this.ahead.set(id, n - 1);
        else this.ahead.delete(id);
      }
      if (dropped) return this.referencesDropped(ids, written);
      const kept = ids.filter((id) => !this.ahead.has(id) && !this.fresh.has(id) && !this.retry.has(id));
      if (written && kept.length > 0) void this.toLog((l) => l.remove(kept));
    };
  }

  /**
   * Queues a write of the log; resolves true once written. A failed write leaves the candidate in
   * memory (collected if the node keeps running) and, at worst, to gc by hand.
   */
  private toLog(write: (log: CandidateLog) => Promise<void>): Promise<boolean> {
    const log = this.log;
    if (!log) return Promise.resolve(false);
    const written = this.logged.then(() => write(log)).then(() => true, () => false);
    this.logged = written.then(() => undefined);
    return written;
  }

  /** A blob was added: a writer may be storing blobs it names only later. */
  blobAdded(): void {
    this.lastAdd = Date.now();
  }

  status(): AutoBlobGcStatus {
    const quietUntil = this.lastAdd + (this.options.quietMs ?? DEFAULT_QUIET_MS);
    const dueFrom = this.fresh.size > 0 ? 0 : this.retry.size > 0 ? this.retryAt : undefined;
    return {
      candidates: new Set([...this.fresh, ...this.retry]).size,
      dueAt: dueFrom === undefined ? undefined : Math.max(dueFrom, quietUntil, Date.now()),
      held: this.held(),
      running: this.running !== undefined,
      last: this.last,
      failed: this.failed,
    };
  }

  /** Collects now when one is due (as the timer does); answers its report, or undefined. */
  lookNow(): Promise<GcReport | undefined> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<GcReport | undefined> {
    const now = Date.now();
    const due = this.fresh.size > 0 || (this.retry.size > 0 && now >= this.retryAt);
    if (!due || this.stopped || now - this.lastAdd < (this.options.quietMs ?? DEFAULT_QUIET_MS) || this.held()) return undefined;
    const taken = new Set([...this.retry, ...this.fresh]);
    this.fresh = new Set();
    this.retry = new Set();
    let report: GcReport;
    try {
      report = await this.collect(taken, this.options.graceMs ?? DEFAULT_GRACE_MS, this.abort.signal);
    } catch (err) {
      // A hold taken meanwhile is looked at again next time; missing blobs of a damaged tree (or
      // of one being pulled), a node closing, or storage failing, an hour later.
      const heldOff = isRefugeError(err, 'conflict') && this.held();
      this.later(taken, heldOff ? 0 : undefined);
      if (!heldOff && !this.stopped) this.failed = { at: Date.now(), reason: err instanceof Error ? err.message : String(err) };
      if (isRefugeError(err) || this.stopped) return undefined;
      throw err;
    }
    // Blobs still within the grace period go at a later collection.
    if (report.young > 0) this.later(taken);
    else this.done(taken);
    this.last = { at: Date.now(), report };
    this.failed = undefined;
    this.options.onCollected?.(report);
    return report;
  }

  /** Candidates a collection settled: out of the log, unless noted again meanwhile. */
  private done(taken: Set<string>): void {
    const settled = [...taken].filter((id) => !this.fresh.has(id) && !this.retry.has(id) && !this.ahead.has(id));
    if (settled.length > 0) void this.toLog((log) => log.remove(settled));
  }

  private later(roots: Iterable<string>, delayMs = this.options.retryMs ?? DEFAULT_RETRY_MS): void {
    for (const id of roots) this.retry.add(id);
    this.retryAt = Date.now() + delayMs;
  }

  /** Stops looking; a collection under way stops at its next blob and is waited for. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort();
    // The log's writes end before the node closes its catalog.
    return (this.running?.catch(() => undefined) ?? Promise.resolve()).then(() => this.logged);
  }
}
