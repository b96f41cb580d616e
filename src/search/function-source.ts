// The function form's document indexer: runs the design document's `index(doc)` function in a
// sandbox of its own (created on first use, disposed with the index), as CouchDB's Clouseau does.
import type { Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { isOutOfMemory } from '../sandbox/index.ts';
import type { FunctionDefinition } from './definition.ts';
import type { DocumentIndexer, FieldEntry } from './types.ts';

type IndexEntries = ReadonlyArray<readonly [string, unknown, Record<string, unknown>]>;

/** What search needs of src/sandbox's DesignSandbox (a handle from compile goes back to index). */
export interface IndexSandbox {
  compile(source: string): unknown;
  /** compile() that leaves the calling thread free meanwhile (used when present). */
  compileAsync?(source: string): Promise<unknown>;
  index(fn: never, docs: readonly object[]): ReadonlyArray<IndexEntries | Error>;
  /** index() that leaves the calling thread free meanwhile (used when present). */
  indexAsync?(fn: never, docs: readonly object[]): Promise<ReadonlyArray<IndexEntries | Error>>;
  dispose(): void;
}

export type SandboxFactory = (options: { ddoc?: Record<string, unknown> }) => Promise<IndexSandbox>;

export function functionSource(def: FunctionDefinition, ddoc: Doc, createSandbox: SandboxFactory): DocumentIndexer {
  let ready: Promise<{ sandbox: IndexSandbox; fn: unknown }> | undefined;
  let disposed = false;
  const start = async (): Promise<{ sandbox: IndexSandbox; fn: unknown }> => {
    const sandbox = await createSandbox({ ddoc });
    try {
      return { sandbox, fn: await (sandbox.compileAsync ? sandbox.compileAsync(def.source) : sandbox.compile(def.source)) };
    } catch (err) {
      sandbox.dispose();
      throw err instanceof RefugeError ? err : new RefugeError('compilation_error', `index ${def.name}: ${String(err)}`, { cause: err });
    }
  };
  return {
    async entries(docs: readonly Doc[]) {
      if (disposed) throw new RefugeError('closed', `search index ${def.name} is closed`);
      ready ??= start();
      // A failed start is retried on the next batch rather than remembered for ever.
      const { sandbox, fn } = await ready.catch((err) => {
        ready = undefined;
        throw err;
      });
      const out = (sandbox.indexAsync ? await sandbox.indexAsync(fn as never, docs) : sandbox.index(fn as never, docs)) as ReadonlyArray<readonly FieldEntry[] | Error>;
      // As for a view's map (views/mapper.ts): running out of memory kills CouchDB's query process
      // and fails the request; a function that throws only leaves that document out.
      for (const r of out) if (r instanceof Error && isOutOfMemory(r)) throw r;
      return out;
    },
    dispose() {
      disposed = true;
      void ready?.then((s) => s.sandbox.dispose(), () => undefined);
    },
  };
}
