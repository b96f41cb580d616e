// DesignSandbox over the QuickJS engine: JSON in and out per batch, per-doc errors kept in their
// slot, and a batch that fails as a whole split until the doc at fault is isolated.

import { RefugeError } from '../errors/index.ts';
import { RunKind } from './harness-source.ts';
import type { Deadline, SandboxEngine } from './quickjs-engine.ts';
import { thrownToError, type ThrownDescriptor } from './sandbox-errors.ts';
import type { DesignSandbox, EmittedRow, FnHandle, IndexCall } from './types.ts';

type Entry = unknown;
type BatchKind = typeof RunKind.map | typeof RunKind.index | typeof RunKind.filter;

export class QuickJsDesignSandbox implements DesignSandbox {
  private readonly handles = new Map<string, FnHandle>();
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

  map(fn: FnHandle, docs: readonly object[]): Array<EmittedRow[] | RefugeError> {
    return this.batch(RunKind.map, fn, docs).map((e) => (Array.isArray(e) ? (e as EmittedRow[]) : this.entryError(e)));
  }

  filter(fn: FnHandle, docs: readonly object[], req: object): Array<boolean | RefugeError> {
    return this.batch(RunKind.filter, fn, docs, toJson(req)).map((e) => (typeof e === 'boolean' ? e : this.entryError(e)));
  }

  index(fn: FnHandle, docs: readonly object[]): Array<IndexCall[] | RefugeError> {
    return this.batch(RunKind.index, fn, docs).map((e) => (Array.isArray(e) ? (e as IndexCall[]) : this.entryError(e)));
  }

  reduce(fn: FnHandle, keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean): unknown {
    return this.single(RunKind.reduce, fn, [keys, values, rereduce]);
  }

  validate(fn: FnHandle, newDoc: object, oldDoc: object | null, userCtx: object, secObj: object): void {
    this.single(RunKind.validate, fn, [newDoc, oldDoc, userCtx, secObj]);
  }

  call(fn: FnHandle, args: readonly unknown[]): unknown {
    return this.single(RunKind.call, fn, args);
  }

  dispose(): void {
    this.engine.dispose();
  }

  private single(kind: RunKind, fn: FnHandle, args: readonly unknown[]): unknown {
    const outcome = this.engine.run(kind, fn, toJson(args), { at: Date.now() + this.timeoutMs });
    if ('failed' in outcome) throw thrownToError(outcome.failed, this.memoryBytes);
    const answer = JSON.parse(outcome.json) as { ok?: unknown; error?: ThrownDescriptor };
    if (answer.error !== undefined) throw thrownToError(answer.error, this.memoryBytes);
    return answer.ok;
  }

  /**
   * Raw harness entries, one per doc. The time limit is each document's: the harness hands back
   * what it did every half second, and the rest runs with a new deadline.
   */
  private batch(kind: BatchKind, fn: FnHandle, docs: readonly object[], reqJson?: string): Entry[] {
    if (docs.length === 0) return [];
    return this.runDocs(kind, fn, docs, { at: Date.now() + this.timeoutMs }, reqJson);
  }

  private runDocs(kind: BatchKind, fn: FnHandle, docs: readonly object[], deadline: Deadline, reqJson?: string): Entry[] {
    const docsJson = toJson(docs);
    const payload = reqJson === undefined ? docsJson : `[${reqJson},${docsJson}]`;
    const outcome = this.engine.run(kind, fn, payload, deadline);
    if ('failed' in outcome) {
      // Nothing per doc came back (out of memory, a doc too deeply nested to parse...): halve the
      // batch until the failure belongs to a single doc.
      if (docs.length === 1) return [{ error: outcome.failed }];
      const half = docs.length >> 1;
      return [
        ...this.runDocs(kind, fn, docs.slice(0, half), deadline, reqJson),
        ...this.runDocs(kind, fn, docs.slice(half), deadline, reqJson),
      ];
    }
    const entries = JSON.parse(outcome.json) as Entry[];
    // Fewer entries: the harness stopped at a doc that ran out of memory (the runtime was replaced),
    // or handed back a time slice; the rest goes on with its own deadline.
    if (entries.length < docs.length) {
      return entries.concat(this.runDocs(kind, fn, docs.slice(entries.length), { at: Date.now() + this.timeoutMs }, reqJson));
    }
    return entries;
  }

  private entryError(entry: Entry): RefugeError {
    const thrown = (entry as { error?: ThrownDescriptor }).error;
    if (thrown === undefined) return new RefugeError('internal', 'the sandbox returned an unexpected result');
    return thrownToError(thrown, this.memoryBytes);
  }
}

function toJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    throw new RefugeError('bad_request', 'sandbox arguments must be JSON-serializable', { cause: err });
  }
}
