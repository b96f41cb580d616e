// A node's view and search indexes live on disk beside their database: after a restart they answer
// at once (stale reads see every row) and catch up only with what changed meanwhile.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';

test('views and search survive a node restart without a rebuild', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.cleanup());
  const open = () => openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast' });
  let node = await open();
  await node.createDb('r');
  let db = await node.db('r');
  await db.put({
    _id: '_design/d',
    views: { byN: { map: 'function (doc) { if (doc.n) emit(doc.n, null); }' } },
    indexes: { text: { fields: ['text'] } },
  });
  await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, n: i + 1, text: `word${i} shared` })));
  let design = await node.design('r');
  assert.equal((await (await design.views()).query('_design/d', 'byN', {})).rows.length, 50);
  assert.equal((await (await design.search()).query('d', 'text', { q: 'shared' }, { update: 'true' })).total_rows, 50);
  const seqBefore = (await (await design.views()).info('_design/d')).view_index.update_seq;
  await node.close();

  node = await open();
  t.after(() => node.close());
  db = await node.db('r');
  design = await node.design('r');
  const views = await design.views();
  // Read as is: the rows are there without any rebuild.
  assert.equal((await views.query('_design/d', 'byN', {}, 'false')).rows.length, 50);
  assert.equal((await views.info('_design/d')).view_index.update_seq, seqBefore);
  await db.put({ _id: 'late', n: 99, text: 'shared late' });
  assert.equal((await views.query('_design/d', 'byN', { key: 99 })).rows.length, 1);
  const found = await (await design.search()).query('d', 'text', { q: 'shared' }, { update: 'true' });
  assert.equal(found.total_rows, 51);
});
