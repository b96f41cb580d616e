// FastCDC chunker properties: lossless, sizes within bounds, deterministic across input splits, and
// local: an insertion in the middle of a large buffer changes only the chunks near it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { chunkLengths, chunkStream, DEFAULT_CHUNKING } from '../../src/files/chunker.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { KiB, MiB, equalBytes, pieces, seededBytes } from './helpers.ts';

async function collect(source: Iterable<Uint8Array>, options?: Parameters<typeof chunkStream>[1]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunkStream(source, options)) out.push(c.slice());
  return out;
}

const hashOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('chunks concatenate to the input and respect min/max, whatever the input splits', async () => {
  const data = seededBytes(12 * MiB + 12345, 7);
  const reference = chunkLengths(data);
  assert.equal(reference.reduce((a, b) => a + b, 0), data.length);
  for (const len of reference.slice(0, -1)) {
    assert.ok(len >= DEFAULT_CHUNKING.minSize && len <= DEFAULT_CHUNKING.maxSize, `chunk of ${len}`);
  }
  assert.ok(reference.at(-1)! <= DEFAULT_CHUNKING.maxSize);
  const avg = data.length / reference.length;
  assert.ok(avg > 128 * KiB && avg < 512 * KiB, `average ${avg}`);
  for (const split of [1000, 64 * KiB, 1 * MiB + 7, data.length]) {
    const chunks = await collect(pieces(data, split));
    assert.deepEqual(chunks.map((c) => c.length), reference, `split ${split}`);
    assert.ok(equalBytes(Buffer.concat(chunks), data));
  }
});

test('small and custom sizes; bad options are refused', async () => {
  assert.deepEqual(await collect([]), []);
  assert.deepEqual((await collect([new Uint8Array(1)])).map((c) => c.length), [1]);
  const data = seededBytes(300 * KiB, 3);
  const opts = { minSize: 2 * KiB, avgSize: 8 * KiB, maxSize: 32 * KiB };
  const lens = chunkLengths(data, opts);
  assert.ok(lens.length > 20);
  for (const len of lens.slice(0, -1)) assert.ok(len >= 2 * KiB && len <= 32 * KiB);
  // Zeros have no content boundary: every chunk is cut at the maximum.
  assert.deepEqual(chunkLengths(new Uint8Array(100 * KiB), opts), [32 * KiB, 32 * KiB, 32 * KiB, 4 * KiB]);
  for (const bad of [{ avgSize: 100_000 }, { minSize: 1 }, { minSize: 2 * MiB }]) {
    assert.throws(() => chunkLengths(data, bad), (e: unknown) => isRefugeError(e, 'bad_request'));
  }
});

test('an insertion in the middle only changes nearby chunks', () => {
  const data = seededBytes(32 * MiB, 11);
  const at = 16 * MiB + 1234;
  const edited = Buffer.concat([data.subarray(0, at), seededBytes(100, 99), data.subarray(at)]);
  const split = (b: Uint8Array) => {
    const out: string[] = [];
    let off = 0;
    for (const len of chunkLengths(b)) {
      out.push(hashOf(b.subarray(off, off + len)));
      off += len;
    }
    return out;
  };
  const before = split(data);
  const after = new Set(split(edited));
  const shared = before.filter((h) => after.has(h)).length;
  assert.ok(before.length > 60);
  assert.ok(before.length - shared <= 3, `${before.length - shared} of ${before.length} chunks changed`);
});
