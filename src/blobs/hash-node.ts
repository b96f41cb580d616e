// SHA-256 through node:crypto (OpenSSL, SHA-NI where the CPU has it): Node backends only.

import { createHash } from 'node:crypto';
import type { HasherFactory } from './hash.ts';

export const nodeSha256: HasherFactory = () => {
  const h = createHash('sha256');
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => h.digest(),
  };
};
