// Shared setup of the search tests: a database with a few posts, and a fields-form index over it
// fed through the real IndexFeeder.
import { freshDb, type EngineName } from '../helpers/db.ts';
import { IndexFeeder } from '../../src/indexers/index.ts';
import { memoryEngine, type KvStore } from '../../src/storage/index.ts';
import { fieldsSource, SearchIndex, searchDefinitions, type FieldsDefinition, type IndexSandbox } from '../../src/search/index.ts';
import { RefugeError } from '../../src/errors/index.ts';
import type { Database } from '../../src/core.ts';

export const POSTS = [
  { _id: 'p1', type: 'post', title: 'The big red fox', body: 'A quick brown fox jumps over the lazy dog', tags: ['animals', 'fox'], year: 2020 },
  { _id: 'p2', type: 'post', title: 'Red big balloons', body: 'Balloons are red and big and blue', tags: ['party'], year: 2021 },
  { _id: 'p3', type: 'post', title: 'Blue sky thinking', body: 'The sky is blue; blueberries are blue too', tags: ['weather', 'food'], year: 2019 },
  { _id: 'p4', type: 'post', title: 'Foxes in the city', body: 'Urban foxes eat from bins', tags: ['animals', 'city'], year: 2022, author: { name: 'Ada Lovelace' } },
  { _id: 'n1', type: 'note', title: 'A red note', body: 'Not a post at all', tags: [] },
];

export function fieldsDef(def: Record<string, unknown>, name = 'i'): FieldsDefinition {
  return searchDefinitions({ _id: '_design/t', indexes: { [name]: def } }).get(name) as FieldsDefinition;
}

export async function openIndex(store: KvStore, def: FieldsDefinition, extra: Partial<Parameters<typeof SearchIndex.open>[0]> = {}) {
  return SearchIndex.open({
    store,
    prefix: `search/${def.signature}/`,
    signature: def.signature,
    source: fieldsSource(def),
    analyzers: def.analyzers,
    defaultFields: def.fields.map((f) => f.name),
    saveDelayMs: 60 * 60 * 1000,
    ...extra,
  });
}

/** A database holding POSTS and a caught-up index with the given fields definition. */
export async function postsIndex(def: Record<string, unknown>, engine: EngineName = 'memory') {
  const { db, cleanup } = await freshDb(engine);
  await db.bulkDocs(POSTS);
  const store = await memoryEngine.open({ location: 'search-' + Math.random() });
  const d = fieldsDef(def);
  const index = await openIndex(store, d);
  const feeder = new IndexFeeder(db, index);
  await feeder.catchUp();
  return {
    db: db as Database,
    index,
    feeder,
    store,
    cleanup: async () => {
      await index.close();
      await store.close();
      await cleanup();
    },
  };
}

export const ids = (r: { rows: Array<{ id: string }> }): string[] => r.rows.map((x) => x.id);
export const sorted = (a: string[]): string[] => [...a].sort();

/** Runs index functions with plain JavaScript: enough to test the function path without QuickJS. */
export const plainSandbox = async (): Promise<IndexSandbox> => {
  const fns: Array<(doc: object) => void> = [];
  let calls: Array<[string, unknown, Record<string, unknown>]> = [];
  const index = (field: string, value: unknown, options: Record<string, unknown> = {}) => void calls.push([field, value, options]);
  return {
    compile: (source: string) => fns.push(new Function('index', `return (${source});`)(index)) - 1,
    index: (fn: never, docs: readonly object[]) =>
      docs.map((doc) => {
        calls = [];
        try {
          fns[fn as number]!(doc);
          return calls;
        } catch (err) {
          return new RefugeError('sandbox_error', String(err));
        }
      }),
    dispose: () => undefined,
  };
};

