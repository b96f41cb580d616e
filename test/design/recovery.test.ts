// Derived indexes after a damaged log: LevelDB dropped writes the database had acknowledged, but
// the view, Mango and search indexes (a store of their own) had already read them. They rebuild
// from what the database still holds, instead of answering rows for documents it lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openNode } from '../../src/node/index.ts';
import { prepareIndex } from '../../src/views/index.ts';
import { tempDir } from '../helpers/db.ts';

/** The newest LevelDB log under `root` outside index stores (`*.idx`). */
function newestDbLog(root: string): string {
  const logs = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.log') && !p.split('/').some((part) => part.endsWith('.idx')))
    .map((p) => join(root, p));
  const inDb = logs.filter((p) => p.includes('/r/') || p.includes('/r.'));
  return (inDb.length > 0 ? inDb : logs).sort().pop()!;
}

test('views, Mango json indexes and search rebuild when the database lost writes they had read', async (t) => {
  const dir = await tempDir('refuge-idx-recovery-');
  t.after(() => dir.cleanup());
  const open = () => openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'durable' });
  let node = await open();
  await node.createDb('r');
  let db = await node.db('r');
  await db.put({
    _id: '_design/d',
    views: { byN: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n, null); }' } },
    indexes: { text: { fields: ['text'] } },
  });
  for (let k = 0; k < 10; k++) {
    await db.bulkDocs(Array.from({ length: 300 }, (_, j) => ({ _id: `d${k}-${j}`, n: k * 1000 + j, text: 'shared', pad: 'z'.repeat(200) })));
  }
  const index = prepareIndex({ index: { fields: ['n'] }, ddoc: 'mango', name: 'by-n' }, undefined);
  await db.put(index.doc!);
  const viaIndex = { selector: { n: { $gte: 0 } }, useIndex: ['mango', 'by-n'], limit: 10_000 };
  let design = await node.design('r');
  assert.equal((await design.find(viaIndex)).docs.length, 3000);
  assert.equal((await (await design.views()).query('_design/d', 'byN', {})).rows.length, 3000);
  assert.equal((await (await design.search()).query('d', 'text', { q: 'shared' }, { update: 'true' })).total_rows, 3000);
  await node.close();

  // Bytes flipped a third of the way into the database's newest log (its index store is intact).
  const log = newestDbLog(dir.path);
  const bytes = readFileSync(log);
  for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 3) + i]! ^= 0xff;
  writeFileSync(log, bytes);

  node = await open();
  t.after(() => node.close());
  db = await node.db('r');
  design = await node.design('r');
  const listed = (await db.allDocs({ startkey: 'd', endkey: 'e' })).rows.length;
  assert.ok(listed < 3000, 'a block was dropped (the test damaged something)');
  const viewRows = (await (await design.views()).query('_design/d', 'byN', {})).rows;
  assert.equal(viewRows.length, listed);
  const found = await design.find(viaIndex);
  assert.equal(found.docs.length, listed);
  assert.equal(found.warning, undefined, 'the json index answered');
  const search = await (await design.search()).query('d', 'text', { q: 'shared' }, { update: 'true' });
  assert.equal(search.total_rows, listed);
});
