// Helpers for the blob tests: reference hashing with node:crypto, deterministic streamed content,
// reading a BlobRead back, and assertions on RefugeError codes.

import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { RefugeError, type ErrorCode } from '../../src/errors/index.ts';
import type { BlobId } from '../../src/blobs/core.ts';

export const MiB = 1024 * 1024;

export function idOf(...parts: Uint8Array[]): BlobId {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256-${h.digest('hex')}`;
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

export function randomBytesOf(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n));
}

/** Random content of `size` bytes cut into uneven chunks (so chunk boundaries land anywhere). */
export function unevenChunks(size: number, maxChunk = MiB): Uint8Array[] {
  const out: Uint8Array[] = [];
  let left = size;
  let i = 0;
  while (left > 0) {
    const n = Math.min(left, i % 3 === 0 ? maxChunk : i % 3 === 1 ? 1 + ((i * 7919) % 4099) : maxChunk - 13);
    out.push(randomBytesOf(n));
    left -= n;
    i++;
  }
  return out;
}

/** Yields the chunks one macrotask apart, like a network body arriving. */
export async function* trickle(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    yield c;
  }
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}

export async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Hashes a stream without keeping it; returns its id and size. */
export async function hashStream(chunks: AsyncIterable<Uint8Array>): Promise<{ id: BlobId; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of chunks) {
    h.update(c);
    size += c.length;
  }
  return { id: `sha256-${h.digest('hex')}`, size };
}

export const isCode = (code: ErrorCode, status?: number) => (err: unknown) => {
  assert.ok(err instanceof RefugeError, `expected a RefugeError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (status !== undefined) assert.equal(err.status, status);
  return true;
};
