// Test helpers: open databases on either engine in a temp directory that is removed afterwards.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type OpenOptions } from '../../src/index.ts';
import type { Database } from '../../src/core.ts';

export async function tempDir(prefix = 'refuge-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export type EngineName = 'memory' | 'leveldb';
export const ENGINES: EngineName[] = ['memory', 'leveldb'];

/** Opens a fresh database; the returned cleanup closes it and deletes its files. */
export async function freshDb(
  engine: EngineName,
  options: OpenOptions = {},
  name = 'test',
): Promise<{ db: Database; dataDir: string; cleanup: () => Promise<void> }> {
  const dir = await tempDir();
  const db = await openDatabase(name, { engine, dataDir: dir.path, durability: 'fast', ...options });
  return {
    db,
    dataDir: dir.path,
    cleanup: async () => {
      await db.close();
      await dir.cleanup();
    },
  };
}
