// `/refuge/replication/1.0.0`: the replicator's peer interface (src/replication/peer.ts) carried over
// libp2p streams, one request and one answer per stream; `/refuge/replication/1.1.0` the same with
// several requests per stream, one after another (the client keeps idle streams for the next one).
// Shared by the client (MeshPeer) and server. `dbs` lists what a peer shares with the asker;
// `rescan` tells a peer that this list changed (a database made or granted), so it looks again now.
// `bulkGet` with `attachments: "stubs"` answers stubs, the blobs then travel by `/refuge/blobs/1.0.0`.
// `/refuge/changes-feed/1.0.0` streams a normal changes feed batch after batch (changes-feed.ts).

import { RefugeError } from '../errors/index.ts';
import type { DbAccess } from './grants.ts';

export const REPLICATION_PROTOCOL = '/refuge/replication/1.0.0';
export const REPLICATION_PROTOCOL_MANY = '/refuge/replication/1.1.0';
/**
 * A changes feed pushed batch after batch, so a reader never waits a round trip per batch: the
 * client sends one `changes` request (without `op`) with `credit`, the batches it may be sent ahead
 * of reading; the server answers one frame per batch while it has credit, each `{credit}` frame
 * from the client grants more, and it closes the stream after the first batch of fewer than `limit`
 * rows (caught up) or after an error answer.
 */
export const CHANGES_FEED_PROTOCOL = '/refuge/changes-feed/1.0.0';
/** Batches a feed's client may let the server write ahead of its reading. */
export const MAX_FEED_CREDIT = 16;
/**
 * The credit a feed's server holds after a grant of `value` on top of `held`: a grant must be a
 * whole number of batches, and the client may never have more than MAX_FEED_CREDIT granted ahead.
 */
export function addCredit(value: unknown, held: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || held + (value as number) > MAX_FEED_CREDIT) {
    throw new RefugeError('bad_request', `credit must be a whole number, with at most ${MAX_FEED_CREDIT} batches granted ahead`);
  }
  return held + (value as number);
}
/** A server closes a 1.1.0 stream that brought no new request for this long. */
export const STREAM_IDLE_MS = 60_000;

/** Requests may carry whole documents with inline attachments (bulkDocs). */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** Untrusted peers may only read: their requests are lists of ids at most, never documents. */
export const UNTRUSTED_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Answers may carry a batch of documents with inline attachments (bulkGet). */
export const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024;
/** A long-poll never holds a stream longer than this, whatever the client asks. */
export const MAX_LONGPOLL_MS = 60_000;

export type ReplicationOp = 'dbs' | 'rescan' | 'info' | 'changes' | 'revsDiff' | 'bulkGet' | 'bulkDocs' | 'getLocal' | 'putLocal';

export interface ReplicationRequest {
  op: ReplicationOp;
  /** Every op but `dbs` and `rescan` names the database. */
  db?: string;
  [param: string]: unknown;
}

/** One database a peer shares with the asker, and what the asker may do with it. */
export interface SharedDb extends DbAccess {
  db: string;
}

/**
 * What each op needs. `either`: read or write (a write-only peer must still learn what is missing
 * and keep its checkpoint); `_local` writes have their own rule (see localWriteAllowed).
 */
export const OP_ACCESS: Record<Exclude<ReplicationOp, 'dbs' | 'rescan'>, 'read' | 'write' | 'either'> = {
  info: 'either',
  changes: 'read',
  revsDiff: 'either',
  bulkGet: 'read',
  bulkDocs: 'write',
  getLocal: 'either',
  putLocal: 'either',
};

export function isOp(value: unknown): value is ReplicationOp {
  return value === 'dbs' || value === 'rescan' || (typeof value === 'string' && Object.hasOwn(OP_ACCESS, value));
}

const LOCAL = '_local/';
/** The replicator's checkpoint ids: `_local/` + md5 hex of the replication (replication-id.ts). */
const CHECKPOINT_ID = /^_local\/[0-9a-f]{32}$/;
const MAX_LOCAL_ID = 512;

export function checkLocalId(id: unknown): string {
  if (typeof id !== 'string' || !id.startsWith(LOCAL) || id.length === LOCAL.length || id.length > MAX_LOCAL_ID || id.includes('\u0000')) {
    throw new RefugeError('bad_request', `a _local document id starts with _local/ and has at most ${MAX_LOCAL_ID} characters`);
  }
  return id;
}

/**
 * Each remote peer sees its own `_local/` space: `_local/X` from peer P is stored as
 * `_local/mesh:P:X`, so no peer can read or overwrite the checkpoints of another replication.
 */
export function namespacedLocalId(peerId: string, id: string): string {
  return `${LOCAL}mesh:${peerId}:${checkLocalId(id).slice(LOCAL.length)}`;
}

/**
 * CouchDB lets a replicator keep checkpoints on a source it may only read when the source allows
 * it, and otherwise checkpoints on the target alone. Here: a writer may write any `_local/` doc of
 * its space; a trusted reader only checkpoint ids (bounded, harmless, and they let its pulls resume);
 * an untrusted peer nothing — it gets `forbidden` and the replicator checkpoints on its side only.
 */
export function localWriteAllowed(access: DbAccess, trusted: boolean, id: string): boolean {
  if (access.write) return true;
  return access.read && trusted && CHECKPOINT_ID.test(id);
}
