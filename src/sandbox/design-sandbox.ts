// DesignSandbox over the QuickJS engine: JSON in and out per batch, per-doc errors kept in their
// slot, and a batch that fails as a whole split until the doc at fault is isolated.

import { RefugeError } from '../errors/index.ts';
import { RunKind } from './harness-source.ts';
import type { Deadline, RunOutcome, SandboxEngine } from './quickjs-engine.ts';
import { thrownToError, type ThrownDescriptor } from './sandbox-errors.ts';
import type { DesignSandbox, EmittedRow, FnHandle, IndexCall } from './types.ts';

type Entry = unknown;
/** One call of the engine a batch makes. */
interface Call {
  payload: string;
  deadline: Deadline;
}
type BatchKind = typeof RunKind.map | typeof RunKind.index | typeof RunKind.filter | typeof RunKind.validateMany | typeof RunKind.reduceMany;

export class QuickJsDesignSandbox implements DesignSandbox {
  private readonly handles = new Map<string, FnHandle>();
  /** Sources being compiled by compileAsync, so that one compiles once however many ask. */
  private readonly compiling = new Map<string, Promise<FnHandle>>();
  private nextHandle = 1;

  constructor(
    private readonly engine: SandboxEngine,
    private readonly timeoutMs: number,
    private readonly memoryBytes: number,
  ) {}

  compile(source: string): FnHandle {
    if (typeof source !== 'string') throw new RefugeError('compilation_error', 'function source must be a string');
    const known = this.handles.get(source);
    if (known !== undefined) return known;
    const handle = this.nextHandle++;
    this.engine.compile(handle, source);
    this.handles.set(source, handle);
    return handle;
  }

  compileAsync(source: string): Promise<FnHandle> {
    if (typeof source !== 'string') return Promise.reject(new RefugeError('compilation_error', 'function source must be a string'));
    const known = this.handles.get(source);
    if (known !== undefined) return Promise.resolve(known);
    let compiling = this.compiling.get(source);
    if (compiling === undefined) {
      const handle = this.nextHandle++;
      compiling = (async () => {
        await (this.engine.compileAsync ? this.engine.compileAsync(handle, source) : this.engine.compile(handle, source));
        this.handles.set(source, handle);
        return handle;
      })();
      const done = () => void this.compiling.delete(source);
      compiling.then(done, done);
      this.compiling.set(source, compiling);
    }
    return compiling;
  }

  map(fn: FnHandle, docs: readonly object[]): Array<EmittedRow[] | RefugeError> {
    return this.batch(RunKind.map, fn, docs).map((e) => this.rows<EmittedRow>(e));
  }

  async mapAsync(fn: FnHandle, docs: readonly object[]): Promise<Array<EmittedRow[] | RefugeError>> {
    return (await this.batchAsync(RunKind.map, fn, docs)).map((e) => this.rows<EmittedRow>(e));
  }

  filter(fn: FnHandle, docs: readonly object[], req: object): Array<boolean | RefugeError> {
    return this.batch(RunKind.filter, fn, docs, toJson(req)).map((e) => (typeof e === 'boolean' ? e : this.entryError(e)));
  }

  async filterAsync(fn: FnHandle, docs: readonly object[], req: object): Promise<Array<boolean | RefugeError>> {
    return (await this.batchAsync(RunKind.filter, fn, docs, toJson(req))).map((e) => (typeof e === 'boolean' ? e : this.entryError(e)));
  }

  index(fn: FnHandle, docs: readonly object[]): Array<IndexCall[] | RefugeError> {
    return this.batch(RunKind.index, fn, docs).map((e) => this.rows<IndexCall>(e));
  }

  async indexAsync(fn: FnHandle, docs: readonly object[]): Promise<Array<IndexCall[] | RefugeError>> {
    return (await this.batchAsync(RunKind.index, fn, docs)).map((e) => this.rows<IndexCall>(e));
  }

  reduce(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): unknown {
    return this.single(RunKind.reduce, fn, [keys, values, rereduce]);
  }

  reduceAsync(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): Promise<unknown> {
    return this.singleAsync(RunKind.reduce, fn, [keys, values, rereduce]);
  }

  async reduceMany(fn: FnHandle, jobs: ReadonlyArray<readonly [keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean]>): Promise<Array<{ ok: unknown } | RefugeError>> {
    return (await this.batchAsync(RunKind.reduceMany, fn, jobs)).map((e) => (e !== null && typeof e === 'object' && 'ok' in e ? (e as { ok: unknown }) : this.entryError(e)));
  }

  validate(fn: FnHandle, newDoc: object, oldDoc: object | null, userCtx: object, secObj: object): void {
    this.single(RunKind.validate, fn, [newDoc, oldDoc, userCtx, secObj]);
  }

  async validateAsync(fn: FnHandle, newDoc: object, oldDoc: object | null, userCtx: object, secObj: object): Promise<void> {
    await this.singleAsync(RunKind.validate, fn, [newDoc, oldDoc, userCtx, secObj]);
  }

  async validateMany(fn: FnHandle, docs: ReadonlyArray<readonly [newDoc: object, oldDoc: object | null]>, userCtx: object, secObj: object): Promise<Array<RefugeError | undefined>> {
    // The context goes as JSON text, parsed again for each document.
    const entries = await this.batchAsync(RunKind.validateMany, fn, docs, JSON.stringify(toJson([userCtx, secObj])));
    return entries.map((e) => (e === null ? undefined : this.entryError(e)));
  }

  call(fn: FnHandle, args: readonly unknown[]): unknown {
    return this.single(RunKind.call, fn, args);
  }

  callAsync(fn: FnHandle, args: readonly unknown[]): Promise<unknown> {
    return this.singleAsync(RunKind.call, fn, args);
  }

  dispose(): void {
    this.engine.dispose();
  }

  private single(kind: RunKind, fn: FnHandle, args: readonly unknown[]): unknown {
    return this.answer(this.engine.run(kind, fn, toJson(args), { at: Date.now() + this.timeoutMs }));
  }

  /** single() letting the calling thread work while the engine runs, where it runs in another thread. */
  private async singleAsync(kind: RunKind, fn: FnHandle, args: readonly unknown[]): Promise<unknown> {
    const payload = toJson(args);
    const deadline = { at: Date.now() + this.timeoutMs };
    return this.answer(this.engine.runAsync ? await this.engine.runAsync(kind, fn, payload, deadline) : this.engine.run(kind, fn, payload, deadline));
  }

  private answer(outcome: RunOutcome): unknown {
    if ('failed' in outcome) throw thrownToError(outcome.failed, this.memoryBytes);
    const answer = JSON.parse(outcome.json) as { ok?: unknown; error?: ThrownDescriptor };
    if (answer.error !== undefined) throw thrownToError(answer.error, this.memoryBytes);
    return answer.ok;
  }

  /** Raw harness entries, one per doc (see pieces), the calling thread blocked meanwhile. */
  private batch(kind: BatchKind, fn: FnHandle, docs: readonly object[], reqJson?: string): Entry[] {
    const plan = this.pieces(kind, fn, docs, reqJson);
    let step = plan.next();
    while (!step.done) step = plan.next(this.engine.run(kind, fn, step.value.payload, step.value.deadline));
    return step.value;
  }

  /** batch() letting the calling thread work while the engine runs, where it runs in another thread. */
  private async batchAsync(kind: BatchKind, fn: FnHandle, docs: readonly object[], reqJson?: string): Promise<Entry[]> {
    const plan = this.pieces(kind, fn, docs, reqJson);
    let step = plan.next();
    while (!step.done) {
      const { payload, deadline } = step.value;
      step = plan.next(this.engine.runAsync ? await this.engine.runAsync(kind, fn, payload, deadline) : this.engine.run(kind, fn, payload, deadline));
    }
    return step.value;
  }

  /**
   * The calls a batch makes (yielded, answered with their outcome) and its entries. Each doc is
   * made JSON once; the docs go in pieces of at most pieceBytes of it, each piece with its own
   * deadline, so the time limit is each document's (the harness also hands back what it did every
   * quarter of the limit, and the rest runs anew).
   */
  private *pieces(kind: BatchKind, fn: FnHandle, docs: readonly object[], reqJson?: string): Generator<Call, Entry[], RunOutcome> {
    const parts = docs.map(toJson);
    const most = pieceBytes(this.memoryBytes);
    const entries: Entry[] = [];
    for (let from = 0; from < parts.length; ) {
      let to = from + 1;
      for (let size = parts[from]!.length; to < parts.length && size + parts[to]!.length < most; to++) size += parts[to]!.length + 1;
      const done = yield* this.piece(parts.slice(from, to), { at: Date.now() + this.timeoutMs }, reqJson);
      for (const entry of done) entries.push(entry);
      from = to;
    }
    return entries;
  }

  private *piece(parts: readonly string[], deadline: Deadline, reqJson?: string): Generator<Call, Entry[], RunOutcome> {
    const docsJson = `[${parts.join(',')}]`;
    const outcome = yield { payload: reqJson === undefined ? docsJson : `[${reqJson},${docsJson}]`, deadline };
    if ('failed' in outcome) {
      // Nothing per doc came back (out of memory, a doc too deeply nested to parse...): halve the
      // batch until the failure belongs to a single doc.
      if (parts.length === 1) return [{ error: outcome.failed }];
      const half = parts.length >> 1;
      const first = yield* this.piece(parts.slice(0, half), deadline, reqJson);
      return first.concat(yield* this.piece(parts.slice(half), deadline, reqJson));
    }
    const entries = JSON.parse(outcome.json) as Entry[];
    // Fewer entries: the harness stopped at a doc that ran out of memory (the runtime was replaced),
    // or handed back a time slice; the rest goes on with its own deadline.
    if (entries.length < parts.length) {
      return entries.concat(yield* this.piece(parts.slice(entries.length), { at: Date.now() + this.timeoutMs }, reqJson));
    }
    return entries;
  }

  private rows<T>(entry: Entry): T[] | RefugeError {
    return Array.isArray(entry) ? (entry as T[]) : this.entryError(entry);
  }

  private entryError(entry: Entry): RefugeError {
    const thrown = (entry as { error?: ThrownDescriptor }).error;
    if (thrown === undefined) return new RefugeError('internal', 'the sandbox returned an unexpected result');
    return thrownToError(thrown, this.memoryBytes);
  }
}

/**
 * The most JSON one call carries when it holds more than one document. QuickJS needs several times
 * a text's size to parse it: a piece past its heap would run out of memory and be sent again in
 * halves (23 MB of 100 kB docs under the 64 MiB default took twice as long as in 4 MB pieces).
 */
export function pieceBytes(memoryBytes: number): number {
  return Math.min(4 * 1024 * 1024, Math.max(64 * 1024, Math.floor(memoryBytes / 16)));
}

function toJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    throw new RefugeError('bad_request', 'sandbox arguments must be JSON-serializable', { cause: err });
  }
}
