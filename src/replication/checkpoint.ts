// Replication checkpoints: `_local/<replication id>` on both source and target, in CouchDB's shape,
// CouchDB's rule for picking where to resume (a session both sides recorded), and its refusal to
// record a checkpoint once either database is not the one the session started with.

import { canonicalJson, type Doc } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
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

/** Each database's `instance_start_time` as the session found it (undefined: the peer did not say). */
export interface PeerInstances {
  source?: string;
  target?: string;
}

/** The log's content, without `_id`, `_rev` and whatever else a server adds under `_`. */
const logBody = (doc: Doc | ReplicationLog): string =>
  canonicalJson(Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('_'))));

const refused = (err: unknown) => isRefugeError(err, 'forbidden') || isRefugeError(err, 'unauthorized');

/** Reads the logs once at start, then writes one history entry for this session, replaced on each checkpoint. */
export class Checkpointer {
  private readonly revs: { source?: string; target?: string } = {};
  /** Per side, the log last sent whose answer never came (it may have been written all the same). */
  private readonly unanswered: { source?: string; target?: string } = {};
  private baseHistory: HistoryEntry[] = [];
  private startSeq: Seq = LOWEST_SEQ;
  private written: HistoryEntry[] = [];
  /** False once the source refused a write (read-only source): checkpoints then live on the target only. */
  sourceWritable = true;
  /** Set when a checkpoint found the source replaced (another instance_start_time). */
  sourceReplaced = false;

  constructor(
    private readonly source: ReplicationPeer,
    private readonly target: ReplicationPeer,
    readonly docId: string,
    private readonly session: CheckpointSession,
    private readonly instances: PeerInstances = {},
  ) {}

  /**
   * The sequence to resume from; `override` (the `since` option) wins but history is kept.
   * `probeSource`: when only the target holds a log, find out whether the source can keep one at
   * all (see sourceRefusesLogs). Off without checkpoints (nothing is written then), and after the
   * source was found replaced: the target's log then names another database, never to be trusted alone.
   */
  async read(signal: AbortSignal | undefined, override?: Seq, { probeSource = true } = {}): Promise<Seq> {
    const [src, tgt] = await Promise.all([this.source.getLocal(this.docId, { signal }), this.target.getLocal(this.docId, { signal })]);
    this.revs.source = src?._rev;
    this.revs.target = tgt?._rev;
    let found = compareReplicationLogs(src as ReplicationLog | undefined, tgt as ReplicationLog | undefined);
    if (src === undefined && tgt !== undefined && probeSource && (await this.sourceRefusesLogs(signal))) {
      // A read-only source can hold no log: the target's is the only one there is (PouchDB's rule).
      const log = tgt as ReplicationLog;
      found = { seq: log.source_last_seq ?? LOWEST_SEQ, history: historyOf(log) };
    }
    this.baseHistory = found.history;
    this.startSeq = override ?? found.seq;
    return this.startSeq;
  }

  /**
   * Whether the source refuses `_local` writes, tried as PouchDB does by writing an empty log: a
   * missing source log with a target log means either a source that cannot keep one (resume from
   * the target's) or a source that lost it, replaced by a new database (start over). The empty log
   * names no session, so it never makes a resume point of its own.
   */
  private async sourceRefusesLogs(signal: AbortSignal | undefined): Promise<boolean> {
    const empty: ReplicationLog = { _id: this.docId, source_last_seq: LOWEST_SEQ, replication_id_version: REPLICATION_ID_VERSION, history: [] };
    try {
      this.revs.source = (await this.source.putLocal(empty, { signal })).rev;
      return false;
    } catch (err) {
      if (!refused(err)) throw err;
      this.sourceWritable = false;
      return true;
    }
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
    await Promise.all([this.commit('source', signal), this.commit('target', signal)]);
    await this.put('target', body, signal);
    if (this.sourceWritable) {
      try {
        await this.put('source', body, signal);
      } catch (err) {
        if (!refused(err)) throw err;
        this.sourceWritable = false;
      }
    }
    this.written = history;
  }

  /**
   * CouchDB's commit_to_both: each side makes its writes durable and tells its instance_start_time.
   * Another one than at the session's start is another database under the same name (deleted and
   * created again): its sequences and logs are not the ones this session resumed from, so nothing
   * is recorded and the replication starts again from the logs.
   */
  private async commit(side: 'source' | 'target', signal?: AbortSignal): Promise<void> {
    const peer = this[side];
    const then = this.instances[side];
    let now: string | undefined;
    try {
      // A peer without the call (the mesh's) still tells its instance in its info.
      if (peer.ensureFullCommit) now = await peer.ensureFullCommit({ signal });
      else if (then !== undefined) now = (await peer.info({ signal })).instanceStartTime;
    } catch (err) {
      // A source the replication may only read may also refuse this; its writes are not ours.
      if (side === 'target' || !refused(err)) throw err;
    }
    this.checkInstance(side, now);
  }

  /** Refuses to go on when `side` now tells another instance than at the session's start. */
  private checkInstance(side: 'source' | 'target', now: string | undefined): void {
    const then = this.instances[side];
    if (now === undefined || then === undefined || now === then) return;
    if (side === 'source') this.sourceReplaced = true;
    throw new RefugeError('checkpoint_commit_failure', `the ${side} database was deleted and created again (instance_start_time ${then}, now ${now})`);
  }

  /**
   * Whether the source is still the database this session read, checked while its feed is quiet:
   * a feed on a database deleted and created again under the same name goes quiet (its sequences
   * start over below the one the session asks after), so without this the changes written there
   * stay unseen until the new database passes the old position. Its instance_start_time tells;
   * where it tells nothing (CouchDB 2+ says "0"), the log this session keeps there does. A source
   * found missing fails the replication (not_found), as a feed's answer would.
   */
  async checkSource(signal?: AbortSignal): Promise<void> {
    const then = this.instances.source;
    if (then !== undefined) this.checkInstance('source', (await this.source.info({ signal })).instanceStartTime);
    if ((then === undefined || then === '0') && this.sourceWritable && this.revs.source !== undefined) {
      if ((await this.source.getLocal(this.docId, { signal })) !== undefined) return;
      this.sourceReplaced = true;
      throw new RefugeError('checkpoint_commit_failure', 'the checkpoint on the source is gone (was the database replaced?)');
    }
  }

  private async put(side: 'source' | 'target', body: ReplicationLog, signal?: AbortSignal): Promise<void> {
    const peer = this[side];
    const sent = logBody(body);
    const attempt = async () => {
      try {
        this.revs[side] = (await peer.putLocal({ ...body, _id: this.docId, ...(this.revs[side] ? { _rev: this.revs[side] } : {}) }, { signal })).rev;
        this.unanswered[side] = undefined;
      } catch (err) {
        if (!isRefugeError(err, 'conflict')) this.unanswered[side] = sent;
        throw err;
      }
    };
    try {
      await attempt();
    } catch (err) {
      if (!isRefugeError(err, 'conflict')) throw err;
      // CouchDB's update_checkpoint: the conflict is our own write, landed with its answer lost, only
      // when the stored log is one this session sent (this one, or the one whose answer never came:
      // the retry rebuilt the log with a later end_time). Another run's log, or none (the database
      // was replaced, its logs gone with it), means the resume point this session read is wrong.
      const current = await peer.getLocal(this.docId, { signal });
      const stored = current?._rev === undefined ? undefined : logBody(current);
      if (stored === undefined || (stored !== sent && stored !== this.unanswered[side])) {
        const what = current === undefined ? 'is gone (was the database replaced?)' : 'was written by another replication';
        throw new RefugeError('checkpoint_commit_failure', `the checkpoint on the ${side} ${what}`, { cause: err });
      }
      this.revs[side] = current!._rev;
      this.unanswered[side] = undefined;
      if (stored !== sent) await attempt();
    }
  }
}
