// The sandbox's public types: what callers (views, filters, validation, search) code against.

import type { RefugeError } from '../errors/index.ts';

/** A compiled design-document function, valid for the sandbox's lifetime (even across restarts). */
export type FnHandle = number;
export type EmittedRow = [key: unknown, value: unknown];
/** One `index(field, value, options)` call made by a full-text index function. */
export type IndexCall = [field: string, value: unknown, options: Record<string, unknown>];

export interface SandboxOptions {
  /** Per call (default 5000 ms, CouchDB's os_process_timeout). */
  timeoutMs?: number;
  /** Heap the sandbox may use (default 64 MiB). */
  memoryBytes?: number;
  /**
   * QuickJS stack limit (default 32 KiB: ~165 nested plain calls; at most 4 MiB). Raising it is
   * risky: QuickJS's C recursion (parser, JSON, RegExp) uses 10-30x more of Node's ~1 MB native
   * stack than it counts, and a native overflow costs the sandbox its WASM instance (recovered,
   * that call fails).
   */
  stackBytes?: number;
  /** The design document, so `require('views/lib/x')` / `require('lib/x')` resolves CommonJS modules stored as strings in it (CouchDB semantics: path within the ddoc object, module gets `exports`/`module`/`require`). */
  ddoc?: Record<string, unknown>;
  /** Receives `log(...)` output from user code. */
  log?: (message: string) => void;
}

export interface DesignSandbox {
  /** Compiles a function source as CouchDB stores it ("function(doc){...}", also arrow functions). Throws RefugeError 'compilation_error' when it is not a function expression or does not parse. */
  compile(source: string): FnHandle;
  /** compile() letting the calling thread work meanwhile (the sandbox thread may be running another call). */
  compileAsync(source: string): Promise<FnHandle>;
  /** Runs a map function over many docs in ONE boundary crossing; per doc its emitted rows, or the error that doc raised (CouchDB skips such a doc and logs). A time limit applies to the whole call. */
  map(fn: FnHandle, docs: readonly object[]): Array<EmittedRow[] | RefugeError>;
  /** map() letting the calling thread work meanwhile (on Node the engine runs in a worker thread). */
  mapAsync(fn: FnHandle, docs: readonly object[]): Promise<Array<EmittedRow[] | RefugeError>>;
  /** CouchDB reduce(keys, values, rereduce): keys are [key, docid] pairs, null when rereduce. Throws on error. */
  reduce(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): unknown;
  /** reduce() letting the calling thread work meanwhile. */
  reduceAsync(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): Promise<unknown>;
  /** filter(doc, req) per doc (truthy → true); per doc error → RefugeError in that slot. */
  filter(fn: FnHandle, docs: readonly object[], req: object): Array<boolean | RefugeError>;
  /** Many independent reduce calls (the groups of a query) in one crossing: per call `{ok: result}` or its error. */
  reduceMany(fn: FnHandle, jobs: ReadonlyArray<readonly [keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean]>): Promise<Array<{ ok: unknown } | RefugeError>>;
  /** validate_doc_update(newDoc, oldDoc, userCtx, secObj): returns when accepted; `throw({forbidden: m})` → RefugeError('forbidden', m); `throw({unauthorized: m})` → RefugeError('unauthorized', m) (an m that is no string is the error's reasonValue, its JSON text the reason); any other throw → RefugeError('sandbox_error', …). */
  validate(fn: FnHandle, newDoc: object, oldDoc: object | null, userCtx: object, secObj: object): void;
  /** validate() letting the calling thread work meanwhile. */
  validateAsync(fn: FnHandle, newDoc: object, oldDoc: object | null, userCtx: object, secObj: object): Promise<void>;
  /** validate() for many documents in one call, each with its stored winner (the calling thread free meanwhile): per document undefined when accepted, else its error. */
  validateMany(fn: FnHandle, docs: ReadonlyArray<readonly [newDoc: object, oldDoc: object | null]>, userCtx: object, secObj: object): Promise<Array<RefugeError | undefined>>;
  /** filter() letting the calling thread work meanwhile. */
  filterAsync(fn: FnHandle, docs: readonly object[], req: object): Promise<Array<boolean | RefugeError>>;
  /** Full-text index functions: per doc the `index(field, value, options?)` calls it made (field 'default' allowed), or its error. */
  index(fn: FnHandle, docs: readonly object[]): Array<IndexCall[] | RefugeError>;
  /** index() letting the calling thread work meanwhile. */
  indexAsync(fn: FnHandle, docs: readonly object[]): Promise<Array<IndexCall[] | RefugeError>>;
  /** Any compiled function called with JSON arguments; returns its JSON result. */
  call(fn: FnHandle, args: readonly unknown[]): unknown;
  /** call() letting the calling thread work meanwhile. */
  callAsync(fn: FnHandle, args: readonly unknown[]): Promise<unknown>;
  dispose(): void;
}
