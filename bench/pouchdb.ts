// A typed, lazy loader for pouchdb-node (CommonJS, no bundled types): only what the bench calls.
// Loaded on first use so PouchDB's modules are not in memory while Refuge's peak RSS is sampled.

import { createRequire } from 'node:module';

interface PouchWriteResult {
  ok?: boolean;
  id?: string;
  rev?: string;
  error?: unknown;
  reason?: unknown;
}

export interface PouchDatabase {
  info(): Promise<unknown>;
  bulkDocs(docs: object[]): Promise<PouchWriteResult[]>;
  get(id: string): Promise<object>;
  put(doc: object): Promise<PouchWriteResult>;
  allDocs(options: { include_docs?: boolean }): Promise<{ total_rows: number; rows: unknown[] }>;
  changes(options: { since?: number; include_docs?: boolean; limit?: number }): Promise<{ results: unknown[]; last_seq: unknown }>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export type PouchConstructor = new (name: string, options?: object) => PouchDatabase;

let cached: PouchConstructor | undefined;

export function loadPouchDB(): PouchConstructor {
  cached ??= createRequire(import.meta.url)('pouchdb-node') as PouchConstructor;
  return cached;
}
