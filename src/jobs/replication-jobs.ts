// Replication jobs on a node: one-shot and continuous replications started over HTTP
// (`POST /_replicate`) or by documents in the `_replicator` database, which are restarted when the
// node starts and follow edits of their documents. `_active_tasks` lists what runs.

import { RefugeError } from '../errors/index.ts';
import type { Database, Doc } from '../documents/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { replicate, type Replication, type ReplicationReport } from '../replication/index.ts';
import { describeEndpoint, endpointPeer } from './endpoint.ts';
import { apiKey, parseSpec, type JobSpec } from './job-spec.ts';
import { isoSeconds, replicationStats, withoutStartTime } from './recorded-state.ts';

export interface Job {
  spec: JobSpec;
  replication: Replication;
  docId?: string;
  startedOn: number;
  updatedOn: number;
  lastError?: string;
}

/**
 * A job's id as CouchDB names it everywhere (scheduler, active tasks, `_local_id`): the replication
 * id with `+continuous` and `+create_target` when those options are set; undefined until known.
 */
export function jobId(job: Job): string | undefined {
  const base = job.replication.replicationId;
  if (base === undefined) return undefined;
  return `${base}${job.spec.continuous ? '+continuous' : ''}${job.spec.createTarget ? '+create_target' : ''}`;
}

/** What became of a `_replicator` document, as CouchDB's scheduler reports it. */
export interface DocState {
  docId: string;
  state: 'running' | 'completed' | 'crashing' | 'failed';
  spec?: JobSpec;
  job?: Job;
  error?: string;
  /** A completed job's `_replication_stats` (without start_time), as the scheduler shows them. */
  stats?: Record<string, unknown>;
  errorCount: number;
  startTime: number;
  lastUpdated: number;
}

/** How long a continuous `_replicate` waits for both peers to answer before it answers itself. */
const ID_WAIT_MS = 10_000;

export interface ReplicationJobsOptions {
  /** First wait before a crashing `_replicator` job is tried again; it doubles up to 10 minutes. */
  retryBaseMs?: number;
}

const MAX_RETRY_MS = 10 * 60_000;

export class ReplicationJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly docStates = new Map<string, DocState>();
  private readonly stateWatchers = new Set<() => void>();
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly retryBaseMs: number;
  private follow: AbortController | null = null;
  private replicator: Database | null = null;

  constructor(
    private readonly node: RefugeNode,
    options: ReplicationJobsOptions = {},
  ) {
    this.retryBaseMs = options.retryBaseMs ?? 5000;
  }

  /** Starts the jobs described in `_replicator` and follows that database's changes. */
  async start(): Promise<void> {
    if (!(await this.node.exists('_replicator'))) await this.node.createDb('_replicator');
    this.replicator = await this.node.db('_replicator');
    this.follow = new AbortController();
    const feed = this.replicator.subscribe({ includeDocs: true, signal: this.follow.signal });
    void (async () => {
      for await (const batch of feed) {
        for (const row of batch) await this.onReplicatorDoc(row.id, row.deleted ? undefined : row.doc);
      }
    })().catch(() => undefined);
  }

  /**
   * Records what became of a job in its `_replicator` document, as CouchDB does for `completed` and
   * `failed`: `_replication_state`, `_replication_state_time` and the stats or the reason. Only into
   * the revision the job came from: a newer edit is a new job, which this state does not describe.
   */
  private async recordState(docId: string, rev: string, fields: Record<string, unknown>): Promise<void> {
    const db = this.replicator!;
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
      void this.onReplicatorDoc(docId, doc, errorCount).catch(() => undefined);
    }, wait);
    timer.unref?.();
    this.retries.set(docId, timer);
  }

  private async onReplicatorDoc(docId: string, doc: Doc | undefined, errorsBefore = 0): Promise<void> {
    if (docId.startsWith('_design/')) return;
    clearTimeout(this.retries.get(docId));
    this.retries.delete(docId);
    const key = `doc:${docId}`;
    const running = this.jobs.get(key);
    if (running) {
      running.replication.cancel();
      this.jobs.delete(key);
    }
    if (!doc) {
      this.docStates.delete(docId);
      return;
    }
    const now = Date.now();
    const note = (state: DocState['state'], extra: Partial<DocState> = {}) => {
      const before = this.docStates.get(docId);
      this.docStates.set(docId, { docId, state, errorCount: before?.errorCount ?? errorsBefore, startTime: before?.startTime ?? now, ...extra, lastUpdated: Date.now() });
      for (const watch of [...this.stateWatchers]) watch();
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
    // Two documents describing the same replication run it once, as in CouchDB: the later one fails.
    const twin = [...this.jobs.entries()].find(([k, j]) => k.startsWith('doc:') && j.docId !== docId && apiKey(j.spec) === apiKey(spec));
    if (twin) {
      const [, other] = twin;
      const id = other.replication.replicationId ?? 'the same replication';
      const reason = `Replication \`${id}\` specified by document \`${docId}\` already started, triggered by document \`${other.docId}\``;
      // A permanent failure, which CouchDB records in the document.
      note('failed', { spec, error: reason, errorCount: 1 });
      return this.recordState(docId, doc._rev!, { _replication_state: 'failed', _replication_state_reason: reason });
    }
    const crashed = (err: unknown) => {
      const errorCount = (this.docStates.get(docId)?.errorCount ?? errorsBefore) + 1;
      note('crashing', { spec, error: err instanceof RefugeError ? err.reason : String(err), errorCount });
      this.retryLater(docId, doc, errorCount);
    };
    let job: Job;
    try {
      job = await this.launch(key, spec, docId);
    } catch (err) {
      // A missing database or an unreachable peer may come later: CouchDB keeps trying.
      return crashed(err);
    }
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
    job.replication.done.then(
      (report) => {
        if (!current() || spec.continuous) return;
        const stats = replicationStats(report, job.startedOn);
        note('completed', { spec, stats: withoutStartTime(stats) });
        return this.recordState(docId, doc._rev!, { _replication_state: 'completed', _replication_stats: stats });
      },
      (err: unknown) => {
        if (current()) crashed(err);
      },
    );
  }

  /** Whether `id` names this job: its full id, or the replication id alone (CouchDB takes both). */
  named(job: Job, id: string): boolean {
    return id === jobId(job) || (job.replication.replicationId !== undefined && id === job.replication.replicationId);
  }

  /** The jobs running now (CouchDB's `_scheduler/jobs`). */
  runningJobs(): Job[] {
    return [...this.jobs.values()];
  }

  /** Resolves once the `_replicator` document `docId` is in `state` (for tools and tests). */
  whenDoc(docId: string, state: DocState['state'], signal?: AbortSignal): Promise<DocState> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const d = this.docStates.get(docId);
        if (d?.state === state) done(undefined, d);
      };
      const done = (err?: unknown, d?: DocState) => {
        this.stateWatchers.delete(check);
        signal?.removeEventListener('abort', onAbort);
        if (d) resolve(d);
        else reject(err);
      };
      const onAbort = () => done(signal!.reason ?? new RefugeError('closed', 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.stateWatchers.add(check);
      check();
    });
  }

  /** Every `_replicator` document's state (CouchDB's `_scheduler/docs`), in id order. */
  replicatorDocs(): DocState[] {
    return [...this.docStates.values()].sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0));
  }

  private async launch(key: string, spec: JobSpec, docId?: string): Promise<Job> {
    const timeoutMs = spec.tuning?.timeoutMs;
    const source = await endpointPeer(this.node, spec.source, false, timeoutMs);
    let target;
    try {
      target = await endpointPeer(this.node, spec.target, spec.createTarget, timeoutMs);
    } catch (err) {
      source.release();
      throw err;
    }
    const release = () => {
      source.release();
      target.release();
    };
    const replication = replicate(source.peer, target.peer, {
      continuous: spec.continuous,
      createTarget: spec.createTarget,
      docIds: spec.docIds,
      selector: spec.selector,
      filter: spec.filter,
      queryParams: spec.queryParams,
      ...(spec.tuning?.since !== undefined && { since: spec.tuning.since }),
      ...(spec.tuning?.batchSize !== undefined && { batchSize: spec.tuning.batchSize }),
      ...(spec.tuning?.batchesInFlight !== undefined && { batchesInFlight: spec.tuning.batchesInFlight }),
      ...(spec.tuning?.checkpointInterval !== undefined && { checkpointInterval: spec.tuning.checkpointInterval }),
      ...(spec.tuning?.checkpoints === false && { checkpoints: false }),
      ...(spec.winningRevsOnly && { winningRevsOnly: true }),
    });
    const job: Job = { spec, replication, docId, startedOn: Date.now(), updatedOn: Date.now() };
    replication.on('change', () => (job.updatedOn = Date.now()));
    replication.on('error', (e) => (job.lastError = e.reason));
    this.jobs.set(key, job);
    replication.done.then(
      () => this.jobs.get(key) === job && !spec.continuous && this.jobs.delete(key),
      () => this.jobs.get(key) === job && this.jobs.delete(key),
    ).finally(release);
    return job;
  }

  /** `POST /_replicate`: one-shot waits for the report; continuous returns its id at once. */
  /**
   * Runs an API replication: one-shot ones answer their report, continuous ones their id once both
   * peers have answered (a missing database fails the request, as in CouchDB), `<id>+continuous`.
   */
  async replicate(spec: JobSpec): Promise<{ continuous: true; id: string | null } | { continuous: false; report: ReplicationReport }> {
    const key = apiKey(spec);
    const running = spec.continuous ? this.jobs.get(key) : undefined;
    const job = running ?? (await this.launch(key, spec));
    if (!spec.continuous) return { continuous: false, report: await job.replication.done };
    // A source that does not answer (retried for good in continuous mode) must not hold the
    // request: after a while the job keeps trying and the answer goes without its id.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ID_WAIT_MS)));
    try {
      const id = await Promise.race([job.replication.idKnown, gaveUp]);
      return { continuous: true, id: id === undefined ? null : (jobId(job) ?? null) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Cancels the API job with this id (`<id>` or `<id>+continuous`) or this very spec (continuous
   * included, as CouchDB's id includes it); answers the cancelled job's id, or undefined.
   */
  cancel(which: { id: string } | { spec: JobSpec }): string | undefined {
    for (const [key, job] of this.jobs) {
      if (!key.startsWith('api:')) continue;
      const matches = 'id' in which ? this.named(job, which.id) : key === apiKey(which.spec);
      if (matches) {
        job.replication.cancel();
        this.jobs.delete(key);
        return jobId(job);
      }
    }
    return undefined;
  }

  activeTasks(): unknown[] {
    return [...this.jobs.values()].map((job) => {
      const p = job.replication.progress;
      return {
        type: 'replication',
        node: 'refuge',
        pid: job.replication.sessionId,
        replication_id: jobId(job) ?? null,
        doc_id: job.docId ?? null,
        database: job.docId ? '_replicator' : null,
        source: describeEndpoint(job.spec.source),
        target: describeEndpoint(job.spec.target),
        continuous: job.spec.continuous,
        docs_read: p.docsRead,
        docs_written: p.docsWritten,
        doc_write_failures: p.docWriteFailures,
        missing_revisions_found: p.missingFound,
        revisions_checked: p.missingChecked,
        changes_pending: p.pending ?? null,
        checkpointed_source_seq: p.checkpointedSeq ?? null,
        source_seq: p.lastSeq ?? null,
        through_seq: p.throughSeq ?? null,
        checkpoint_interval: job.replication.checkpointInterval,
        started_on: Math.floor(job.startedOn / 1000),
        updated_on: Math.floor(job.updatedOn / 1000),
        last_error: job.lastError,
      };
    });
  }

  async stop(): Promise<void> {
    this.follow?.abort();
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    const all = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of all) job.replication.cancel();
    await Promise.allSettled(all.map((j) => j.replication.done));
  }
}
