// Refuge as a library in Node: the portable core plus the on-disk LevelDB engine as the default.
// `openDatabase('notes')` keeps its data in ./refuge-data/notes.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { attachDesign, openCoreDatabase, type CoreOpenOptions, type Database } from './core.ts';
import { RefugeError } from './errors/index.ts';
import { memoryEngine, type StorageEngine } from './storage/index.ts';
import { leveldbEngine, notADirectory } from './storage-node/index.ts';
import { openBlobStore } from './blobs/index.ts';
import { checkOpenOptions, validateDbName } from './documents/index.ts';

export * from './core.ts';
export { leveldbEngine } from './storage-node/index.ts';

export const DEFAULT_DATA_DIR = './refuge-data';

export interface OpenOptions extends Omit<CoreOpenOptions, 'engine'> {
  /** 'leveldb' (default, on disk), 'memory', or any StorageEngine. */
  engine?: 'leveldb' | 'memory' | StorageEngine;
  /** Directory holding one folder per database (default ./refuge-data). */
  dataDir?: string;
  /**
   * Run design documents (default true): validate_doc_update on writes, filters, and views and
   * search through `designOf(db)`, with their indexes in `<database folder>.idx`.
   */
  design?: boolean;
}

let defaultLeveldb: StorageEngine | undefined;

export function resolveEngine(engine: OpenOptions['engine']): StorageEngine {
  if (engine === undefined || engine === 'leveldb') return (defaultLeveldb ??= leveldbEngine());
  if (engine === 'memory') return memoryEngine;
  if (engine !== null && typeof engine === 'object' && typeof engine.open === 'function') return engine;
  throw new RefugeError('bad_request', `unknown storage engine: ${String(engine)}`);
}

/** Refuses a data directory that a file stands in place of (or on the path to). */
async function checkDataDir(dataDir: string): Promise<void> {
  const found = await stat(dataDir).catch((err: { code?: unknown }) => (err.code === 'ENOTDIR' ? 'file on path' : undefined));
  if (found === 'file on path' || (found !== undefined && !found.isDirectory())) throw notADirectory(dataDir);
}

/** The folder of a database: its name made safe as one path segment ('/' and friends escaped). */
export function databaseLocation(dataDir: string, name: string): string {
  return join(dataDir, encodeURIComponent(validateDbName(name)));
}

/**
 * Opens a database on its own. Attachments go to a blob store shared by the databases of the same
 * data directory (`<dataDir>/_blobs`; in memory for the memory engine) unless `blobs` is given.
 */
export async function openDatabase(name: string, options: OpenOptions = {}): Promise<Database> {
  // Checked before the shared blob store is made: a refused open leaves nothing behind.
  validateDbName(name);
  checkOpenOptions(options);
  const { dataDir = DEFAULT_DATA_DIR, engine, design = true, ...rest } = options;
  if (typeof dataDir !== 'string' || dataDir === '') throw new RefugeError('bad_request', 'dataDir must be a directory path');
  const resolved = resolveEngine(engine);
  if (resolved.name === 'leveldb') await checkDataDir(dataDir);
  const owned = rest.blobs === undefined;
  const blobs =
    rest.blobs ??
    (resolved.name === 'leveldb'
      ? await openBlobStore({ backend: 'fs', dir: join(dataDir, '_blobs'), durability: rest.durability })
      : await openBlobStore({ backend: 'memory' }));
  try {
    const location = options.location ?? databaseLocation(dataDir, name);
    const db = await openCoreDatabase(name, { ...rest, blobs, ownsBlobs: owned, engine: resolved, location });
    if (design) attachDesign(db, { openIndexStore: () => resolved.open({ location: `${location}.idx` }) });
    return db;
  } catch (err) {
    if (owned) await blobs.close();
    throw err;
  }
}
