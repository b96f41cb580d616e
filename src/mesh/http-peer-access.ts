// The mesh's answer to the HTTP server's PeerAccess: signed requests verified against peer ids, and
// the same trust file and grants (`can`) that the mesh's own protocols obey.

import type { PeerAccess } from '../http/index.ts';
import { can, canReadBlobs } from './grants.ts';
import { PeerRequestVerifier } from './http-signature.ts';
import type { TrustStore } from './trust-store.ts';

export interface HttpPeerAccessOptions {
  trust: TrustStore;
  /** The node's database names (blob reads are open to peers that may read one of them). */
  databases: () => Promise<string[]>;
  verifier?: PeerRequestVerifier;
}

export function httpPeerAccess(options: HttpPeerAccessOptions): PeerAccess {
  const verifier = options.verifier ?? new PeerRequestVerifier();
  return {
    authenticate: (req) => verifier.verify(req),
    may: async (peerId, access, db) => can(await options.trust.current(), peerId, access, db),
    mayReadBlobs: async (peerId) => canReadBlobs(await options.trust.current(), peerId, await options.databases()),
  };
}
