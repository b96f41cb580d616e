// The mesh over HTTP (and `refuge query`): `/_mesh/_find` floods a query from the server's node,
// `/_mesh/peers` lists trusted peers up and down, `/_mesh/_events` streams peer events and lets go of its listeners;
// `refuge peers status` and `refuge peers watch` read the same two endpoints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { addPeer, setGrant, type MeshNode } from '../../src/mesh/index.ts';
import { REFUGE_BIN, nextEvent, runRefuge, startPeerNode, type PeerNode } from './helpers.ts';

const run = runRefuge;

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Listeners the MeshNode holds for an event (its Emitter keeps them in a private map). */
const listenerCount = (mesh: MeshNode, event: string) => (mesh as unknown as { listeners: Map<string, Set<unknown>> }).listeners.get(event)?.size ?? 0;

async function linked(t: { after: (fn: () => Promise<void>) => void }): Promise<[PeerNode, PeerNode]> {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId, name: 'bee' }));
  await b.trust.update((s) => setGrant(addPeer(s, { id: a.mesh.peerId }), 'pub', 'read', 'public', true));
  await (await b.node.createDb('pub')).put({ _id: 'doc1', type: 'x' });
  const up = nextEvent(a.mesh, 'peer:up');
  const upB = nextEvent(b.mesh, 'peer:up');
  await a.mesh.connect(b.mesh.invite());
  await Promise.all([up, upB]);
  return [a, b];
}

test('without a mesh the routes answer 503 unavailable', async (t) => {
  const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
  const server = await startServer({ node, port: 0, replicator: false });
  t.after(async () => {
    await server.close();
    await node.close();
  });
  for (const res of [await fetch(`${server.url}/_mesh/peers`), await post(`${server.url}/_mesh/_find`, { selector: {} }), await fetch(`${server.url}/_mesh/_events`)]) {
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'unavailable');
  }
});

test('_find floods the query; peers lists up/down; bad input is a 400', async (t) => {
  const [a, b] = await linked(t);
  const server = await startServer({ node: a.node, port: 0, replicator: false, admin: 'root:pw' });
  server.context.extras.mesh = a.mesh;
  t.after(() => server.close());
  const auth = { authorization: `Basic ${Buffer.from('root:pw').toString('base64')}` };

  assert.equal((await post(`${server.url}/_mesh/_find`, { selector: {} })).status, 401, 'admin only when auth is on');
  // Other methods and paths under /_mesh answer as the mesh's, not as a database that does not exist.
  const wrongMethod = await fetch(`${server.url}/_mesh/_find`, { headers: auth });
  assert.deepEqual([wrongMethod.status, await wrongMethod.json()], [405, { error: 'method_not_allowed', reason: 'Only POST allowed' }]);
  const unknown = await fetch(`${server.url}/_mesh/nothing`, { headers: auth });
  assert.deepEqual([unknown.status, await unknown.json()], [404, { error: 'not_found', reason: 'missing' }]);
  const res = await post(`${server.url}/_mesh/_find`, { selector: { type: 'x' }, db: 'pub', ttl: 2, limit: 1, timeout_ms: 20_000 }, auth);
  assert.equal(res.status, 200);
  type Found = { results: Array<{ peer: string; db: string; docs: Array<{ _id: string }> }> };
  const found = (await res.json()) as Found & { neighbours: number; warning?: string };
  assert.deepEqual(found.results.map((r) => [r.peer, r.db, r.docs.map((d) => d._id)]), [[b.mesh.peerId, 'pub', ['doc1']]]);
  assert.equal(found.neighbours, 1);
  assert.equal(found.warning, undefined);
  // Nothing found: the answer says how far the query went, so an empty list is not a silent one.
  const none = (await (await post(`${server.url}/_mesh/_find`, { selector: { type: 'nothing-has-this' }, timeout_ms: 200 }, auth)).json()) as { results: unknown[]; neighbours: number; warning: string };
  assert.deepEqual([none.results, none.neighbours], [[], 1]);
  assert.match(none.warning, /within 200 ms from the 1 connected trusted peer or beyond/);
  for (const bad of [{ selector: 'x' }, { selector: {}, ttl: 9 }, { selector: {}, db: 'Bad Name' }, { blob: 'nope' }, {}, { selector: {}, fields: ['_id'] }, { selector: {}, skip: 2 }]) {
    const r = await post(`${server.url}/_mesh/_find`, bad, auth);
    assert.equal(r.status, 400, JSON.stringify(bad));
  }

  const peers = (await (await fetch(`${server.url}/_mesh/peers`, { headers: auth })).json()) as { peer_id: string; peers: Array<{ id: string; name: string; up: boolean }> };
  assert.equal(peers.peer_id, a.mesh.peerId);
  assert.deepEqual(peers.peers.map((p) => [p.id, p.name, p.up]), [[b.mesh.peerId, 'bee', true]]);

  // The CLI calls the same endpoint.
  const url = server.url.replace('http://', 'http://root:pw@');
  const cli = await run(['query', '--url', url, '{"type":"x"}', '--db', 'pub', '--ttl', '2', '--limit', '1', '--timeout', '20000', '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual((JSON.parse(cli.stdout) as Found).results.map((r) => [r.peer, r.docs.map((d) => d._id)]), [[b.mesh.peerId, ['doc1']]]);
  assert.equal((await run(['query', '--url', url])).code, 2, 'no selector: usage error');
  const empty = await run(['query', '--url', url, '{"type":"nothing-has-this"}', '--timeout', '200']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /nothing came back within 200 ms/);

  // Who has a blob, named by its CID as well as by its id; a bad one is a usage error.
  const { id: blobId } = await b.node.blobs.put(new TextEncoder().encode('held by b'));
  const { CID } = await import('multiformats/cid');
  const { create } = await import('multiformats/hashes/digest');
  const cid = CID.createV1(0x55, create(0x12, Buffer.from(blobId.slice('sha256-'.length), 'hex'))).toString();
  const who = await run(['query', '--url', url, '--blob', cid, '--ttl', '2', '--limit', '1', '--timeout', '20000', '--json']);
  assert.equal(who.code, 0, who.stderr);
  assert.deepEqual((JSON.parse(who.stdout) as { results: Array<{ peer: string; blob: { id: string } }> }).results.map((r) => [r.peer, r.blob.id]), [[b.mesh.peerId, blobId]]);
  assert.equal((await run(['query', '--url', url, '--blob', 'bafy-not-a-cid'])).code, 2);

  const down = nextEvent(a.mesh, 'peer:down', (e) => e.peerId === b.mesh.peerId);
  await a.mesh.disconnect(b.mesh.peerId);
  await down;
  const alone = (await (await post(`${server.url}/_mesh/_find`, { selector: {}, timeout_ms: 50 }, auth)).json()) as { neighbours: number; warning: string };
  assert.deepEqual([alone.neighbours, alone.warning], [0, 'no trusted peer is connected: the query reached nobody']);
});

test('_events streams peer up/down and drops its listeners when the client goes away', async (t) => {
  const [a, b] = await linked(t);
  const server = await startServer({ node: a.node, port: 0, replicator: false });
  server.context.extras.mesh = a.mesh;
  t.after(() => server.close());
  const before = listenerCount(a.mesh, 'peer:down');
  const client = new AbortController();
  const res = await fetch(`${server.url}/_mesh/_events`, { signal: client.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  const until = async (needle: string) => {
    while (!text.includes(needle)) text += new TextDecoder().decode((await reader.read()).value);
  };
  await until('event: peers');
  assert.ok(text.includes(b.mesh.peerId), 'the peers up now come first');
  assert.equal(listenerCount(a.mesh, 'peer:down'), before + 1);
  await a.mesh.disconnect(b.mesh.peerId);
  await until('event: peer:down');
  client.abort();
  await reader.cancel().catch(() => undefined);
  // The server learns of the disconnect from its socket; wait for that, bounded.
  for (let i = 0; i < 500 && (listenerCount(a.mesh, 'peer:down') > before || server.context.feeds.size > 0); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(listenerCount(a.mesh, 'peer:down'), before, 'no leaked listener');
  assert.equal(listenerCount(a.mesh, 'peer:up'), 0);
  assert.equal(server.context.feeds.size, 0);
});

test('refuge peers status and peers watch follow a running node', async (t) => {
  const [a, b] = await linked(t);
  const server = await startServer({ node: a.node, port: 0, replicator: false });
  server.context.extras.mesh = a.mesh;
  t.after(() => server.close());

  const status = await run(['peers', 'status', '--url', server.url, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const info = JSON.parse(status.stdout) as { peer_id: string; peers: Array<{ id: string; up: boolean }> };
  assert.equal(info.peer_id, a.mesh.peerId);
  assert.deepEqual(info.peers.map((p) => [p.id, p.up]), [[b.mesh.peerId, true]]);
  const text = await run(['peers', 'status', '--url', server.url]);
  assert.match(text.stdout, new RegExp(`^up\\s+${b.mesh.peerId}\\s+bee$`, 'm'));

  // watch: the peer up now, then it goes down and comes back; three lines and the command ends.
  const child = spawn(process.execPath, [REFUGE_BIN, 'peers', 'watch', '--url', server.url, '--count', '3', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void child.kill());
  const lines: Array<{ event: string; peer: string; name?: string }> = [];
  let buffered = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffered.slice(0, nl)));
      buffered = buffered.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const lineCount = async (n: number) => {
    while (lines.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  await lineCount(1);
  await a.mesh.disconnect(b.mesh.peerId);
  await lineCount(2);
  const up = nextEvent(a.mesh, 'peer:up');
  await a.mesh.connect(b.mesh.invite());
  await up;
  assert.equal(await exited, 0);
  assert.deepEqual(lines, [
    { event: 'peer:up', peer: b.mesh.peerId, name: 'bee' },
    { event: 'peer:down', peer: b.mesh.peerId, name: 'bee' },
    { event: 'peer:up', peer: b.mesh.peerId, name: 'bee' },
  ]);
});
