// Helpers for the files tests: deterministic pseudo-random bytes, temp dirs, and an
// interface-blockstore adapter so ipfs-unixfs-exporter reads straight from a BlobStore.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CID } from 'multiformats/cid';
import type { BlobStore } from '../../src/blobs/core.ts';
import { blobIdOfCid } from '../../src/files/blocks.ts';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** `n` pseudo-random bytes from `seed` (xorshift32): the same bytes on every run. */
export function seededBytes(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed | 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, n);
}

/** Yields `bytes` in pieces of `size` (as a file stream would). */
export function* pieces(bytes: Uint8Array, size = 64 * KiB): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, Math.min(bytes.length, i + size));
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'refuge-files-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The `get` an IPFS exporter needs (interface-blockstore 7 streams the block). */
export function blockstoreOver(store: BlobStore) {
  return {
    async *get(cid: CID): AsyncGenerator<Uint8Array> {
      for await (const chunk of await store.get(blobIdOfCid(cid))) yield chunk;
    },
  };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
