// Byte-range validation shared by every backend: strict, end-exclusive (see ByteRange in types.ts).

import { badRequest } from '../errors/index.ts';
import { rangeNotSatisfiable } from './errors.ts';
import type { ByteRange } from './types.ts';

export interface ResolvedRange {
  start: number;
  end: number;
  /** The range covers the whole blob (so it can be verified as it streams). */
  full: boolean;
}

function checkOffset(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw badRequest(`range ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** Validates `range` against a blob of `size` bytes. No range at all means the whole blob, even if empty. */
export function resolveRange(range: ByteRange, size: number): ResolvedRange {
  const start = checkOffset('start', range.start);
  const end = checkOffset('end', range.end);
  if (start === undefined && end === undefined) return { start: 0, end: size, full: true };
  const s = start ?? 0;
  const e = end ?? size;
  if (e > size) throw rangeNotSatisfiable(`range end ${e} is past the blob's ${size} bytes`);
  if (s >= e) throw rangeNotSatisfiable(`range [${s}, ${e}) selects no byte of a ${size}-byte blob`);
  return { start: s, end: e, full: s === 0 && e === size };
}
