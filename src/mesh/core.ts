// The mesh's portable face (Node and browsers): identity (the node key as a libp2p peer id),
// invites, trust and grants, the MeshNode (libp2p; TCP and mDNS only where there are sockets, see
// `#mesh/node-parts`), replication over `/refuge/replication/1.0.0`, flooded queries over
// `/refuge/query/1.0.0`, blob exchange over `/refuge/blobs/1.0.0`, signed refs over
// `/refuge/refs/1.0.0`, auto-sync with trusted peers; peer-signed HTTP requests (`peerFetch`).

import '#mesh/node20-shim';

export { meshPrivateKey, peerIdOf, parsePeerId, isPeerId } from './identity.ts';
export { encodeInvite, parseInvite, INVITE_PREFIX, type Invite } from './invite.ts';
export {
  ALL_DBS,
  ALL_REFS,
  refKey,
  addPeer,
  emptyTrust,
  findPeer,
  parseSubject,
  parseTrustState,
  removePeer,
  setGrant,
  setGroup,
  type Access,
  type Grant,
  type PeerInput,
  type Subject,
  type TrustedPeer,
  type TrustState,
} from './trust.ts';
export { can, canRef, accessOf, canReadBlobs, isTrusted, sharedWith, type DbAccess } from './grants.ts';
export { MemoryTrustStore, type TrustStore } from './trust-store.ts';
export { KvTrustStore } from './trust-kv.ts';
export { MeshNode, DEFAULT_MESH_LISTEN, type MeshEvents, type MeshNodeOptions, type PeerEvent } from './mesh-node.ts';
export { MeshDiscovery, type DiscoveredEvent, type HubRegisteredEvent } from './mesh-discovery.ts';
export { HubRegistry, DEFAULT_REGISTRATION_TTL_MS, type HubRegistryOptions, type Registration } from './hub-registry.ts';
export { HUB_PROTOCOL, hubLookup, hubRegister } from './hub-protocol.ts';
export { KAD_PROTOCOL, MDNS_SERVICE_TAG, loopbackOnly } from './libp2p-options.ts';
export { StreamPool, POOL_IDLE_MS } from './stream-pool.ts';
export { MeshPeer, meshRequest, type MeshPeerOptions, type StreamOpener } from './mesh-peer.ts';
export { ReplicationService, type ReplicationServiceOptions } from './replication-server.ts';
export { CHANGES_FEED_PROTOCOL, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY, type ReplicationOp, type ReplicationRequest, type SharedDb } from './replication-protocol.ts';
export { AutoSync, type AutoSyncEvents, type AutoSyncOptions, type PullKey } from './auto-sync.ts';
export {
  QUERY_PROTOCOL,
  DEFAULT_TTL,
  MAX_TTL,
  DEFAULT_QUERY_LIMIT,
  DEFAULT_QUERY_MS,
  MAX_QUERY_MS,
  type Question,
  type QueryMessage,
  type QueryResult,
  type SignedQuery,
} from './query-protocol.ts';
export { QueryRouter, type AskOptions, type LocalAnswer, type QueryRouterOptions, type QueryStats } from './query-router.ts';
export { QueryStream } from './query-stream.ts';
export { QueryService, type QueryMesh, type QueryServiceOptions } from './query-service.ts';
export { localAnswerer } from './query-answer.ts';
export { signRequest, peerFetch, PeerRequestVerifier, PEER_AUTH_SCHEME, CONTENT_SHA256_HEADER, type SignedRequest } from './http-signature.ts';
export { REFS_PROTOCOL, RefExchange, type RefPull, type RefRequest } from './ref-exchange.ts';
export { BLOB_PROTOCOL, BlobExchange, type BlobExchangeOptions, type BlobRequest, type BlobResumeOptions } from './blob-exchange.ts';
export { startBrowserNode, storedNodeKey, type BrowserNode, type BrowserNodeOptions } from './browser-node.ts';
