// Test helper: PouchDB from npm as a real CouchDB client (HTTP adapter) and as a local peer
// (LevelDB in a temp dir removed by `cleanup`), with pouchdb-find loaded.

import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

// PouchDB ships no types we depend on; tests use it dynamically.
export type Pouch = any;
export const PouchDB: any = require('pouchdb-node');
PouchDB.plugin(require('pouchdb-find'));

/** A PouchDB constructor whose local databases live in a fresh temp dir. */
export async function localPouch(): Promise<{ Local: any; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'refuge-pouch-'));
  const Local = PouchDB.defaults({ prefix: dir + '/' });
  return { Local, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every revision of every document, for comparing replicas: id -> sorted leaves with histories. */
export async function revisionTrees(db: Pouch): Promise<Record<string, unknown>> {
  // Deleted docs do not show in allDocs; the changes feed lists every document once.
  const changes = await db.changes({ style: 'all_docs' });
  const ids = [...new Set<string>(changes.results.map((r: { id: string }) => r.id))].filter((id) => !id.startsWith('_local/')).sort();
  const winners = await db.allDocs({ keys: ids });
  const entries = await Promise.all(
    ids.map(async (id, i) => {
      const row = winners.rows[i] as { value: { rev: string; deleted?: boolean } };
      const [leaves, winner] = await Promise.all([
        db.get(id, { revs: true, open_revs: 'all' }) as Promise<Array<{ ok?: Record<string, unknown> }>>,
        row.value.deleted ? {} : db.get(id, { conflicts: true }),
      ]);
      const docs = leaves.map((l) => l.ok!).sort((a, b) => String(a._rev).localeCompare(String(b._rev)));
      return [id, { leaves: docs, rev: row.value.rev, deleted: row.value.deleted === true, conflicts: winner._conflicts ?? [] }] as const;
    }),
  );
  return Object.fromEntries(entries);
}
