// Replication checkpoints: `_local/<replication id>` on both source and target, in CouchDB's shape,
// and CouchDB's rule for picking where to resume (a session both sides recorded).

import type { Doc } from '../documents/index.ts';
import { isRefugeError } from '../errors/index.ts';
import type { ReplicationPeer, Seq } from './peer.ts';
import { REPLICATION_ID_VERSION } from './replication-id.ts';

/** Where a replication with no usable checkpoint starts. */
export const LOWEST_SEQ: Seq = 0;
/** CouchDB keeps the last 50 sessions. */
export const HISTORY_LIMIT = 50;

export interface HistoryEntry {
  session_id: string;
  start_time: string;
  end_time: string;
  start_last_seq: Seq;
  end_last_seq: Seq;
  recorded_seq: Seq;
  missing_checked: number;
  missing_found: number;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
}

export interface ReplicationLog extends Doc {
  session_id?: string;
  source_last_seq?: Seq;
  replication_id_version?: number;
  history?: HistoryEntry[];
}

export interface SessionStats {
  missingChecked: number;
  missingFound: number;
  docsRead: number;
  docsWritten: number;
  docWriteFailures: number;
}

const historyOf = (log: ReplicationLog | undefined): HistoryEntry[] => (Array.isArray(log?.history) ? log.history : []);

/**
 * CouchDB's compare_replication_logs: the same last session on both sides means its seq is safe;
 * otherwise walk both histories for the most recent session either side shares with the other.
 */
export function compareReplicationLogs(
  source: ReplicationLog | undefined,
  target: ReplicationLog | undefined,
): { seq: Seq; history: HistoryEntry[] } {
  if (!source || !target) return { seq: LOWEST_SEQ, history: [] };
  if (source.session_id !== undefined && source.session_id === target.session_id) {
    return { seq: source.source_last_seq ?? LOWEST_SEQ, history: historyOf(source) };
  }
  let s = historyOf(source);
  let t = historyOf(target);
  while (s.length > 0 && t.length > 0) {
    const [sHead, ...sRest] = s as [HistoryEntry, ...HistoryEntry[]];
    const [tHead, ...tRest] = t as [HistoryEntry, ...HistoryEntry[]];
    if (t.some((e) => e.session_id === sHead.session_id)) return { seq: sHead.recorded_seq ?? LOWEST_SEQ, history: sRest };
    if (sRest.some((e) => e.session_id === tHead.session_id)) return { seq: tHead.recorded_seq ?? LOWEST_SEQ, history: tRest };
    s = sRest;
    t = tRest;
  }
  return { seq: LOWEST_SEQ, history: [] };
}

export interface CheckpointSession {
  sessionId: string;
  startTime: string;
}

/** Reads the logs once at start, then writes one history entry for this session, replaced on each checkpoint. */
export class Checkpointer {
  private readonly revs: { source?: string; target?: string } = {};
  private baseHistory: HistoryEntry[] = [];
  private startSeq: Seq = LOWEST_SEQ;
  private written: HistoryEntry[] = [];
  /** False once the source refused a write (read-only source): checkpoints then live on the target only. */
  sourceWritable = true;

  constructor(
    private readonly source: ReplicationPeer,
    private readonly target: ReplicationPeer,
    readonly docId: string,
    private readonly session: CheckpointSession,
  ) {}

  /** The sequence to resume from; `override` (the `since` option) wins but history is kept. */
  async read(signal: AbortSignal | undefined, override?: Seq): Promise<Seq> {
    const [src, tgt] = await Promise.all([this.source.getLocal(this.docId, { signal }), this.target.getLocal(this.docId, { signal })]);
    this.revs.source = src?._rev;
    this.revs.target = tgt?._rev;
    const found = compareReplicationLogs(src as ReplicationLog | undefined, tgt as ReplicationLog | undefined);
    this.baseHistory = found.history;
    this.startSeq = override ?? found.seq;
    return this.startSeq;
  }

  /** The history as last written (newest first); before any write, the one the run resumed from. */
  get history(): HistoryEntry[] {
    return this.written.length > 0 ? this.written : this.baseHistory;
  }

  async write(seq: Seq, stats: SessionStats, signal?: AbortSignal): Promise<void> {
    // Times as CouchDB writes them in checkpoints (RFC 1123: `Wed, 02 Dec 2026 10:10:30 GMT`).
    const entry: HistoryEntry = {
      session_id: this.session.sessionId,
      start_time: new Date(this.session.startTime).toUTCString(),
      end_time: new Date().toUTCString(),
      start_last_seq: this.startSeq,
      end_last_seq: seq,
      recorded_seq: seq,
      missing_checked: stats.missingChecked,
      missing_found: stats.missingFound,
      docs_read: stats.docsRead,
      docs_written: stats.docsWritten,
      doc_write_failures: stats.docWriteFailures,
    };
    const history = [entry, ...this.baseHistory].slice(0, HISTORY_LIMIT);
    const body: ReplicationLog = {
      session_id: this.session.sessionId,
      source_last_seq: seq,
      replication_id_version: REPLICATION_ID_VERSION,
      history,
    };
    // Durable data first: a checkpoint must never name writes the target could still lose.
    await this.target.ensureFullCommit?.({ signal });
    await this.put('target', body, signal);
    if (this.sourceWritable) {
      try {
        await this.put('source', body, signal);
      } catch (err) {
        if (!isRefugeError(err, 'forbidden') && !isRefugeError(err, 'unauthorized')) throw err;
        this.sourceWritable = false;
      }
    }
    this.written = history;
  }

  private async put(side: 'source' | 'target', body: ReplicationLog, signal?: AbortSignal): Promise<void> {
    const peer = this[side];
    const attempt = () => peer.putLocal({ ...body, _id: this.docId, ...(this.revs[side] ? { _rev: this.revs[side] } : {}) }, { signal });
    try {
      this.revs[side] = (await attempt()).rev;
    } catch (err) {
      if (!isRefugeError(err, 'conflict')) throw err;
      // Our last write may have landed without us seeing the answer, or another run wrote: this
      // session's record is authoritative now, so take the current rev and write over it.
      const current = await peer.getLocal(this.docId, { signal });
      this.revs[side] = current?._rev;
      this.revs[side] = (await attempt()).rev;
    }
  }
}
