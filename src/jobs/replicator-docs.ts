// The `_replicator` database's side of replication jobs: each document is a job, started when the
// node starts and when the document is written, stopped when it is edited or deleted, retried while
// it crashes, and its outcome written back into the document as CouchDB does.

import { RefugeError } from '../errors/index.ts';
import { canonicalJson, type Database, type Doc } from '../documents/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { apiKey, parseSpec, refusedReplicatorDoc, type JobSpec } from './job-spec.ts';
import type { Job } from './job.ts';
import { DocStates, type DocState } from './doc-states.ts';
import { isoSeconds, replicationStats, withoutStartTime } from './recorded-state.ts';

/** The running jobs (documents' under `doc:<id>`) and how to start one: ReplicationJobs. */
export interface JobHost {
  readonly jobs: Map<string, Job>;
  /** The spec as the document's `owner` may run it (see ReplicationJobsOptions.ownerSpec). */
  bindOwner(spec: JobSpec, owner: unknown): Promise<JobSpec>;
  launchDocJob(key: string, spec: JobSpec, docId: string): Promise<Job>;
}

const MAX_RETRY_MS = 10 * 60_000;

/** A document's replication options and owner, canonically: what its job was started from. */
const sourceOf = (doc: Doc): string => canonicalJson(parseSpec(doc)) + '\n' + JSON.stringify((doc as { owner?: unknown }).owner ?? null);

export class ReplicatorDocs {
  private readonly docStates = new DocStates();
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
  /** The revision of its document each job describes: where its outcome is recorded. */
  private readonly jobRevs = new WeakMap<Job, string>();
  /** What each job was started from (its options and owner): an edit that keeps them keeps the job. */
  private readonly jobSources = new WeakMap<Job, string>();
  /**
   * A fresh number at each event of a document (from `lastGeneration`, never reused): a launch
   * that an edit or deletion overtook is dropped. A deleted document's entry goes: its pending
   * launch finds no entry, which is never its own, so ids that come and go leave nothing behind.
   */
  private readonly generations = new Map<string, number>();
  private lastGeneration = 0;
  /** Following the database's changes (null while it does not exist). */
  private follow: AbortController | null = null;
  /** Following the node's database events, to drop the jobs of a deleted `_replicator` and pick up a new one. */
  private watch: AbortController | null = null;
  private db: Database | null = null;

  constructor(
    private readonly node: RefugeNode,
    private readonly host: JobHost,
    /** First wait before a crashing job is tried again; it doubles up to 10 minutes. */
    private readonly retryBaseMs: number,
  ) {}

  /**
   * Starts the jobs described in `_replicator` and follows that database's changes; a deleted
   * `_replicator` stops its jobs, and one created again is followed from its start, as in CouchDB.
   */
  async start(): Promise<void> {
    this.node.setReplicatorDocCheck(refusedReplicatorDoc);
    const since = this.node.dbUpdatesSeq;
    if (!(await this.node.exists('_replicator'))) await this.node.createDb('_replicator');
    await this.attach();
    this.watch = new AbortController();
    const updates = this.node.subscribeDbUpdates({ since, signal: this.watch.signal });
    void (async () => {
      for await (const batch of updates) {
        for (const row of batch) {
          if (row.dbName !== '_replicator') continue;
          if (row.type === 'deleted') this.detach();
          else if (row.type === 'created' && this.follow === null) await this.attach();
        }
      }
    })().catch(() => undefined);
  }

  private async attach(): Promise<void> {
    let db: Database;
    try {
      db = await this.node.db('_replicator');
    } catch {
      return; // deleted again meanwhile: its next creation attaches
    }
    this.db = db;
    const follow = (this.follow = new AbortController());
    const feed = db.subscribe({ includeDocs: true, signal: follow.signal });
    void (async () => {
      for await (const batch of feed) {
        for (const row of batch) {
          if (follow.signal.aborted) return;
          await this.onDoc(row.id, row.deleted ? undefined : row.doc);
        }
      }
    })().catch(() => undefined);
  }

  /** The database is gone: so are its documents' jobs, retries and states. */
  private detach(): void {
    this.follow?.abort();
    this.follow = null;
    this.db = null;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    this.generations.clear();
    for (const [key, job] of [...this.host.jobs]) {
      if (!key.startsWith('doc:')) continue;
      job.replication.cancel();
      this.host.jobs.delete(key);
    }
    this.docStates.clear();
  }

  /** Stops following the database and cancels pending retries (the jobs are the host's to stop). */
  stop(): void {
    this.node.setReplicatorDocCheck(undefined);
    this.watch?.abort();
    this.follow?.abort();
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  /**
   * Records what became of a job in its `_replicator` document, as CouchDB does for `completed` and
   * `failed`: `_replication_state`, `_replication_state_time` and the stats or the reason. Only into
   * the revision the job came from: a newer edit is a new job, which this state does not describe.
   */
  private async recordState(docId: string, rev: string, fields: Record<string, unknown>): Promise<void> {
    const db = this.db;
    if (db === null) return;
    try {
      const doc = await db.get(docId);
      if (doc._rev !== rev) return;
      const { _replication_state_reason: _r, _replication_stats: _s, ...rest } = doc as Doc & Record<string, unknown>;
      await db.put({ ...rest, ...fields, _replication_state_time: isoSeconds(Date.now()) });
    } catch {
      // Edited, deleted or refused (a validate function) meanwhile: the document stays as it is.
    }
  }

  /**
   * Runs a `_replicator` document again after a failure, as CouchDB retries document jobs for ever
   * (state `crashing`) with growing waits; an edit or deletion of the document cancels the retry.
   */
  private retryLater(docId: string, doc: Doc, errorCount: number): void {
    const wait = Math.min(this.retryBaseMs * 2 ** Math.min(errorCount - 1, 30), MAX_RETRY_MS);
    const timer = setTimeout(() => {
      this.retries.delete(docId);
      void this.onDoc(docId, doc, errorCount).catch(() => undefined);
    }, wait);
    timer.unref?.();
    this.retries.set(docId, timer);
  }

  private async onDoc(docId: string, doc: Doc | undefined, errorsBefore = 0): Promise<void> {
    if (docId.startsWith('_design/')) return;
    // An edit that changes none of the replication's options (a comment, say) leaves its job
    // running, as CouchDB does: the job now describes the new revision.
    const kept = this.host.jobs.get(`doc:${docId}`);
    if (kept && doc && this.sameJob(kept, doc)) {
      this.jobRevs.set(kept, doc._rev!);
      return;
    }
    const generation = ++this.lastGeneration;
    this.generations.set(docId, generation);
    clearTimeout(this.retries.get(docId));
    this.retries.delete(docId);
    const key = `doc:${docId}`;
    const running = this.host.jobs.get(key);
    if (running) {
      running.replication.cancel();
      this.host.jobs.delete(key);
    }
    if (!doc) {
      this.docStates.delete(docId);
      this.generations.delete(docId);
      return;
    }
    const now = Date.now();
    const note = (state: DocState['state'], extra: Partial<DocState> = {}) => {
      const before = this.docStates.get(docId);
      this.docStates.set(docId, { docId, state, errorCount: before?.errorCount ?? errorsBefore, startTime: before?.startTime ?? now, ...extra, lastUpdated: Date.now() });
    };
    this.docStates.delete(docId);
    // What the job recorded in the document: CouchDB runs neither a completed nor a failed one again
    // (an edit that drops `_replication_state` runs it anew).
    const recorded = (doc as { _replication_state?: unknown })._replication_state;
    if (recorded === 'completed' || recorded === 'failed') {
      let shown: JobSpec | undefined;
      try {
        shown = parseSpec(doc);
      } catch {
        // shown without its ends
      }
      const reason = (doc as { _replication_state_reason?: unknown })._replication_state_reason;
      const stats = (doc as { _replication_stats?: unknown })._replication_stats;
      return note(recorded, {
        ...(shown && { spec: shown }),
        ...(recorded === 'failed' && { error: typeof reason === 'string' ? reason : 'failed', errorCount: 1 }),
        ...(recorded === 'completed' && stats !== null && typeof stats === 'object' && { stats: withoutStartTime(stats as Record<string, unknown>) }),
      });
    }
    let spec: JobSpec;
    try {
      spec = parseSpec(doc);
    } catch (err) {
      // An invalid job document is not run: CouchDB marks it failed in the document, with the reason.
      const reason = err instanceof RefugeError ? err.reason : String(err);
      note('failed', { error: reason, errorCount: 1 });
      return this.recordState(docId, doc._rev!, { _replication_state: 'failed', _replication_state_reason: reason });
    }
    const crashed = (err: unknown) => {
      const errorCount = (this.docStates.get(docId)?.errorCount ?? errorsBefore) + 1;
      note('crashing', { spec, error: err instanceof RefugeError ? err.reason : String(err), errorCount });
      this.retryLater(docId, doc, errorCount);
    };
    // An edit or deletion of the document (or of the database) while the job starts overtakes it.
    const overtaken = () => this.generations.get(docId) !== generation;
    // A user's document runs as that user (their databases, their cap on jobs); one the user can
    // no longer run (account gone, database closed to them) crashes, and is tried again later.
    let bound: JobSpec;
    try {
      bound = await this.host.bindOwner(spec, (doc as { owner?: unknown }).owner);
    } catch (err) {
      return overtaken() ? undefined : crashed(err);
    }
    if (overtaken()) return;
    // Two documents describing the same replication run it once, as in CouchDB: the later one fails.
    // (create_target is part of CouchDB's job id: with and without it they are two jobs.)
    const sameReplication = (j: Job) => apiKey(j.spec) === apiKey(bound) && j.spec.createTarget === bound.createTarget;
    const twin = [...this.host.jobs.entries()].find(([k, j]) => k.startsWith('doc:') && j.docId !== docId && sameReplication(j));
    if (twin) {
      const [, other] = twin;
      // The running one may not know its id yet (its peers have not answered): then it goes unnamed.
      const id = other.replication.replicationId;
      const what = id === undefined ? 'The same replication' : `Replication \`${id}\``;
      const reason = `${what} specified by document \`${docId}\` already started, triggered by document \`${other.docId}\``;
      // A permanent failure, which CouchDB records in the document.
      note('failed', { spec, error: reason, errorCount: 1 });
      return this.recordState(docId, doc._rev!, { _replication_state: 'failed', _replication_state_reason: reason });
    }
    let job: Job;
    try {
      job = await this.host.launchDocJob(key, bound, docId);
    } catch (err) {
      // A missing database or an unreachable peer may come later: CouchDB keeps trying.
      return overtaken() ? undefined : crashed(err);
    }
    if (overtaken()) {
      job.replication.cancel();
      if (this.host.jobs.get(key) === job) this.host.jobs.delete(key);
      return;
    }
    this.jobRevs.set(job, doc._rev!);
    this.jobSources.set(job, sourceOf(doc));
    note('running', { spec, job });
    const current = () => this.docStates.get(docId)?.job === job;
    // Retried network failures are CouchDB's "crashing"; so is a job that stopped on an error, tried
    // again later (below).
    job.replication.on('retry', (e) => {
      if (current()) note('crashing', { spec, job, error: e.error.reason, errorCount: (this.docStates.get(docId)?.errorCount ?? 0) + 1 });
    });
    job.replication.on('active', () => {
      if (current() && this.docStates.get(docId)!.state === 'crashing') note('running', { spec, job, errorCount: this.docStates.get(docId)!.errorCount });
    });
    // Caught up after crashes: the job is healthy again, so its error count (which also paces the
    // next retry's back-off) starts over, as CouchDB's scheduler forgets crashes of a healthy job.
    job.replication.on('paused', (e) => {
      const state = this.docStates.get(docId);
      if (!e.error && current() && state!.state === 'running' && state!.errorCount > 0) note('running', { spec, job, errorCount: 0 });
    });
    job.replication.done.then(
      (report) => {
        // Cancelled (the node stopping, the document edited or deleted) is no outcome to record:
        // the job runs again, from its checkpoint, when the node starts.
        if (!current() || spec.continuous || report.status === 'cancelled') return;
        const stats = replicationStats(report, job.startedOn);
        note('completed', { spec, stats: withoutStartTime(stats) });
        return this.recordState(docId, this.jobRevs.get(job) ?? doc._rev!, { _replication_state: 'completed', _replication_stats: stats });
      },
      (err: unknown) => {
        if (current()) crashed(err);
      },
    );
  }

  /** Whether `doc` (an edit of the document `job` runs) asks for the very replication `job` runs. */
  private sameJob(job: Job, doc: Doc): boolean {
    const recorded = (doc as { _replication_state?: unknown })._replication_state;
    if (recorded === 'completed' || recorded === 'failed') return false;
    try {
      return this.jobSources.get(job) === sourceOf(doc);
    } catch {
      return false;
    }
  }

  whenDoc(docId: string, state: DocState['state'] | ((d: DocState) => boolean), signal?: AbortSignal): Promise<DocState> {
    return this.docStates.when(docId, state, signal);
  }

  list(): DocState[] {
    return this.docStates.list();
  }
}
