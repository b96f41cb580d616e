// Grants on HTTP: requests signed with a peer's key (Refuge-Peer) get exactly what the grants give
// that peer — an untrusted peer reads public data and nothing else and writes nothing; forged,
// replayed, stale, re-addressed or re-bodied requests are refused; the replicator signs through
// peerFetch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../../src/http/index.ts';
import { openNode, type RefugeNode } from '../../src/node/index.ts';
import { addPeer, httpPeerAccess, MemoryTrustStore, peerFetch, peerIdOf, setGrant, signRequest } from '../../src/mesh/index.ts';
import { generateNodeKey } from '../../src/refs/index.ts';
import { HttpPeer, LocalPeer, replicate } from '../../src/replication/index.ts';
import { openDatabase } from '../../src/index.ts';
import { feedText } from '../helpers/feed-text.ts';

const friend = generateNodeKey();
const stranger = generateNodeKey();
const friendId = peerIdOf(friend.publicKey);

interface Fixture {
  node: RefugeNode;
  server: RunningServer;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, withPeers = true): Promise<Fixture> {
  const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
  const trust = new MemoryTrustStore();
  await trust.update((s) => {
    let next = addPeer(s, { id: friendId, name: 'friend' });
    next = setGrant(next, 'pub', 'read', 'public', true);
    next = setGrant(next, 'shared', 'read', `peer:${friendId}`, true);
    return setGrant(next, 'shared', 'write', `peer:${friendId}`, true);
  });
  for (const name of ['pub', 'shared', 'secret']) await (await node.createDb(name)).put({ _id: 'doc1', in: name });
  const server = await startServer({
    node,
    port: 0,
    replicator: false,
    admin: 'root:pw',
    ...(withPeers && { peers: httpPeerAccess({ trust, databases: () => node.allDbs() }) }),
  });
  t.after(async () => {
    await server.close();
    await node.close();
  });
  return { node, server };
}

type Key = typeof friend;

function signed(key: Key, server: RunningServer, method: string, path: string, body?: unknown, init: { now?: number } = {}) {
  const url = server.url + path;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { ...signRequest(key, { method, url, body: text }, init.now), ...(text !== undefined && { 'content-type': 'application/json' }) };
  return { url, init: { method, headers, ...(text !== undefined && { body: text }) } };
}

async function call(key: Key, server: RunningServer, method: string, path: string, body?: unknown): Promise<number> {
  const r = signed(key, server, method, path, body);
  const res = await fetch(r.url, r.init);
  await res.arrayBuffer();
  return res.status;
}

test('an untrusted peer reads public data and nothing else, and writes nothing', async (t) => {
  const { server, node } = await setup(t);
  assert.equal(await call(stranger, server, 'GET', '/pub/doc1'), 200);
  assert.equal(await call(stranger, server, 'GET', '/pub'), 200);
  assert.equal(await call(stranger, server, 'POST', '/pub/_all_docs', { keys: ['doc1'] }), 200);
  assert.equal(await call(stranger, server, 'GET', '/pub/_changes'), 200);
  for (const [method, path, body] of [
    ['GET', '/secret/doc1'],
    ['GET', '/shared/doc1'],
    ['POST', '/secret/_all_docs', {}],
    ['PUT', '/pub/doc2', { x: 1 }],
    ['POST', '/pub/_bulk_docs', { docs: [{ _id: 'doc3' }] }],
    ['DELETE', '/pub/doc1?rev=1-x'],
    ['PUT', '/pub/_local/checkpoint', { x: 1 }],
    ['PUT', '/newdb'],
    ['DELETE', '/pub'],
    ['GET', '/_all_dbs'],
    ['POST', '/pub/_compact', {}],
    ['PUT', '/_blobs/sha256-' + '0'.repeat(64)],
  ] as const) {
    assert.equal(await call(stranger, server, method, path, body), 403, `${method} ${path}`);
  }
  // Blobs are for trusted peers that may read something.
  assert.equal(await call(stranger, server, 'GET', '/_blobs'), 403);
  assert.equal((await (await node.db('pub')).info()).docCount, 1, 'nothing was written');
  assert.equal(await node.db('newdb').then(() => true, () => false), false);
});

test('a trusted peer gets its grants: read and write on one database, no admin', async (t) => {
  const { server, node } = await setup(t);
  assert.equal(await call(friend, server, 'PUT', '/shared/doc2', { from: 'friend' }), 201);
  assert.equal(await call(friend, server, 'GET', '/shared/doc2'), 200);
  assert.equal(await call(friend, server, 'GET', '/pub/doc1'), 200, 'public reads too');
  assert.equal(await call(friend, server, 'GET', '/secret/doc1'), 403);
  assert.equal(await call(friend, server, 'PUT', '/pub/doc9', {}), 403, 'read-only there');
  // A trusted reader may read a blob it knows the id of, never list what this node holds.
  const { id: blobId } = await node.blobs.put(new TextEncoder().encode('a blob'));
  assert.equal(await call(friend, server, 'GET', `/_blobs/${blobId}`), 200, 'a trusted reader may read blobs');
  assert.equal(await call(friend, server, 'GET', '/_blobs'), 403, 'the listing is the node\'s own');
  assert.equal(await call(friend, server, 'GET', '/_blobs/_changes'), 403);
  // A design document needs an admin (401, as CouchDB answers): a peer never is one. The security
  // object is no grant's business at all.
  assert.equal(await call(friend, server, 'PUT', '/shared/_design/x', { views: {} }), 401);
  assert.equal(await call(friend, server, 'PUT', '/shared/_security', { members: {} }), 403);
  assert.equal((await (await node.db('shared')).get('doc2')).from, 'friend');
});

test('forged, replayed, stale, re-addressed and re-bodied requests are refused', async (t) => {
  const { server, node } = await setup(t);
  const reason = async (res: Response) => ((await res.json()) as { error: string; reason: string });

  // The stranger's signature under the friend's id.
  const forged = signed(stranger, server, 'GET', '/shared/doc1');
  const h = forged.init.headers as Record<string, string>;
  h.authorization = h.authorization!.replace(/id="[^"]+"/, `id="${friendId}"`);
  let res = await fetch(forged.url, forged.init);
  assert.equal(res.status, 401);
  assert.match((await reason(res)).reason, /bad signature/);

  const once = signed(friend, server, 'GET', '/shared/doc1');
  assert.equal((await fetch(once.url, once.init)).status, 200);
  res = await fetch(once.url, once.init);
  assert.equal(res.status, 401);
  assert.match((await reason(res)).reason, /replayed/);

  const stale = signed(friend, server, 'GET', '/shared/doc1', undefined, { now: Date.now() - 10 * 60_000 });
  assert.equal((await fetch(stale.url, stale.init)).status, 401);

  // Signed for another path, or another host, it proves nothing here.
  const other = signed(friend, server, 'GET', '/shared/doc2');
  assert.equal((await fetch(server.url + '/shared/doc1', other.init)).status, 401);
  const elsewhere = signRequest(friend, { method: 'GET', url: 'http://example.invalid/shared/doc1' });
  assert.equal((await fetch(server.url + '/shared/doc1', { headers: elsewhere })).status, 401);

  // A body swapped after signing is refused and nothing is written.
  const put = signed(friend, server, 'PUT', '/shared/doc5', { v: 1 });
  res = await fetch(put.url, { ...put.init, body: JSON.stringify({ v: 2 }) });
  assert.equal(res.status, 401);
  assert.match((await reason(res)).reason, /body/);
  await assert.rejects((await node.db('shared')).get('doc5'), { code: 'not_found' });
  // Swapped on a write refused before its body is read (a stale revision, a missing document): the
  // check fed as the bytes came failed with no one listening, and that uncaught error ended the process.
  const db = await node.db('shared');
  const r1 = await db.put({ _id: 'doc6' });
  await db.put({ _id: 'doc6', _rev: r1.rev, v: 2 });
  for (const path of [`/shared/doc6/a.txt?rev=${r1.rev}`, '/shared/nope/a.txt?rev=1-abc']) {
    const headers = { ...signRequest(friend, { method: 'PUT', url: server.url + path, body: 'signed bytes' }), 'content-type': 'text/plain' };
    assert.equal((await fetch(server.url + path, { method: 'PUT', headers, body: 'other bytes!' })).status, 409, path);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await fetch(server.url + '/_up')).status, 200, 'still running');
  }

  for (const bad of ['Refuge-Peer', 'Refuge-Peer id="x"', 'Refuge-Peer id="12D3KooWxyz", ts="1", nonce="00", sig="!!"']) {
    res = await fetch(server.url + '/pub/doc1', { headers: { authorization: bad } });
    assert.equal(res.status, 401, bad);
  }
});

test('without peer access configured, signed requests are refused', async (t) => {
  const { server } = await setup(t, false);
  assert.equal(await call(friend, server, 'GET', '/pub/doc1'), 401);
});

test('the replicator signs through peerFetch: push where granted, refused where not', async (t) => {
  const { server, node } = await setup(t);
  const local = await openDatabase('local', { engine: 'memory' });
  t.after(() => local.close());
  await local.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `p${i}`, n: i })));

  const pushed = await replicate(new LocalPeer(local), new HttpPeer(`${server.url}/shared`, { fetch: peerFetch(friend) }), { retry: false }).done;
  assert.equal(pushed.docsWritten, 50);
  assert.equal((await (await node.db('shared')).info()).docCount, 51);

  const pulled = await openDatabase('pulled', { engine: 'memory' });
  t.after(() => pulled.close());
  const fromPub = await replicate(new HttpPeer(`${server.url}/pub`, { fetch: peerFetch(stranger) }), new LocalPeer(pulled), { retry: false }).done;
  assert.equal(fromPub.docsWritten, 1, 'public data can be pulled by anyone signed');

  await assert.rejects(
    replicate(new HttpPeer(`${server.url}/secret`, { fetch: peerFetch(stranger) }), new LocalPeer(pulled), { retry: false }).done,
    (err: { code?: string }) => err.code === 'forbidden',
  );
  await assert.rejects(
    replicate(new LocalPeer(local), new HttpPeer(`${server.url}/pub`, { fetch: peerFetch(stranger) }), { retry: false }).done,
    (err: { code?: string }) => err.code === 'forbidden',
  );
  assert.equal((await (await node.db('pub')).info()).docCount, 1);
});

test("a peer's open changes feed ends before its next change once its read grant is revoked", async (t) => {
  const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
  const trust = new MemoryTrustStore();
  await trust.update((s) => setGrant(addPeer(s, { id: friendId, name: 'friend' }), 'shared', 'read', `peer:${friendId}`, true));
  const db = await node.createDb('shared');
  const server = await startServer({ node, port: 0, replicator: false, admin: 'root:pw', peers: httpPeerAccess({ trust, databases: () => node.allDbs() }) });
  t.after(async () => {
    await server.close();
    await node.close();
  });
  const r = signed(friend, server, 'GET', '/shared/_changes?feed=continuous&since=now&include_docs=true');
  const res = await fetch(r.url, r.init);
  assert.equal(res.status, 200);
  const feed = feedText(res);
  await db.put({ _id: 'before' });
  assert.ok(await feed.until('"before"'));
  await trust.update((s) => setGrant(s, 'shared', 'read', `peer:${friendId}`, false));
  await db.put({ _id: 'after', secret: true });
  assert.equal(await feed.until('"after"'), false, feed.text);
});
