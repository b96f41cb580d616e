// Creating and deleting databases concurrently: one creation wins and the others get file_exists
// (412 over HTTP), one deletion wins and the others get not_found, and the node stays consistent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openNode } from '../../src/node/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/db.ts';
import { request, startTestServer } from '../http/server.ts';

const codes = (results: PromiseSettledResult<unknown>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? 'ok' : isRefugeError(r.reason) ? r.reason.code : String(r.reason))).sort();

for (const engine of ['leveldb', 'memory'] as const) {
  test(`concurrent creates and deletes of one name (${engine})`, async () => {
    const dir = await tempDir('refuge-lifecycle-');
    const node = await openNode({ dataDir: dir.path, engine, durability: 'fast' });
    try {
      const created = await Promise.allSettled(Array.from({ length: 8 }, () => node.createDb('race', { hold: false })));
      assert.deepEqual(codes(created), ['file_exists', 'file_exists', 'file_exists', 'file_exists', 'file_exists', 'file_exists', 'file_exists', 'ok']);
      await (await node.lease('race')).db.put({ _id: 'kept' });
      const deleted = await Promise.allSettled(Array.from({ length: 6 }, () => node.deleteDb('race')));
      assert.deepEqual(codes(deleted), ['not_found', 'not_found', 'not_found', 'not_found', 'not_found', 'ok']);
      assert.equal(await node.exists('race'), false);
      // Interleaved: each operation sees the one before it.
      const mixed = await Promise.allSettled([node.createDb('race', { hold: false }), node.deleteDb('race'), node.createDb('race', { hold: false }), node.createDb('race', { hold: false })]);
      assert.deepEqual(mixed.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason.code)), ['ok', 'ok', 'ok', 'file_exists']);
      const lease = await node.lease('race');
      assert.equal((await lease.db.info()).docCount, 0, 'the recreated database starts empty');
      lease.release();
    } finally {
      await node.close();
      await dir.cleanup();
    }
  });
}

test('concurrent PUT /db over HTTP: one 201, the rest 412 file_exists', async () => {
  const server = await startTestServer({ engine: 'leveldb' });
  try {
    const puts = await Promise.all(Array.from({ length: 10 }, () => request(`${server.url}/race`, { method: 'PUT' })));
    assert.deepEqual(puts.map((r) => r.status).sort(), [201, 412, 412, 412, 412, 412, 412, 412, 412, 412]);
    for (const r of puts.filter((p) => p.status === 412)) assert.equal(r.body.error, 'file_exists');
    const deletes = await Promise.all(Array.from({ length: 5 }, () => request(`${server.url}/race`, { method: 'DELETE' })));
    assert.deepEqual(deletes.map((r) => r.status).sort(), [200, 404, 404, 404, 404]);
  } finally {
    await server.close();
  }
});

test("a database's files left by a deletion a crash cut short never come back: not in a new database of that name, not on disk after a restart", async (t) => {
  const dir = await tempDir('refuge-leftover-');
  const dbs = join(dir.path, 'dbs');
  const saved = join(dir.path, 'saved');
  const open = () => openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast' });
  let node = await open();
  // The node first (whichever is open last), then its directory.
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  const victim = await node.createDb('victim');
  await victim.bulkDocs([{ _id: 'old', secret: 'OLD' }]);
  await victim.put({ _id: '_design/v', views: { all: { map: 'function (doc) { emit(doc._id); }' } } });
  await node.close();
  // What a crash after the catalog's deletion and before the files' leaves: the files.
  await cp(dbs, saved, { recursive: true });
  node = await open();
  await node.deleteDb('victim');
  await rm(dbs, { recursive: true });
  await cp(saved, dbs, { recursive: true });
  // Created again in the same run: empty.
  const again = await node.createDb('victim');
  assert.equal((await again.info()).docCount, 0, 'the new database starts empty');
  await assert.rejects(again.get('old'), (e: unknown) => isRefugeError(e, 'not_found'));
  await node.deleteDb('victim');
  await node.close();
  // Found at the next start: removed before anything can create that name.
  await rm(dbs, { recursive: true });
  await cp(saved, dbs, { recursive: true });
  node = await open();
  assert.deepEqual(await readdir(dbs), []);
  assert.equal(await node.exists('victim'), false);
});

test('a listed database whose storage was removed from under the node is an error, never made again empty at sequence 0', async (t) => {
  const dir = await tempDir('refuge-missing-');
  const open = () => openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast' });
  let node = await open();
  // The node first (whichever is open last), then its directory.
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  await (await node.createDb('x')).put({ _id: 'a' });
  await node.close();
  await rm(join(dir.path, 'dbs', 'x'), { recursive: true });
  node = await open();
  assert.deepEqual(await node.allDbs(), ['x']);
  await assert.rejects(node.db('x'), (e: unknown) => isRefugeError(e, 'internal') && /storage at .* is missing/.test(e.reason));
  assert.deepEqual(await readdir(join(dir.path, 'dbs')), [], 'nothing made in its place');
  // Deleting it still works, and a database made anew under that name is new.
  await node.deleteDb('x');
  assert.equal((await (await node.createDb('x')).info()).docCount, 0);
});
