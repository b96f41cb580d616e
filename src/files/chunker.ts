// Content-defined chunking (FastCDC with normalized chunking over a 32-bit gear hash), streaming
// over any byte source without holding more than one chunk; portable and deterministic.

import { badRequest } from '../errors/index.ts';

export interface ChunkerOptions {
  /** Smallest chunk (except a file's last); default 64 KiB. */
  minSize?: number;
  /** Target average, a power of two; default 256 KiB. */
  avgSize?: number;
  /** Largest chunk; default 1 MiB. */
  maxSize?: number;
}

export const DEFAULT_CHUNKING = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 } as const;

/** 256 pseudo-random 32-bit values from a fixed seed (xorshift32): the same table on every platform. */
const GEAR = (() => {
  const table = new Int32Array(256);
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < 256; i++) {
    for (let r = 0; r < 3; r++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    table[i] = x;
  }
  return table;
})();

/** `bits` one-bits at the top of a 32-bit word: with a shift-left gear hash they see the last 32 bytes. */
const topMask = (bits: number): number => (bits >= 32 ? -1 : (((1 << bits) - 1) << (32 - bits)) | 0);

interface Params {
  min: number;
  normal: number;
  max: number;
  maskS: number;
  maskL: number;
}

function params(options: ChunkerOptions = {}): Params {
  const min = options.minSize ?? DEFAULT_CHUNKING.minSize;
  const avg = options.avgSize ?? DEFAULT_CHUNKING.avgSize;
  const max = options.maxSize ?? DEFAULT_CHUNKING.maxSize;
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 64 && n <= 2 ** 30;
  if (!ok(min) || !ok(avg) || !ok(max) || !(min <= avg && avg <= max)) {
    throw badRequest(`chunk sizes need 64 <= min <= avg <= max <= 1 GiB, got ${min}/${avg}/${max}`);
  }
  const bits = Math.round(Math.log2(avg));
  if (2 ** bits !== avg) throw badRequest(`the average chunk size must be a power of two, got ${avg}`);
  // Normalized chunking, level 2: harder to cut before the average, easier after.
  return { min, normal: avg, max, maskS: topMask(bits + 2), maskL: topMask(Math.max(1, bits - 2)) };
}

/** Word loads are read little-endian: elsewhere the byte loop keeps cut points identical. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The hash after the last `gearRun` (a module slot rather than an object: no allocation per call). */
let runHash = 0;

/**
 * Rolls the gear hash over bytes[i, end) from `h`; returns the index after the first byte where
 * `(h & mask) === 0`, or -1 (the hash is left in `runHash` either way). The middle goes a 32-bit
 * word at a time: one bounds-checked load per four bytes is what makes this ~1.4x the byte loop.
 */
function gearRun(bytes: Uint8Array, i: number, end: number, mask: number, h: number): number {
  const gear = GEAR;
  const head = LITTLE_ENDIAN ? Math.min(end, i + ((4 - ((bytes.byteOffset + i) & 3)) & 3)) : end;
  for (; i < head; i++) {
    h = ((h << 1) + gear[bytes[i]!]!) | 0;
    if ((h & mask) === 0) return ((runHash = h), i + 1);
  }
  const count = (end - i) >>> 2;
  if (count > 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, count);
    for (let k = 0; k < count; k++) {
      const v = words[k]!;
      h = ((h << 1) + gear[v & 255]!) | 0;
      if ((h & mask) === 0) return ((runHash = h), i + 4 * k + 1);
      h = ((h << 1) + gear[(v >>> 8) & 255]!) | 0;
      if ((h & mask) === 0) return ((runHash = h), i + 4 * k + 2);
      h = ((h << 1) + gear[(v >>> 16) & 255]!) | 0;
      if ((h & mask) === 0) return ((runHash = h), i + 4 * k + 3);
      h = ((h << 1) + gear[v >>> 24]!) | 0;
      if ((h & mask) === 0) return ((runHash = h), i + 4 * k + 4);
    }
    i += 4 * count;
  }
  for (; i < end; i++) {
    h = ((h << 1) + gear[bytes[i]!]!) | 0;
    if ((h & mask) === 0) return ((runHash = h), i + 1);
  }
  runHash = h;
  return -1;
}

/**
 * A resumable cut-point scanner. `scan(bytes)` consumes input and returns how many bytes of it belong
 * to the current chunk when a cut was found there (the chunk is then complete), or -1 when all of
 * `bytes` belong to the current chunk and it continues.
 */
export class CutFinder {
  readonly #p: Params;
  /** Bytes of the current chunk seen so far. */
  #len = 0;
  #hash = 0;

  constructor(options?: ChunkerOptions) {
    this.#p = params(options);
  }

  get maxSize(): number {
    return this.#p.max;
  }

  scan(bytes: Uint8Array, from = 0): number {
    const { min, normal, max, maskS, maskL } = this.#p;
    // The chunk's length when the scan stands at index i is base + i.
    const base = this.#len - from;
    const stop = bytes.length;
    // Below the minimum nothing is hashed: skip straight ahead.
    if (base + stop < min) {
      this.#len = base + stop;
      return -1;
    }
    let i = Math.max(from, min - base);
    let h = this.#hash;
    // Phase 1: up to the normal size, the stricter mask.
    const endNormal = Math.min(stop, normal - base);
    if (i < endNormal) {
      const at = gearRun(bytes, i, endNormal, maskS, h);
      if (at >= 0) return this.#cut(at - from);
      h = runHash;
      i = endNormal;
    }
    // Phase 2: up to the maximum, the looser mask.
    const endMax = Math.min(stop, max - base);
    if (i < endMax) {
      const at = gearRun(bytes, i, endMax, maskL, h);
      if (at >= 0) return this.#cut(at - from);
      h = runHash;
      i = endMax;
    }
    if (base + i >= max) return this.#cut(i - from);
    this.#len = base + stop;
    this.#hash = h;
    return -1;
  }

  /** Ends the current chunk after `taken` more bytes; returns `taken`. */
  #cut(taken: number): number {
    this.#len = 0;
    this.#hash = 0;
    return taken;
  }
}

/** Concatenates pieces into one array (one piece passes through without a copy); `copied` gets each piece copied. */
function join(parts: Uint8Array[], total: number, copied?: (part: Uint8Array) => void): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (copied) for (const p of parts) copied(p);
  return out;
}

/**
 * Splits a byte stream into content-defined chunks. Chunks may be views of the input buffers (do not
 * reuse them after handing them in); empty input yields nothing. A chunk spanning input buffers is a
 * copy: `copied` is then told of each piece of input it was copied from (no longer needed).
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options?: ChunkerOptions,
  copied?: (part: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  const finder = new CutFinder(options);
  let parts: Uint8Array[] = [];
  let pending = 0;
  for await (const input of source) {
    if (!(input instanceof Uint8Array)) throw badRequest('chunker input must be Uint8Array chunks');
    let from = 0;
    while (from < input.length) {
      const taken = finder.scan(input, from);
      if (taken < 0) {
        parts.push(from === 0 ? input : input.subarray(from));
        pending += input.length - from;
        break;
      }
      parts.push(input.subarray(from, from + taken));
      yield join(parts, pending + taken, copied);
      parts = [];
      pending = 0;
      from += taken;
    }
  }
  if (pending > 0) yield join(parts, pending, copied);
}

/** The chunk lengths of an in-memory buffer (tests, tools). */
export function chunkLengths(bytes: Uint8Array, options?: ChunkerOptions): number[] {
  const finder = new CutFinder(options);
  const out: number[] = [];
  let from = 0;
  while (from < bytes.length) {
    const taken = finder.scan(bytes, from);
    if (taken < 0) {
      out.push(bytes.length - from);
      break;
    }
    out.push(taken);
    from += taken;
  }
  return out;
}
