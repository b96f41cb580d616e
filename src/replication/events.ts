// What a replication tells its listeners: progress counters, per-batch changes, and the final report.

import type { Doc } from '../documents/index.ts';
import type { RefugeError } from '../errors/index.ts';
import type { HistoryEntry } from './checkpoint.ts';
import type { PeerWriteResult, Seq } from './peer.ts';

export interface ReplicationProgress {
  docsRead: number;
  docsWritten: number;
  docWriteFailures: number;
  missingChecked: number;
  missingFound: number;
  /** Changes the source says are left, when it can tell. */
  pending?: number;
  /** The last sequence saved in a checkpoint (where a restart would resume). */
  checkpointedSeq: Seq;
  /** The last sequence read from the source's changes feed. */
  lastSeq: Seq;
  /** Every change up to this sequence has been written (checkpointed or not yet). */
  throughSeq: Seq;
}

export interface ChangeEvent extends ReplicationProgress {
  /** The documents this batch wrote (or tried to). */
  docs: Doc[];
  failures: PeerWriteResult[];
}

export interface ReplicationReport extends ReplicationProgress {
  ok: true;
  status: 'complete' | 'cancelled';
  replicationId: string | undefined;
  sessionId: string;
  startTime: string;
  endTime: string;
  startSeq: Seq;
  /** The checkpoint history as last written, newest first. */
  history: HistoryEntry[];
}

export interface ReplicationEvents {
  /** Replicating (at start, after catching up in continuous mode, or after a retry succeeded). */
  active: ReplicationProgress;
  /** Caught up in continuous mode, or waiting to retry (then `error` is set). */
  paused: ReplicationProgress & { error?: RefugeError };
  change: ChangeEvent;
  checkpoint: ReplicationProgress;
  retry: { error: RefugeError; attempt: number; delayMs: number };
  /**
   * A checkpoint the databases refused (`error`, code checkpoint_commit_failure): a database was
   * deleted and created again, or another run wrote the log. The replication starts again from the
   * logs, in a new session; `restarts` counts those since the last checkpoint recorded.
   */
  restart: { error: RefugeError; restarts: number };
  /** The replication failed for good; `done` rejects with the same error. */
  error: RefugeError;
  /** Finished or cancelled. */
  complete: ReplicationReport;
}
