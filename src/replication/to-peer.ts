// Accepts what callers naturally have at hand — a Database, a URL, or a peer — as a peer.

import { Database } from '../documents/index.ts';
import { HttpPeer, type HttpPeerOptions } from './http-peer.ts';
import { LocalPeer } from './local-peer.ts';
import type { ReplicationPeer } from './peer.ts';

export type PeerLike = ReplicationPeer | Database | string | URL;

export function toPeer(peer: PeerLike, http: HttpPeerOptions = {}): ReplicationPeer {
  if (peer instanceof Database) return new LocalPeer(peer);
  if (typeof peer === 'string' || peer instanceof URL) return new HttpPeer(peer, http);
  return peer;
}
