// Jobs: the node's long-running work on behalf of users — for now, replications started by
// `POST /_replicate` or by documents in the `_replicator` database.

export { ReplicationJobs, type ReplicationJobsOptions } from './replication-jobs.ts';
export { jobId, type Job } from './job.ts';
export type { DocState } from './doc-states.ts';
export { parseSpec, refusedReplicatorDoc, type JobSpec } from './job-spec.ts';
export { checkEndpoint, describeEndpoint, endpointPeer, type Endpoint } from './endpoint.ts';
export { isoSeconds, statsOf } from './recorded-state.ts';
