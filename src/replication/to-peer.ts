// Accepts what callers naturally have at hand — a Database, a URL, or a peer — as a peer.

import { Database } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { HttpPeer, type HttpPeerOptions } from './http-peer.ts';
import { LocalPeer } from './local-peer.ts';
import type { ReplicationPeer } from './peer.ts';

export type PeerLike = ReplicationPeer | Database | string | URL;

export function toPeer(peer: PeerLike, http: HttpPeerOptions = {}): ReplicationPeer {
  if (peer instanceof Database) return new LocalPeer(peer);
  if (typeof peer === 'string' || peer instanceof URL) return new HttpPeer(peer, http);
  // Anything else must at least look like a peer: a null or a plain object failed deep inside the
  // replication, as an internal error.
  const p = peer as Partial<ReplicationPeer> | null;
  if (p === null || typeof p !== 'object' || typeof p.identity !== 'function' || typeof p.info !== 'function' || typeof p.changes !== 'function') {
    throw new RefugeError('bad_request', 'a replication end must be a Database, a URL or a ReplicationPeer');
  }
  return peer;
}
