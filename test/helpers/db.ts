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

export type EngineName = 'memory' | 'leveldb' | 'indexeddb';
/** The document suites run on every engine; IndexedDB through fake-indexeddb, as a browser build runs it. */
export const ENGINES: EngineName[] = ['memory', 'leveldb', 'indexeddb'];

/** The engine to open for a name; fake-indexeddb's globals are installed only by the tests that use it. */
export async function engineFor(engine: EngineName): Promise<NonNullable<OpenOptions['engine']>> {
  if (engine !== 'indexeddb') return engine;
  await import('./fake-idb.ts');
  const { indexedDbEngine } = await import('../../src/storage-browser/index.ts');
  return indexedDbEngine();
}

/** Opens a fresh database; the returned cleanup closes it and deletes its files. */
export async function freshDb(
  engine: EngineName,
  options: OpenOptions = {},
  name = 'test',
): Promise<{ db: Database; dataDir: string; cleanup: () => Promise<void> }> {
  const dir = await tempDir();
  const db = await openDatabase(name, { engine: await engineFor(engine), dataDir: dir.path, durability: 'fast', ...options });
  return {
    db,
    dataDir: dir.path,
    cleanup: async () => {
      await db.close();
      await dir.cleanup();
    },
  };
}

/**
 * Documents whose changes rows differ in every way a row can: escapes and non-ASCII text, an empty
 * body, a second revision, a deletion, two conflicting branches, an attachment (`attached`), and
 * a body that only mentions `"_attachments":` in a value.
 */
export async function putVariedDocs(db: Database): Promise<void> {
  await db.put({ _id: 'plain', text: 'line\nbreak "quoted" \\ \u2028 é 😀', n: -0.5e-7, big: 1e21, nested: { a: [null, true, { b: '' }] } });
  await db.put({ _id: 'empty' });
  await db.put({ _id: 'proto', constructor: 'c', toString: { valueOf: 1 } });
  const edited = await db.put({ _id: 'edited', v: 1 });
  await db.put({ _id: 'edited', _rev: edited.rev, v: 2 });
  const gone = await db.put({ _id: 'gone', v: 1 });
  await db.remove('gone', gone.rev);
  await db.bulkDocs(
    [
      { _id: 'conflicted', _rev: '2-bbb', v: 'b', _revisions: { start: 2, ids: ['bbb', 'aaa'] } },
      { _id: 'conflicted', _rev: '2-ccc', v: 'c', _revisions: { start: 2, ids: ['ccc', 'aaa'] } },
    ],
    { newEdits: false },
  );
  await db.put({ _id: 'attached', _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } });
  await db.put({ _id: 'text-mentions', note: '"_attachments":{} is only text here' });
}

