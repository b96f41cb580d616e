// A node keeps at most maxOpenDbs databases open (CouchDB's max_dbs_open): idle ones close and
// reopen on use, with their data; held ones (leases, db()) never close under their holder; the
// memory engine, which would lose its data on close, is never closed. Over HTTP, a request holds
// its database until its response ends, a continuous feed included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNode, type RefugeNode } from '../../src/node/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/db.ts';
import { request, startTestServer } from '../http/server.ts';

async function withNode(options: { maxOpenDbs: number; engine?: 'leveldb' | 'memory' }, fn: (node: RefugeNode) => Promise<void>): Promise<void> {
  const dir = await tempDir('refuge-open-dbs-');
  const node = await openNode({ dataDir: dir.path, engine: options.engine ?? 'leveldb', durability: 'fast', maxOpenDbs: options.maxOpenDbs });
  try {
    await fn(node);
  } finally {
    await node.close();
    await dir.cleanup();
  }
}

async function putVia(node: RefugeNode, name: string, doc: { _id: string; [k: string]: unknown }): Promise<void> {
  const lease = await node.lease(name);
  try {
    await lease.db.put(doc);
  } finally {
    lease.release();
  }
}

async function getVia(node: RefugeNode, name: string, id: string): Promise<Record<string, unknown>> {
  const lease = await node.lease(name);
  try {
    return await lease.db.get(id);
  } finally {
    lease.release();
  }
}

test('past maxOpenDbs, idle databases close and reopen with their data', async () => {
  await withNode({ maxOpenDbs: 3 }, async (node) => {
    for (let i = 0; i < 10; i++) {
      await node.createDb(`db${i}`, { hold: false });
      await putVia(node, `db${i}`, { _id: 'doc', i });
      assert.ok(node.openDbCount <= 3, `${node.openDbCount} open after db${i}`);
    }
    for (let i = 0; i < 10; i++) assert.equal((await getVia(node, `db${i}`, 'doc')).i, i);
    assert.ok(node.openDbCount <= 3);
    await assert.rejects(node.lease('never-created'), (e: unknown) => isRefugeError(e, 'not_found'));
  });
});

test('a leased or db()-held database stays open, whatever else is opened', async () => {
  await withNode({ maxOpenDbs: 2 }, async (node) => {
    for (let i = 0; i < 6; i++) await node.createDb(`db${i}`, { hold: false });
    const pinned = await node.db('db0');
    const lease = await node.lease('db1');
    for (let round = 0; round < 2; round++) {
      for (let i = 2; i < 6; i++) await putVia(node, `db${i}`, { _id: `r${round}` });
    }
    // Both still the same open objects, and writable.
    assert.equal(pinned.isClosed, false);
    assert.equal(lease.db.isClosed, false);
    await pinned.put({ _id: 'still' });
    await lease.db.put({ _id: 'still' });
    assert.equal(await node.db('db0'), pinned);
    lease.release();
    lease.release(); // idempotent
    await putVia(node, 'db2', { _id: 'after' });
    assert.ok(node.openDbCount <= 2 + 1, 'only the pinned one may stay beyond the bound');
    assert.equal((await getVia(node, 'db1', 'still'))._id, 'still');
  });
});

test('many requests at once over more databases than may be open all succeed', async () => {
  await withNode({ maxOpenDbs: 2 }, async (node) => {
    for (let i = 0; i < 8; i++) await node.createDb(`db${i}`, { hold: false });
    await Promise.all(Array.from({ length: 64 }, (_, k) => putVia(node, `db${k % 8}`, { _id: `d${k}` })));
    for (let i = 0; i < 8; i++) {
      const lease = await node.lease(`db${i}`);
      try {
        assert.equal((await lease.db.info()).docCount, 8);
      } finally {
        lease.release();
      }
    }
    assert.ok(node.openDbCount <= 2);
    // Deleting a database that was closed for room, and creating it again, works.
    await node.deleteDb('db0');
    await node.createDb('db0', { hold: false });
    assert.equal((await getVia(node, 'db3', 'd3'))._id, 'd3');
    const fresh = await node.lease('db0');
    assert.equal((await fresh.db.info()).docCount, 0);
    fresh.release();
  });
});

test('memory databases are never closed for room: closing would lose them', async () => {
  await withNode({ maxOpenDbs: 2, engine: 'memory' }, async (node) => {
    for (let i = 0; i < 5; i++) {
      await node.createDb(`m${i}`, { hold: false });
      await putVia(node, `m${i}`, { _id: 'doc', i });
    }
    assert.equal(node.openDbCount, 5);
    for (let i = 0; i < 5; i++) assert.equal((await getVia(node, `m${i}`, 'doc')).i, i);
  });
});

test('over HTTP a request holds its database until the response ends, a continuous feed included', async (t) => {
  const server = await startTestServer({ engine: 'leveldb', maxOpenDbs: 2 });
  t.after(() => server.close());
  const u = server.url;
  for (let i = 0; i < 6; i++) {
    assert.equal((await request(`${u}/db${i}`, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${u}/db${i}/doc`, { method: 'PUT', body: { i } })).status, 201);
  }
  const ac = new AbortController();
  const res = await fetch(`${u}/db0/_changes?feed=continuous&since=0&heartbeat=1000`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (want: string) => {
    while (!text.includes(want)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`feed ended before ${want}`);
      text += decoder.decode(value, { stream: true });
    }
  };
  await readUntil('"doc"');
  // Every other database is used, more than may stay open: db0's feed must survive it.
  for (let round = 0; round < 2; round++) {
    for (let i = 1; i < 6; i++) assert.equal((await request(`${u}/db${i}/doc`)).body.i, i);
  }
  assert.equal((await request(`${u}/db0/later`, { method: 'PUT', body: {} })).status, 201);
  await readUntil('"later"');
  ac.abort();
  await reader.cancel().catch(() => undefined);
  // _dbs_info over every database holds each only while reading it.
  const infos = await request(`${u}/_dbs_info`);
  assert.deepEqual(
    infos.body.filter((r: { key: string }) => r.key.startsWith('db')).map((r: { key: string; info: { doc_count: number } }) => [r.key, r.info.doc_count]),
    [['db0', 2], ['db1', 1], ['db2', 1], ['db3', 1], ['db4', 1], ['db5', 1]],
  );
  assert.equal((await request(`${u}/db3/doc`)).body.i, 3);
  assert.ok(server.node.openDbCount <= 3, `${server.node.openDbCount} open`);
});

test('a finished replication between local databases does not keep them open', async (t) => {
  const server = await startTestServer({ engine: 'leveldb', maxOpenDbs: 2 });
  t.after(() => server.close());
  const u = server.url;
  for (let i = 0; i < 5; i++) assert.equal((await request(`${u}/db${i}`, { method: 'PUT' })).status, 201);
  assert.equal((await request(`${u}/db0/doc`, { method: 'PUT', body: { v: 1 } })).status, 201);
  const held = await server.node.lease('db0');
  const source = held.db;
  held.release();
  const rep = await request(`${u}/_replicate`, { method: 'POST', body: { source: 'db0', target: 'db1' } });
  assert.equal(rep.status, 200, rep.text);
  assert.equal(rep.body.ok, true);
  for (let i = 2; i < 5; i++) assert.equal((await request(`${u}/db${i}`)).status, 200);
  assert.equal(source.isClosed, true, 'the source was closed for room once the job ended');
  assert.equal((await request(`${u}/db1/doc`)).body.v, 1);
});

test('a database whose storage failed a write (a full disk) comes back on its next use', async () => {
  await withNode({ maxOpenDbs: 10 }, async (node) => {
    await node.createDb('full', { hold: false });
    await putVia(node, 'full', { _id: 'kept' });
    const lease = await node.lease('full');
    const db = lease.db;
    await db.ensureFullCommit();
    // The disk fills up: the next batch fails to write, and the database refuses writes.
    const store = db.core.store as unknown as { chain(): { write(options?: unknown): Promise<void> } };
    const chain = store.chain.bind(store);
    store.chain = () => {
      const c = chain();
      c.write = async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      };
      return c;
    };
    // Fast durability acknowledges the write; the flush after it fails.
    await db.put({ _id: 'lost' }).catch(() => undefined);
    await db.ensureFullCommit().catch(() => undefined);
    assert.equal(db.failed, true);
    lease.release();
    // Space again: the next request's write brings storage back, with what it kept.
    delete (store as { chain?: unknown }).chain;
    await putVia(node, 'full', { _id: 'after' });
    assert.deepEqual((await getVia(node, 'full', 'kept'))._id, 'kept');
    assert.deepEqual((await getVia(node, 'full', 'after'))._id, 'after');
    // The same object, its storage opened again in place (LevelDB can), not one opened anew.
    const again = await node.lease('full');
    assert.equal(again.db, db);
    assert.equal(again.db.failed, false);
    again.release();
  });
});

test('a failed database handed out for good (RefugeNode.db) stays that object, and comes back once its storage writes again', async () => {
  await withNode({ maxOpenDbs: 10 }, async (node) => {
    await node.createDb('pinned');
    const db = await node.db('pinned');
    await db.put({ _id: 'kept' });
    await db.ensureFullCommit();
    const store = db.core.store as unknown as { chain(): { write(options?: unknown): Promise<void> } };
    const unpatched = store.chain;
    store.chain = ((chain) => () => {
      const c = chain();
      c.write = async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      };
      return c;
    })(store.chain.bind(store));
    await db.put({ _id: 'lost' });
    // Acknowledged (fast), then lost: said by the next full commit.
    await assert.rejects(db.ensureFullCommit(), (err) => isRefugeError(err, 'internal') && /failed to write/.test(err.reason));
    assert.equal(db.failed, true);
    assert.equal(await node.db('pinned'), db);
    assert.equal(db.isClosed, false);
    // Space again: the same object opens its storage again on the next write and goes on, as
    // `_replicator` must (before, it refused all work until the node restarted).
    store.chain = unpatched;
    await db.put({ _id: 'after' });
    // Still reported for a while: any replicator checkpointing now sends its writes again.
    await assert.rejects(db.ensureFullCommit(), (err) => isRefugeError(err, 'unavailable'));
    assert.equal(db.failed, false);
    assert.deepEqual((await db.allDocs()).rows.map((r) => r.id), ['after', 'kept']);
    assert.equal((await db.info()).docCount, 2, 'no count left for the lost write');
  });
});

test('a lease asked for as the node closes is refused, not opened for nobody to close (its lock held for good)', async () => {
  const dir = await tempDir('refuge-open-dbs-');
  try {
    const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    for (let i = 0; i < 6; i++) await node.createDb(`d${i}`, { hold: false });
    // d0 was closed to make room: the lease must open it again, after an await the close overtakes.
    const late = Promise.allSettled(['d0', 'd1', 'd2'].map((name) => node.lease(name).then((l) => l.db.put({ _id: 'late' }))));
    await node.close();
    for (const outcome of await late) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(isRefugeError((outcome as PromiseRejectedResult).reason, 'closed'), String((outcome as PromiseRejectedResult).reason));
    }
    // Nothing kept them open: the same data opens again, in this very process.
    const again = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    try {
      for (const name of ['d0', 'd1', 'd2']) {
        const lease = await again.lease(name);
        assert.equal((await lease.db.info()).docCount, 0);
        lease.release();
      }
    } finally {
      await again.close();
    }
  } finally {
    await dir.cleanup();
  }
});

test('a database being created as the node closes is created, listed and closed with the rest', async () => {
  const dir = await tempDir('refuge-open-dbs-');
  try {
    const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    const creating = node.createDb('made-late', { hold: false });
    await node.close();
    await creating;
    const again = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    try {
      assert.deepEqual(await again.allDbs(), ['made-late']);
      const lease = await again.lease('made-late');
      await lease.db.put({ _id: 'x' });
      lease.release();
    } finally {
      await again.close();
    }
  } finally {
    await dir.cleanup();
  }
});

test('close() asked twice answers both when everything is closed (the second answered at once)', async () => {
  const dir = await tempDir('refuge-open-dbs-');
  try {
    const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    const db = await node.createDb('twice');
    const first = node.close();
    await node.close();
    // Its storage is closed once the second answers, and every lock free: the same data opens again.
    await assert.rejects(db.core.store.get('m!info'), (err) => isRefugeError(err, 'closed'));
    const again = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', maxOpenDbs: 3 });
    try {
      await (await again.lease('twice')).db.info();
    } finally {
      await again.close();
      await first;
    }
  } finally {
    await dir.cleanup();
  }
});
