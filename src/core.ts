// The portable core (Node and browsers): documents and queries over any StorageEngine.
// tsconfig.core.json typechecks this entry without Node's types, so a Node-only import fails.

import { Database, type OpenDatabaseOptions } from './documents/index.ts';
import { forEachIndexValue, matchSelector, normalizeSelector } from './query/index.ts';
import { memoryEngine, type StorageEngine } from './storage/index.ts';

export * from './documents/index.ts';
export * from './errors/index.ts';
export { memoryEngine, type StorageEngine, type KvStore } from './storage/index.ts';
export { indexedDbEngine, type IndexedDbOptions } from './storage-browser/index.ts';

export interface CoreOpenOptions extends Partial<Omit<OpenDatabaseOptions, 'engine' | 'location'>> {
  engine?: StorageEngine;
  /** Engine-specific location; defaults to the database name. */
  location?: string;
}

/** Validates a Mango selector once and returns a predicate over documents. */
export function compileSelector(selector: unknown): (doc: object) => boolean {
  const sel = normalizeSelector(selector);
  return (doc) => matchSelector(doc, sel);
}

/** Opens (creating if needed) a database on the given engine (memory by default). */
export function openCoreDatabase(name: string, options: CoreOpenOptions = {}): Promise<Database> {
  return Database.open(name, {
    indexEntries: forEachIndexValue,
    compileSelector,
    ...options,
    engine: options.engine ?? memoryEngine,
    location: options.location ?? name,
  });
}
export * from './replication/index.ts';
export { attachDesign, designOf, type AttachDesignOptions, type DbDesign } from './design/index.ts';
export { createSandbox, type DesignSandbox, type SandboxOptions } from './sandbox/index.ts';
export * as blobs from './blobs/core.ts';
export * as files from './files/core.ts';
export * as refs from './refs/core.ts';
export * from './node/core.ts';
