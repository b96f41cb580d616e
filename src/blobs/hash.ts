// Incremental SHA-256 behind a tiny interface, so backends pick the fastest hasher their platform
// has: @noble/hashes everywhere (here), node:crypto in Node (hash-node.ts, several times faster).

import { sha256 } from '@noble/hashes/sha2.js';

export interface Hasher {
  update(bytes: Uint8Array): void;
  /** The 32-byte digest; the hasher is spent afterwards. */
  digest(): Uint8Array;
}

export type HasherFactory = () => Hasher;

export const portableSha256: HasherFactory = () => {
  const h = sha256.create();
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => h.digest(),
  };
};
