// Turns what the in-sandbox harness reports about a thrown value into the RefugeError callers see.

import { RefugeError, isRefugeError, type JsonValue } from '../errors/index.ts';

/** The harness's description of a thrown value (see describe() in harness-source.ts). */
export interface ThrownDescriptor {
  kind: 'error' | 'raised' | 'forbidden' | 'unauthorized' | 'couch' | 'oom';
  name: string;
  message: string;
  /** What a `throw({forbidden: v})` or `throw({unauthorized: v})` threw when it is no string (message is its JSON text). */
  value?: JsonValue;
  stack?: string;
}

export function timeoutError(timeoutMs: number): RefugeError {
  return new RefugeError('timeout', `function exceeded the time limit of ${timeoutMs} ms`);
}

const OUT_OF_MEMORY = 'out of memory: ';

export function outOfMemoryError(memoryBytes: number, cause?: unknown): RefugeError {
  const mib = Math.round((memoryBytes / (1 << 20)) * 10) / 10;
  return new RefugeError('sandbox_error', `${OUT_OF_MEMORY}the function exceeded the sandbox limit of ${mib} MiB`, {
    cause,
  });
}

/** True for the error of a function that ran out of memory (see outOfMemoryError). */
export function isOutOfMemory(err: unknown): boolean {
  return isRefugeError(err, 'sandbox_error') && err.reason.startsWith(OUT_OF_MEMORY);
}

export function thrownToError(thrown: ThrownDescriptor, memoryBytes: number): RefugeError {
  // The sandbox's stack, kept for whoever logs the error; the reason stays one line.
  const cause = thrown.stack === undefined ? undefined : { name: thrown.name, message: thrown.message, stack: thrown.stack };
  switch (thrown.kind) {
    case 'oom':
      return outOfMemoryError(memoryBytes);
    case 'forbidden':
    case 'unauthorized':
      return new RefugeError(thrown.kind, thrown.message, thrown.value === undefined ? undefined : { reasonValue: thrown.value });
    case 'raised':
      return new RefugeError('sandbox_error', `function raised ${thrown.message}`);
    case 'couch':
      // CouchDB's ["error", code, reason]: keep the codes Refuge shares, the rest prefix the reason.
      if (thrown.name === 'compilation_error' || thrown.name === 'forbidden' || thrown.name === 'unauthorized') {
        return new RefugeError(thrown.name, thrown.message);
      }
      return new RefugeError('sandbox_error', `${thrown.name}: ${thrown.message}`);
    default:
      return new RefugeError('sandbox_error', `${thrown.name}: ${thrown.message}`, { cause });
  }
}

export function compilationError(source: string, thrown: ThrownDescriptor | undefined): RefugeError {
  const excerpt = source.length > 200 ? `${source.slice(0, 200)}…` : source;
  const reason =
    thrown === undefined
      ? `Expression does not eval to a function. (${excerpt})`
      : `${thrown.kind === 'raised' ? 'function raised ' : `${thrown.name}: `}${thrown.message} (${excerpt})`;
  return new RefugeError('compilation_error', reason);
}
