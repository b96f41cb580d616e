// The memory backend against the shared blob conformance suite, hashing with the portable
// @noble/hashes SHA-256 (what a browser runs) and, through openBlobStore, with node:crypto.

import { MemoryBlobStore } from '../../src/blobs/core.ts';
import { openBlobStore } from '../../src/blobs/index.ts';
import { runBlobConformance } from './conformance.ts';
import { MiB } from './helpers.ts';

runBlobConformance('memory (portable hasher)', {
  persistent: false,
  open: async () => new MemoryBlobStore(),
  corrupt: async (store, id, offset) => (store as MemoryBlobStore).corruptForTesting(id, offset),
  // The pure-JavaScript hasher is slower: a smaller large blob keeps the run short.
  largeBytes: 24 * MiB,
});

runBlobConformance('memory (node hasher)', {
  persistent: false,
  open: () => openBlobStore({ backend: 'memory' }),
  corrupt: async (store, id, offset) => (store as MemoryBlobStore).corruptForTesting(id, offset),
});
