// Turns documents into emitted rows for every view of a group in one pass: JavaScript maps through
// the sandbox (one call per view per batch), Mango json indexes natively (no sandbox).

import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { Doc } from '../documents/index.ts';
import { getField, matchSelector, normalizeSelector, parseField, type Selector } from '../query/index.ts';
import { isOutOfMemory } from '../sandbox/index.ts';
import type { DesignDef, MangoMap } from './design-doc.ts';
import type { FnHandle, ViewSandbox } from './sandbox-face.ts';

export type Emits = Array<[unknown, unknown]>;

export interface Mapper {
  /** Per view, per document (in order): what the document emits; [] when its map threw. */
  map(docs: readonly Doc[]): Promise<Emits[][]>;
}

export async function createMapper(def: DesignDef, sandbox: ViewSandbox | undefined): Promise<Mapper> {
  if (def.language === 'query') return mangoMapper(def.views.map((v) => v.map as MangoMap));
  if (!sandbox) throw new RefugeError('internal', `design document ${def.id} needs a JavaScript sandbox`);
  const fns: FnHandle[] = [];
  for (const view of def.views) fns.push(await compileFn(sandbox, 'map', view.name, view.map as string));
  return {
    async map(docs) {
      const out: Emits[][] = [];
      for (const fn of fns) {
        // A build leaves the node serving requests while the sandbox thread maps.
        const results = sandbox.mapAsync ? await sandbox.mapAsync(fn, docs) : await sandbox.map(fn, docs);
        out.push(
          results.map((r) => {
            if (!(r instanceof Error)) return r;
            // A map that runs out of memory (emitting forever, say) kills CouchDB's map process and
            // fails the query; one that throws only leaves that document out (CouchDB logs it).
            if (isOutOfMemory(r)) throw r;
            return [];
          }),
        );
      }
      return out;
    },
  };
}

/** Compiles with CouchDB's wording for failures ("Compilation of the map function in the 'v' view failed: ..."). */
export async function compileFn(sandbox: ViewSandbox, type: 'map' | 'reduce', viewName: string, source: string): Promise<FnHandle> {
  try {
    return await (sandbox.compileAsync ? sandbox.compileAsync(source) : sandbox.compile(source));
  } catch (err) {
    const reason = isRefugeError(err) ? err.reason : err instanceof Error ? err.message : String(err);
    throw new RefugeError('compilation_error', `Compilation of the ${type} function in the '${viewName}' view failed: ${reason}`, { cause: err });
  }
}

interface MangoView {
  paths: string[][];
  filter: Selector | undefined;
}

/** A Mango json index emits [field values...] -> null for documents that have every field. */
function mangoMapper(maps: readonly MangoMap[]): Mapper {
  const views: MangoView[] = maps.map((m) => ({
    paths: m.fields.map(([f]) => parseField(f)),
    filter: m.partialFilter === undefined ? undefined : normalizeSelector(m.partialFilter),
  }));
  return {
    async map(docs) {
      return views.map((v) =>
        docs.map((doc) => {
          if (v.filter && !matchSelector(doc, v.filter)) return [];
          const key: unknown[] = [];
          for (const path of v.paths) {
            const got = getField(doc, path);
            if (!got.found) return [];
            key.push(got.value);
          }
          return [[key, null]];
        }),
      );
    },
  };
}
