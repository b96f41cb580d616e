// The handful of document operations the docs suite times, behind one shape for both sides:
// Refuge (LevelDB engine) and PouchDB 9 (LevelDB adapter via leveldown).

import { openDatabase } from '../src/index.ts';
import type { BenchDoc } from './workload.ts';
import { loadPouchDB } from './pouchdb.ts';

export interface DocStore {
  readonly label: string;
  /** Writes new docs; returns the new rev of each, in order (throws on any per-doc failure). */
  bulkInsert(docs: BenchDoc[]): Promise<string[]>;
  get(id: string): Promise<unknown>;
  /** Resolves once every acknowledged write is in storage. */
  settled(): Promise<void>;
  /** All docs with bodies; returns the row count. */
  allDocs(): Promise<number>;
  /** Changes since 0 with bodies; returns the row count. */
  changes(): Promise<number>;
  /** Updates one doc (its _rev set); returns the new rev. */
  put(doc: BenchDoc): Promise<string>;
  destroy(): Promise<void>;
}

function revsOf(results: ReadonlyArray<{ rev?: string; error?: unknown; reason?: unknown; id?: string }>): string[] {
  return results.map((r) => {
    if (typeof r.rev !== 'string' || r.error !== undefined) throw new Error(`write failed for ${r.id}: ${String(r.error)} ${String(r.reason)}`);
    return r.rev;
  });
}

export async function openRefuge(dir: string): Promise<DocStore> {
  const db = await openDatabase('bench', { engine: 'leveldb', dataDir: dir, durability: 'fast' });
  return {
    label: 'refuge',
    bulkInsert: async (docs) => revsOf(await db.bulkDocs(docs)),
    get: (id) => db.get(id),
    // Fast mode acknowledges a write once computed; reads of documents do not wait for the flush.
    settled: () => db.ensureFullCommit(),
    allDocs: async () => (await db.allDocs({ includeDocs: true })).rows.length,
    changes: async () => (await db.changes({ since: 0, includeDocs: true })).results.length,
    put: async (doc) => (await db.put(doc)).rev,
    destroy: () => db.destroy(),
  };
}

export async function openPouch(dir: string): Promise<DocStore> {
  const PouchDB = loadPouchDB();
  const db = new PouchDB(`${dir}/bench`);
  await db.info();
  return {
    label: 'pouchdb-node',
    bulkInsert: async (docs) => revsOf(await db.bulkDocs(docs)),
    get: (id) => db.get(id),
    // PouchDB answers a write once its LevelDB batch is written.
    settled: async () => undefined,
    allDocs: async () => (await db.allDocs({ include_docs: true })).rows.length,
    changes: async () => (await db.changes({ since: 0, include_docs: true })).results.length,
    put: async (doc) => revsOf([await db.put(doc)])[0]!,
    destroy: () => db.destroy(),
  };
}
