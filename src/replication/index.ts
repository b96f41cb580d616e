// Replication: CouchDB's replication protocol as a client, between any two peers (a local Database,
// a CouchDB-compatible HTTP endpoint). Portable: fetch, AbortController and timers only.

export type {
  CallOptions,
  PeerCapabilities,
  PeerChangeRow,
  PeerChanges,
  PeerChangesRequest,
  PeerInfo,
  PeerWriteResult,
  ReplicationPeer,
  Seq,
} from './peer.ts';
export { LocalPeer, type ChangesEnd, type LocalPeerOptions } from './local-peer.ts';
export { withBase64 } from './attachment-data.ts';
export { HttpPeer, type HttpPeerOptions } from './http-peer.ts';
export { attachmentPath, checkPeerUrl, docPath, urlCredential, type HttpClientOptions } from './http-client.ts';
export { checkRequestHeaders } from './request-headers.ts';
export { Replication, replicate } from './replicator.ts';
export type { ChangeEvent, ReplicationEvents, ReplicationProgress, ReplicationReport } from './events.ts';
export { Sync, sync, type Direction, type SyncEvents, type SyncOptions } from './sync.ts';
export type { ReplicateOptions } from './options.ts';
export type { RetryOptions } from './retry.ts';
export { isRetryable } from './retry.ts';
export { compareReplicationLogs, type HistoryEntry, type ReplicationLog } from './checkpoint.ts';
export { checkpointDocId, filterSource, replicationId } from './replication-id.ts';
export { toPeer, type PeerLike } from './to-peer.ts';
