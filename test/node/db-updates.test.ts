// The node's `_db_updates` log: created/updated/deleted events, one row per (database, type) at its
// latest sequence, kept across restarts with sequences never reused, and a live subscription.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNode, type DbUpdateRow, type RefugeNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';

const rows = (r: { results: DbUpdateRow[] }) => r.results.map((x) => `${x.type}:${x.dbName}`);

/** Live rows after `since` until `done` holds for everything seen so far (fails after 10 s). */
async function seen(node: RefugeNode, since: number, done: (all: DbUpdateRow[]) => boolean): Promise<DbUpdateRow[]> {
  const all: DbUpdateRow[] = [];
  for await (const batch of node.subscribeDbUpdates({ since, signal: AbortSignal.timeout(10_000) })) {
    all.push(...batch);
    if (done(all)) return all;
  }
  throw new Error(`db updates did not arrive: ${JSON.stringify(all)}`);
}

for (const engine of ['leveldb', 'memory'] as const) {
  test(`db updates (${engine}): created, updated coalesced per database, deleted; live`, async () => {
    const dir = await tempDir('refuge-db-updates-');
    const node = await openNode({ dataDir: dir.path, engine, durability: 'fast' });
    try {
      assert.deepEqual(await node.dbUpdates(), { results: [], lastSeq: 0 });
      const a = await node.createDb('a');
      await node.createDb('b');
      assert.deepEqual(rows(await node.dbUpdates()), ['created:a', 'created:b']);
      const afterCreate = node.dbUpdatesSeq;
      for (let i = 0; i < 20; i++) await a.put({ _id: `d${i}` });
      const live = await seen(node, afterCreate, (all) => all.some((r) => r.type === 'updated'));
      assert.deepEqual(live.map((r) => `${r.type}:${r.dbName}`), ['updated:a']);
      // Many writes, one row: coalesced by the interval, and a later write moves it, never adds one.
      await a.put({ _id: 'late' });
      await seen(node, live.at(-1)!.seq, (all) => all.some((r) => r.type === 'updated'));
      assert.deepEqual(rows(await node.dbUpdates()), ['created:a', 'created:b', 'updated:a']);

      await node.deleteDb('b');
      await node.createDb('b');
      const all = await node.dbUpdates();
      assert.deepEqual(rows(all), ['created:a', 'updated:a', 'deleted:b', 'created:b']);
      const seqs = all.results.map((r) => r.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      assert.equal(all.lastSeq, node.dbUpdatesSeq);

      // since, limit, descending
      assert.deepEqual(rows(await node.dbUpdates({ since: seqs[1]! })), ['deleted:b', 'created:b']);
      const limited = await node.dbUpdates({ limit: 2 });
      assert.deepEqual(rows(limited), ['created:a', 'updated:a']);
      assert.equal(limited.lastSeq, seqs[1]);
      assert.deepEqual(rows(await node.dbUpdates({ descending: true, limit: 3 })), ['created:b', 'deleted:b', 'updated:a']);
      assert.deepEqual(rows(await node.dbUpdates({ limit: 0 })), []);
    } finally {
      await node.close();
      await dir.cleanup();
    }
  });
}

test('db updates survive a restart; sequences go on from the last one; no updated after deleted', async () => {
  const dir = await tempDir('refuge-db-updates-');
  let node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'durable' });
  try {
    const x = await node.createDb('x');
    await x.put({ _id: 'one' });
    await node.createDb('y');
    // A write just before deletion: its pending `updated` must not follow the `deleted`.
    await (await node.db('y')).put({ _id: 'gone' });
    await node.deleteDb('y');
    await node.close(); // flushes x's pending `updated`
    node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'durable' });
    const before = await node.dbUpdates();
    assert.deepEqual(rows(before), ['created:x', 'created:y', 'deleted:y', 'updated:x']);
    await node.createDb('z');
    const after = await node.dbUpdates({ since: before.lastSeq });
    assert.deepEqual(rows(after), ['created:z']);
    assert.ok(after.results[0]!.seq > before.lastSeq);
  } finally {
    await node.close();
    await dir.cleanup();
  }
});
