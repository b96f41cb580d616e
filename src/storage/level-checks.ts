// What the Level adapter checks and how it reports failures: batches are validated as a whole before
// anything is written, and engine errors become RefugeErrors with stable codes.

import { RefugeError } from '../errors/index.ts';
import type { KvOp } from './types.ts';

// The store, a snapshot or an iterator used after close() all mean the same thing to callers.
const CLOSED_CODES = new Set(['LEVEL_DATABASE_NOT_OPEN', 'LEVEL_SNAPSHOT_NOT_OPEN', 'LEVEL_ITERATOR_NOT_OPEN']);

export function wrapFailure(err: unknown, what: string): RefugeError {
  if (err instanceof RefugeError) return err;
  const code = (err as { code?: string } | null)?.code;
  if (code !== undefined && CLOSED_CODES.has(code)) return new RefugeError('closed', `storage is closed (${what})`, { cause: err });
  if (code === 'LEVEL_INVALID_KEY' || code === 'LEVEL_INVALID_VALUE') {
    return new RefugeError('bad_request', `storage ${what}: ${(err as Error).message}`, { cause: err });
  }
  // Damaged files say so (LevelDB's message, with its paths, stays in the cause).
  if (code === 'LEVEL_CORRUPTION' || (err as { cause?: { code?: unknown } } | null)?.cause?.code === 'LEVEL_CORRUPTION') return new RefugeError('internal', `storage ${what} failed: its files are damaged (corruption)`, { cause: err });
  return new RefugeError('internal', `storage ${what} failed`, { cause: err });
}

// Lone surrogates cannot be encoded as UTF-8: LevelDB would store U+FFFD instead, so two different
// keys could silently become the same one.
export const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * abstract-level turns any non-nullish key into a string (`5` -> "5", `{}` -> "[object Object]"),
 * so a batch is checked as a whole before anything is written: all or nothing.
 */
export function checkOps(ops: readonly KvOp[] | ReadonlyMap<string, string | null>): void {
  if (ops instanceof Map) {
    for (const [key, value] of ops) {
      if (typeof key !== 'string') throw new RefugeError('bad_request', 'storage batch: keys must be strings');
      if (!wellFormed(key)) throw new RefugeError('bad_request', 'storage batch: key is not well-formed Unicode');
      if (value !== null && typeof value !== 'string') throw new RefugeError('bad_request', 'storage batch: values must be strings');
    }
    return;
  }
  if (!Array.isArray(ops)) throw new RefugeError('bad_request', 'storage batch: operations must be an array or a Map');
  for (const op of ops as ReadonlyArray<Partial<{ type: unknown; key: unknown; value: unknown }> | null>) {
    if (op === null || typeof op !== 'object' || (op.type !== 'put' && op.type !== 'del')) {
      throw new RefugeError('bad_request', "storage batch: each operation needs type 'put' or 'del'");
    }
    if (typeof op.key !== 'string') throw new RefugeError('bad_request', 'storage batch: keys must be strings');
    if (!wellFormed(op.key)) throw new RefugeError('bad_request', 'storage batch: key is not well-formed Unicode');
    if (op.type === 'put' && typeof op.value !== 'string') {
      throw new RefugeError('bad_request', 'storage batch: values must be strings');
    }
  }
}
