// Replication jobs on a node: one-shot and continuous replications started over HTTP
// (`POST /_replicate`) or by documents in the `_replicator` database, which are restarted when the
// node starts and follow edits of their documents. `_active_tasks` lists what runs.

import type { UserCtx } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { replicate, type ReplicationReport } from '../replication/index.ts';
import { describeEndpoint, endpointPeer, sourceReady } from './endpoint.ts';
import { jobId, recordCrash, type Job } from './job.ts';
import { apiKey, type JobSpec } from './job-spec.ts';
import { ReplicatorDocs, type JobHost } from './replicator-docs.ts';
import type { DocState } from './doc-states.ts';

/** How long a continuous `_replicate` waits for both peers to answer before it answers itself. */
const ID_WAIT_MS = 10_000;

/** The most replications one user (not the admin) runs at once: anyone may sign up, so each is bounded. */
export const MAX_JOBS_PER_USER = 20;

/** CouchDB's default `retries_per_request`. */
export const RETRIES_PER_REQUEST = 5;

export interface ReplicationJobsOptions {
  /** First wait before a crashing `_replicator` job is tried again; it doubles up to 10 minutes. */
  retryBaseMs?: number;
  /** The most replications one user runs at once (default MAX_JOBS_PER_USER). */
  maxJobsPerUser?: number;
  /**
   * A `_replicator` document's job bound to the user its `owner` names (their databases, checked
   * before each call, as a `POST /_replicate` of theirs), or as it is for the server admin; it
   * throws when that user cannot run it. Without it, documents' jobs run as the node.
   */
  ownerSpec?: (owner: string, spec: JobSpec) => Promise<JobSpec>;
}

export class ReplicationJobs implements JobHost {
  readonly jobs = new Map<string, Job>();
  private readonly docs: ReplicatorDocs;

  private readonly maxJobsPerUser: number;
  /** Users' jobs being launched (their peers opening), by user name. */
  private readonly starting = new Map<string, number>();

  constructor(
    private readonly node: RefugeNode,
    options: ReplicationJobsOptions = {},
  ) {
    this.docs = new ReplicatorDocs(node, this, options.retryBaseMs ?? 5000);
    this.maxJobsPerUser = options.maxJobsPerUser ?? MAX_JOBS_PER_USER;
    this.ownerSpec = options.ownerSpec;
  }

  private readonly ownerSpec: ReplicationJobsOptions['ownerSpec'];

  /** A `_replicator` document's spec as its owner (a string naming a user) may run it. */
  bindOwner(spec: JobSpec, owner: unknown): Promise<JobSpec> {
    return typeof owner === 'string' && this.ownerSpec ? this.ownerSpec(owner, spec) : Promise.resolve(spec);
  }

  /** Starts a `_replicator` document's job; a user's counts against their cap, as their API jobs do. */
  launchDocJob(key: string, spec: JobSpec, docId: string): Promise<Job> {
    return spec.owner ? this.launchCapped(key, spec, spec.owner, docId) : this.launch(key, spec, docId);
  }

  /** Starts the jobs described in `_replicator` and follows that database's changes. */
  start(): Promise<void> {
    return this.docs.start();
  }

  /** Resolves once the `_replicator` document `docId` is in `state`, or its state passes a test (for tools and tests). */
  whenDoc(docId: string, state: DocState['state'] | ((d: DocState) => boolean), signal?: AbortSignal): Promise<DocState> {
    return this.docs.whenDoc(docId, state, signal);
  }

  /** Every `_replicator` document's state (CouchDB's `_scheduler/docs`), in id order. */
  replicatorDocs(): DocState[] {
    return this.docs.list();
  }

  /** Whether `id` names this job: its full id, or the replication id alone (CouchDB takes both). */
  named(job: Job, id: string): boolean {
    return id === jobId(job) || (job.replication.replicationId !== undefined && id === job.replication.replicationId);
  }

  /** The jobs running now (CouchDB's `_scheduler/jobs`). */
  runningJobs(): Job[] {
    return [...this.jobs.values()];
  }

  /** Starts a replication between the spec's ends, kept under `key` while it runs. */
  async launch(key: string, spec: JobSpec, docId?: string): Promise<Job> {
    const timeoutMs = spec.tuning?.timeoutMs;
    const source = await endpointPeer(this.node, spec.source, false, timeoutMs, spec.asOwner);
    let target;
    try {
      const filter = spec.filter === undefined ? undefined : { name: spec.filter, ...(spec.queryParams && { queryParams: spec.queryParams }) };
      target = await endpointPeer(this.node, spec.target, spec.createTarget, timeoutMs, spec.asOwner, () => sourceReady(source.peer, filter));
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
      // A one-shot job fails once a request has failed this often, as CouchDB's does (its answer or
      // its document's crash then says why): not after the library's ten tries, a minute and a half.
      ...(!spec.continuous && { retry: { maxAttempts: (spec.tuning?.retriesPerRequest ?? RETRIES_PER_REQUEST) + 1 } }),
    });
    const job: Job = { spec, replication, docId, startedOn: Date.now(), updatedOn: Date.now(), crashes: [] };
    replication.on('change', () => (job.updatedOn = Date.now()));
    // Every failure shows while the job struggles (the replicator retries it), not only the last.
    replication.on('retry', (e) => recordCrash(job, e.error.reason));
    // A restart from the checkpoints (a database replaced under it) shows as CouchDB's job crash does.
    replication.on('restart', (e) => recordCrash(job, e.error.reason));
    replication.on('error', (e) => recordCrash(job, e.reason));
    // Replicating again after a retry: the error is history (the crashes keep it), no longer the state.
    replication.on('active', () => delete job.lastError);
    this.jobs.set(key, job);
    replication.done.then(
      () => this.jobs.get(key) === job && !spec.continuous && this.jobs.delete(key),
      () => {
        if (this.jobs.get(key) !== job) return;
        // A continuous API job that stopped on an error stays listed, failed, with its error, until
        // cancelled: its client was told it runs and must be able to learn otherwise.
        if (spec.continuous && key.startsWith('api:')) job.failed = true;
        else this.jobs.delete(key);
      },
    ).finally(release);
    return job;
  }

  /**
   * Runs an API replication: one-shot ones answer their report, continuous ones their id once both
   * peers have answered (a missing database fails the request, as in CouchDB), `<id>+continuous`.
   */
  async replicate(spec: JobSpec): Promise<{ continuous: true; id: string | null } | { continuous: false; report: ReplicationReport }> {
    const key = apiKey(spec);
    // Asking again for a job that runs joins it, one-shot or continuous (CouchDB's replicate waits
    // for the running one's result); asking again for a continuous job that failed starts it anew.
    const existing = this.jobs.get(key);
    const running = existing?.failed ? undefined : existing;
    const job = running ?? (spec.owner ? await this.launchCapped(key, spec, spec.owner) : await this.launch(key, spec));
    if (!spec.continuous) return { continuous: false, report: await job.replication.done };
    // Joining a job that already has its id (it runs, or retries a peer that does not answer): that is the answer.
    if (job === running && job.replication.replicationId !== undefined) return { continuous: true, id: jobId(job) ?? null };
    // A peer that does not answer (retried for good in continuous mode) must not hold the request:
    // once a first call failed and is to be retried, the job keeps trying and the answer goes, as
    // CouchDB's does, with the job's id (known without the peers unless a filter is part of it).
    // A peer that neither answers nor fails is not waited for beyond ID_WAIT_MS either.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopListening = () => {};
    const gaveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ID_WAIT_MS);
      stopListening = job.replication.on('retry', () => resolve(undefined));
    });
    try {
      await Promise.race([job.replication.idKnown, gaveUp]);
      return { continuous: true, id: jobId(job) ?? null };
    } catch (err) {
      // It could not start (a missing filter, a bad database name): the request fails and no job
      // is left behind, listed but unnamed, for a client that was told there is none.
      if (job !== running && this.jobs.get(key) === job) {
        job.replication.cancel();
        this.jobs.delete(key);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }

  /**
   * Launches a user's job unless they run as many as they may already (a failed one, stopped, does
   * not count; one still starting does, so simultaneous requests cannot pass the bound together).
   */
  private async launchCapped(key: string, spec: JobSpec, owner: UserCtx, docId?: string): Promise<Job> {
    const name = owner.name ?? '';
    let mine = this.starting.get(name) ?? 0;
    for (const job of this.jobs.values()) if (!job.failed && job.spec.owner?.name === owner.name) mine++;
    if (mine >= this.maxJobsPerUser) {
      throw new RefugeError('forbidden', `${name} runs ${mine} replications, the most a user may run at once: cancel one first`);
    }
    this.starting.set(name, (this.starting.get(name) ?? 0) + 1);
    try {
      return await this.launch(key, spec, docId);
    } finally {
      const left = this.starting.get(name)! - 1;
      if (left === 0) this.starting.delete(name);
      else this.starting.set(name, left);
    }
  }

  /**
   * Cancels the API job with this id (`<id>` or `<id>+continuous`) or this very spec (continuous
   * included, as CouchDB's id includes it); answers the cancelled job's id (null while the job has
   * none yet: it is cancelled all the same), or undefined when no job matches. A user (`owner`)
   * reaches only the jobs they started.
   */
  cancel(which: { id: string } | { spec: JobSpec }, owner?: UserCtx): string | null | undefined {
    for (const [key, job] of this.jobs) {
      if (!key.startsWith('api:')) continue;
      if (owner !== undefined && job.spec.owner?.name !== owner.name) continue;
      const matches = 'id' in which ? this.named(job, which.id) : key === apiKey(which.spec);
      if (matches) {
        job.replication.cancel();
        this.jobs.delete(key);
        return jobId(job) ?? null;
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
        // Whose job it is, as CouchDB names it: a user's, or null for the server admin's.
        user: job.spec.owner?.name ?? null,
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
    this.docs.stop();
    const all = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of all) job.replication.cancel();
    await Promise.allSettled(all.map((j) => j.replication.done));
  }
}
