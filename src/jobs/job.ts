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
