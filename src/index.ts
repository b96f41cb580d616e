// Refuge as a library in Node: the portable core plus the on-disk LevelDB engine as the default.
// `openDatabase('notes')` keeps its data in ./refuge-data/notes.

import { join } from 'node:path';
import { openCoreDatabase, type CoreOpenOptions, type Database } from './core.ts';
import { RefugeError } from './errors/index.ts';
import { memoryEngine, type StorageEngine } from './storage/index.ts';
import { leveldbEngine } from './storage-node/index.ts';
import { validateDbName } from './documents/index.ts';

export * from './core.ts';
export { leveldbEngine } from './storage-node/index.ts';

export const DEFAULT_DATA_DIR = './refuge-data';

export interface OpenOptions extends Omit<CoreOpenOptions, 'engine'> {
  /** 'leveldb' (default, on disk), 'memory', or any StorageEngine. */
  engine?: 'leveldb' | 'memory' | StorageEngine;
  /** Directory holding one folder per database (default ./refuge-data). */
  dataDir?: string;
}

let defaultLeveldb: StorageEngine | undefined;

export function resolveEngine(engine: OpenOptions['engine']): StorageEngine {
  if (engine === undefined || engine === 'leveldb') return (defaultLeveldb ??= leveldbEngine());
  if (engine === 'memory') return memoryEngine;
  if (typeof engine === 'object' && typeof engine.open === 'function') return engine;
  throw new RefugeError('bad_request', `unknown storage engine: ${String(engine)}`);
}

/** The folder of a database: its name made safe as one path segment ('/' and friends escaped). */
export function databaseLocation(dataDir: string, name: string): string {
  return join(dataDir, encodeURIComponent(validateDbName(name)));
}

export function openDatabase(name: string, options: OpenOptions = {}): Promise<Database> {
  const { dataDir = DEFAULT_DATA_DIR, engine, ...rest } = options;
  return openCoreDatabase(name, {
    ...rest,
    engine: resolveEngine(engine),
    location: options.location ?? databaseLocation(dataDir, name),
  });
}
