// The part of the design-document sandbox (src/sandbox) that views use, stated here so views depend
// on a shape rather than on the module: any object with these methods will do (tests pass a double).

import type { Doc } from '../documents/index.ts';

type MaybePromise<T> = T | Promise<T>;

/** A compiled function as the sandbox names it (a number, or an opaque handle). */
export type FnHandle = unknown;

export interface ViewSandbox {
  /** Compiles a function source; throws RefugeError 'compilation_error'. */
  compile(source: string): MaybePromise<FnHandle>;
  /** compile() that leaves the calling thread free meanwhile, where the sandbox can (used when present). */
  compileAsync?(source: string): Promise<FnHandle>;
  /** Runs a map function over a batch: per document its emitted [key, value] pairs, or the error it threw. */
  map(fn: FnHandle, docs: readonly object[]): MaybePromise<Array<Array<[unknown, unknown]> | Error>>;
  /** map() that leaves the calling thread free meanwhile, where the sandbox can (used when present). */
  mapAsync?(fn: FnHandle, docs: readonly object[]): Promise<Array<Array<[unknown, unknown]> | Error>>;
  reduce(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): MaybePromise<unknown>;
  /** reduce() that leaves the calling thread free meanwhile, where the sandbox can (used when present). */
  reduceAsync?(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): Promise<unknown>;
  /** Many reduce calls in one (used when present): per call `{ok: result}` or the error it raised. */
  reduceMany?(fn: FnHandle, jobs: ReadonlyArray<readonly [ReadonlyArray<[unknown, string]> | null, readonly unknown[], boolean]>): Promise<Array<{ ok: unknown } | Error>>;
  dispose(): void;
}

/** Makes a sandbox for one design document (its `views.lib` reachable by `require`). */
export type SandboxFactory = (ddoc: Doc) => Promise<ViewSandbox>;
