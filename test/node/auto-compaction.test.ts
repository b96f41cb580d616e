// A node compacts, by itself, the written databases whose old revision bodies take as much room as
// the rest (CouchDB 3's smoosh, on by default there too): one updated over and over loses its old
// bodies; one mostly of live documents, or of conflicting leaves (which compaction keeps), is left.

import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { openNode, type RefugeNode } from '../../src/node/index.ts';
import { AutoCompaction } from '../../src/node/auto-compaction.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/db.ts';

async function withNode(autoCompaction: { minBytes: number } | false, fn: (node: RefugeNode) => Promise<void>): Promise<void> {
  const dir = await tempDir('refuge-auto-compaction-');
  // The timer never fires within a test: each looks itself (compactWhereWorth), as the timer would.
  const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', autoCompaction: autoCompaction && { ...autoCompaction, intervalMs: 3_600_000 } });
  try {
    await fn(node);
  } finally {
    await node.close();
    await dir.cleanup();
  }
}

const pad = () => randomBytes(3000).toString('base64');

async function updateMany(node: RefugeNode, name: string, id: string, times: number): Promise<string[]> {
  const db = await node.db(name);
  const revs: string[] = [];
  let rev: string | undefined;
  for (let i = 0; i < times; i++) {
    rev = (await db.put({ _id: id, n: i, pad: pad(), ...(rev && { _rev: rev }) })).rev;
    revs.push(rev);
  }
  await db.ensureFullCommit();
  return revs;
}

test('a database whose old revisions outweigh the rest is compacted; one of live documents is not', async () => {
  await withNode({ minBytes: 64 * 1024 }, async (node) => {
    await node.createDb('churn');
    await node.createDb('live');
    const revs = await updateMany(node, 'churn', 'counter', 150);
    const liveDb = await node.db('live');
    for (let i = 0; i < 200; i += 50) await liveDb.bulkDocs(Array.from({ length: 50 }, (_, j) => ({ _id: `d${i + j}`, pad: pad() })));
    await liveDb.ensureFullCommit();
    const churn = await node.db('churn');
    const before = churn.revisionBytes;
    assert.ok(before.old > 149 * 4000 && before.old > before.live, `old bodies counted: ${JSON.stringify(before)}`);
    const live = (await node.db('live')).revisionBytes;
    assert.ok(live.old === 0 && live.live > 200 * 4000, `live documents counted: ${JSON.stringify(live)}`);
    assert.equal(((await churn.get('counter', { rev: revs[10]! })) as { n: number }).n, 10, 'an old revision is readable until compaction');

    assert.deepEqual(await node.compactWhereWorth(), ['churn']);
    await assert.rejects(churn.get('counter', { rev: revs[10]! }), (e: unknown) => isRefugeError(e, 'not_found'));
    assert.equal(((await churn.get('counter')) as { n: number }).n, 149);
    assert.deepEqual(churn.revisionBytes, { old: 0, live: before.live });
    // Nothing written since: nothing looked at again.
    assert.deepEqual(await node.compactWhereWorth(), []);
  });
});

test('conflicting leaves, which compaction keeps, are not old; once the conflict is resolved their bodies are', async () => {
  await withNode({ minBytes: 64 * 1024 }, async (node) => {
    await node.createDb('conflicts');
    const db = await node.db('conflicts');
    // 100 branches of one document: every leaf's body kept, none of them old.
    const docs = Array.from({ length: 100 }, (_, i) => ({ _id: 'c', _rev: `1-${i.toString(16).padStart(32, '0')}`, pad: pad(), i }));
    await db.bulkDocs(docs, { newEdits: false });
    assert.equal(db.revisionBytes.old, 0);
    assert.deepEqual(await node.compactWhereWorth(), []);
    // Resolved as CouchDB's guide says: the losing branches deleted.
    const { _conflicts: losers } = (await db.get('c', { conflicts: true })) as { _conflicts: string[] };
    await db.bulkDocs(losers.map((rev) => ({ _id: 'c', _rev: rev, _deleted: true })));
    await db.ensureFullCommit();
    assert.ok(db.revisionBytes.old > 99 * 4000, `the losers' bodies counted: ${JSON.stringify(db.revisionBytes)}`);
    assert.deepEqual(await node.compactWhereWorth(), ['conflicts']);
    assert.equal(db.revisionBytes.old, 0);
  });
});

test('autoCompaction: false leaves every database as written', async () => {
  await withNode(false, async (node) => {
    await node.createDb('churn');
    const revs = await updateMany(node, 'churn', 'counter', 150);
    assert.deepEqual(await node.compactWhereWorth(), []);
    assert.equal(((await (await node.db('churn')).get('counter', { rev: revs[10]! })) as { n: number }).n, 10);
  });
});

test('a fault while looking leaves the databases not looked at yet for the next look', async () => {
  const asked: string[] = [];
  const compaction = new AutoCompaction(async (name) => {
    asked.push(name);
    if (asked.length === 1) throw new Error('a fault of this code');
    return { db: { revisionBytes: { old: 0, live: 0 } } as never, release: () => undefined };
  }, { intervalMs: 3_600_000 });
  try {
    compaction.touched('first');
    compaction.touched('second');
    await assert.rejects(compaction.lookNow(), /a fault of this code/);
    assert.deepEqual(await compaction.lookNow(), []);
    assert.deepEqual(asked, ['first', 'second']);
  } finally {
    await compaction.stop();
  }
});
