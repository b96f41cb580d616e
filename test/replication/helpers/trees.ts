// Compares two databases the way the replication invariant states it: every document's full
// revision tree (all leaves with their ancestry and bodies) and its winner are identical.

import assert from 'node:assert/strict';
import type { Database, Doc } from '../../../src/core.ts';

async function allIds(db: Database): Promise<string[]> {
  const { results } = await db.changes({ style: 'all_docs' });
  return results.map((r) => r.id).sort();
}

async function winnerOf(db: Database, id: string): Promise<unknown> {
  try {
    return await db.get(id, { revs: true, conflicts: true, deletedConflicts: true });
  } catch (err) {
    return { error: (err as { code?: string }).code };
  }
}

/** A document's state: every open revision (with `_revisions`) and the winner as `get` sees it. */
export async function docState(db: Database, id: string): Promise<{ leaves: Doc[]; winner: unknown; changes: unknown }> {
  const open = await db.getOpenRevs(id, 'all', { revs: true });
  const leaves = open.map((r) => ('ok' in r ? r.ok : { missing: r.missing } as unknown as Doc));
  const { results } = await db.changes({ style: 'all_docs', docIds: [id] });
  const row = results[0];
  return { leaves, winner: await winnerOf(db, id), changes: row && { changes: row.changes, deleted: row.deleted } };
}

export async function assertSameTrees(a: Database, b: Database): Promise<number> {
  const ids = await allIds(a);
  assert.deepEqual(await allIds(b), ids, 'both sides hold the same document ids');
  for (const id of ids) assert.deepEqual(await docState(b, id), await docState(a, id), `document ${id}`);
  return ids.length;
}
