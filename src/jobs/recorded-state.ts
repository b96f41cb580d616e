// What CouchDB writes into a `_replicator` document when its job ends: the time of the state and the
// stats of a completed job, in CouchDB's names and formats.

import type { ReplicationProgress, ReplicationReport } from '../replication/index.ts';

/** CouchDB's timestamps in replication documents: ISO 8601 to the second, `2017-04-05T19:18:15Z`. */
export const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function withoutStartTime(stats: Record<string, unknown>): Record<string, unknown> {
  const { start_time: _s, ...rest } = stats;
  return rest;
}

/** A job's counters as CouchDB names them (in `_replication_stats` and the scheduler's `info`). */
export function statsOf(p: ReplicationProgress): Record<string, unknown> {
  return {
    revisions_checked: p.missingChecked,
    missing_revisions_found: p.missingFound,
    docs_read: p.docsRead,
    docs_written: p.docsWritten,
    changes_pending: p.pending ?? null,
    doc_write_failures: p.docWriteFailures,
    checkpointed_source_seq: p.checkpointedSeq ?? null,
  };
}

/** A finished job's `_replication_stats`. */
export function replicationStats(report: ReplicationReport, startedOn: number): Record<string, unknown> {
  return { ...statsOf(report), start_time: isoSeconds(startedOn) };
}
