// What CouchDB writes into a `_replicator` document when its job ends: the time of the state and the
// stats of a completed job, in CouchDB's names and formats.

import type { ReplicationReport } from '../replication/index.ts';

/** CouchDB's timestamps in replication documents: ISO 8601 to the second, `2017-04-05T19:18:15Z`. */
export const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function withoutStartTime(stats: Record<string, unknown>): Record<string, unknown> {
  const { start_time: _s, ...rest } = stats;
  return rest;
}

/** A finished job's `_replication_stats`, named as CouchDB names them. */
export function replicationStats(report: ReplicationReport, startedOn: number): Record<string, unknown> {
  return {
    revisions_checked: report.missingChecked,
    missing_revisions_found: report.missingFound,
    docs_read: report.docsRead,
    docs_written: report.docsWritten,
    changes_pending: report.pending ?? null,
    doc_write_failures: report.docWriteFailures,
    checkpointed_source_seq: report.checkpointedSeq ?? null,
    start_time: isoSeconds(startedOn),
  };
}
