// The memory backend against the shared blob conformance suite, hashing with the portable
// @noble/hashes SHA-256 (what a browser runs) and, through openBlobStore, with node:crypto.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlobStore } from '../../src/blobs/core.ts';
import { isRefugeError } from '../../src/errors/index.ts';
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

test('a store out of space answers its own error with a stable code, not the raw errno', async () => {
  const store = new MemoryBlobStore();
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  (store as unknown as { putBytes: () => Promise<never> }).putBytes = async () => {
    throw full;
  };
  await assert.rejects(store.put(new Uint8Array([1, 2, 3])), (e: unknown) => isRefugeError(e, 'internal') && /out of space/.test(e.reason) && e.cause === full);
  await store.close();
});
