// A running replication job, started over HTTP or by a `_replicator` document, and its id.

import type { Replication } from '../replication/index.ts';
import type { JobSpec } from './job-spec.ts';

export interface Job {
  spec: JobSpec;
  replication: Replication;
  docId?: string;
  startedOn: number;
  updatedOn: number;
  lastError?: string;
  /** Failures while it runs (each retried by the replicator), newest first, the last few kept. */
  crashes: Array<{ at: number; reason: string }>;
  /** Set once a job has stopped for good on an error (a continuous API job then stays listed). */
  failed?: boolean;
}

const CRASHES_KEPT = 10;

/** Records a failure of `job`: its `last_error` and a `crashed` event in its history. */
export function recordCrash(job: Job, reason: string, at = Date.now()): void {
  job.lastError = reason;
  job.updatedOn = at;
  job.crashes.unshift({ at, reason });
  job.crashes.length = Math.min(job.crashes.length, CRASHES_KEPT);
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
