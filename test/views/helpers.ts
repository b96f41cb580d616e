// Helpers for view tests: a view group over a memory store fed documents directly (no database),
// so query semantics can be tested on exact rows.

import { memoryEngine, type KvStore } from '../../src/storage/index.ts';
import type { Doc } from '../../src/documents/index.ts';
import type { IndexerChange } from '../../src/indexers/index.ts';
import { ViewGroup, type FetchDocs } from '../../src/views/index.ts';
import { createCountingSandbox, type CountingSandbox } from './counting-sandbox.ts';

export interface TestGroup {
  group: ViewGroup;
  store: KvStore;
  sandbox: CountingSandbox;
  seq: number;
  /** Writes documents (a doc with `_deleted: true` removes its rows) as the next changes. */
  write(docs: Doc[]): Promise<void>;
  fetchDocs: FetchDocs;
  docs: Map<string, Doc>;
}

export async function testGroup(views: Record<string, unknown>, docs: Doc[] = [], extra: Record<string, unknown> = {}): Promise<TestGroup> {
  const store = await memoryEngine.open({ location: 'views' });
  const ddoc = { _id: '_design/test', views, ...extra };
  const sandbox = await createCountingSandbox(ddoc);
  const group = await ViewGroup.open({ store, prefix: 'v!test!', sandbox, ddoc });
  const all = new Map<string, Doc>();
  const t: TestGroup = {
    group,
    store,
    sandbox,
    seq: 0,
    docs: all,
    async write(batch) {
      const changes: IndexerChange[] = batch.map((d) => {
        t.seq++;
        const id = d._id!;
        if (d._deleted) {
          all.delete(id);
          return { seq: t.seq, id, deleted: true };
        }
        const doc = { _rev: `1-${'0'.repeat(32)}`, ...d };
        all.set(id, doc);
        return { seq: t.seq, id, deleted: false, doc };
      });
      await group.apply(changes, t.seq);
    },
    fetchDocs: async (refs) => refs.map((r) => all.get(r.id) ?? null),
  };
  if (docs.length > 0) await t.write(docs);
  return t;
}

/** Rows as [id, key, value] triples, for compact assertions. */
export function triples(result: unknown): Array<[string, unknown, unknown]> {
  return (result as { rows: Array<{ id: string; key: unknown; value: unknown }> }).rows.map((r) => [r.id, r.key, r.value]);
}

export function keyValues(result: unknown): Array<[unknown, unknown]> {
  return (result as { rows: Array<{ key: unknown; value: unknown }> }).rows.map((r) => [r.key, r.value]);
}

/** A json index's design document built over `docs` (sequence numbers in their order). */
export async function mangoGroup(ddoc: Doc, docs: Doc[]): Promise<ViewGroup> {
  const store = await memoryEngine.open({ location: 'm' });
  const group = await ViewGroup.open({ store, prefix: 'v!m!', ddoc });
  await group.apply(
    docs.map((doc, i) => ({ seq: i + 1, id: doc._id!, deleted: false, doc })),
    docs.length,
  );
  return group;
}
