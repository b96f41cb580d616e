// A database's instance_start_time (CouchDB's creation time in microseconds): what tells a replicator
// that a name now holds another database. Kept across node restarts, another one for a database
// deleted and created again, "0" for a database stored before it was kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNode } from '../../src/node/index.ts';
import { decodeState, encodeState } from '../../src/documents/core.ts';
import { META_KEY } from '../../src/documents/keys.ts';
import { tempDir } from '../helpers/db.ts';
import { request, startTestServer } from '../http/server.ts';

const startOf = async (node: Awaited<ReturnType<typeof openNode>>, name: string): Promise<string> => {
  const lease = await node.lease(name);
  try {
    return (await lease.db.info()).instanceStartTime;
  } finally {
    lease.release();
  }
};

for (const engine of ['leveldb', 'memory'] as const) {
  test(`instance_start_time: set at creation, another after delete and create (${engine})`, async () => {
    const dir = await tempDir('refuge-instance-');
    const node = await openNode({ dataDir: dir.path, engine, durability: 'fast' });
    try {
      const before = Date.now() * 1000;
      await node.createDb('same', { hold: false });
      const first = await startOf(node, 'same');
      assert.match(first, /^[1-9][0-9]{15,}$/, 'microseconds, as CouchDB gives it');
      assert.ok(Number(first) >= before);
      assert.equal(await startOf(node, 'same'), first);
      await node.deleteDb('same');
      await node.createDb('same', { hold: false });
      const second = await startOf(node, 'same');
      assert.notEqual(second, first, 'a database created again under the name is another instance');
    } finally {
      await node.close();
      await dir.cleanup();
    }
  });
}

test('instance_start_time is stored: the same after a node restart; "0" for a database stored without one', async () => {
  const dir = await tempDir('refuge-instance-');
  try {
    let node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast' });
    await node.createDb('kept', { hold: false });
    await node.createDb('older', { hold: false });
    const kept = await startOf(node, 'kept');
    // A database written by a version before the field: its stored counters lack it.
    const older = await node.db('older');
    const state = decodeState(await older.core.store.get(META_KEY), older.core.state);
    delete state.instanceStartTime;
    await older.core.store.batch([{ type: 'put', key: META_KEY, value: encodeState(state) }], { sync: true });
    await node.close();
    node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast' });
    try {
      assert.equal(await startOf(node, 'kept'), kept);
      assert.equal(await startOf(node, 'older'), '0', 'what it always answered, so no replicator sees it change');
    } finally {
      await node.close();
    }
  } finally {
    await dir.cleanup();
  }
});

test('GET /{db} and _ensure_full_commit answer the same instance_start_time, another once the database is created again', async () => {
  const server = await startTestServer();
  try {
    const u = `${server.url}/inst`;
    assert.equal((await request(u, { method: 'PUT' })).status, 201);
    const info = await request(u);
    const efc = await request(`${u}/_ensure_full_commit`, { method: 'POST', body: {} });
    assert.equal(efc.status, 201);
    assert.notEqual(info.body.instance_start_time, '0');
    assert.equal(efc.body.instance_start_time, info.body.instance_start_time);
    await request(u, { method: 'DELETE' });
    await request(u, { method: 'PUT' });
    const again = await request(u);
    assert.notEqual(again.body.instance_start_time, info.body.instance_start_time);
    assert.equal((await request(`${u}/_ensure_full_commit`, { method: 'POST', body: {} })).body.instance_start_time, again.body.instance_start_time);
  } finally {
    await server.close();
  }
});
