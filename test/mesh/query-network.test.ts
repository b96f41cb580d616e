// Flooded queries over real libp2p on loopback: five nodes in a line, the TTL honoured, results
// routed back hop by hop, grants applied for the asker, strangers answered with public data only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addPeer, setGrant, type QueryResult } from '../../src/mesh/index.ts';
import { nextEvent, startPeerNode, type PeerNode } from './helpers.ts';

/** Makes `a` and `b` trust each other and connects them; resolves once both see the other up. */
async function link(a: PeerNode, b: PeerNode): Promise<void> {
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId }));
  await b.trust.update((s) => addPeer(s, { id: a.mesh.peerId }));
  const upA = nextEvent(a.mesh, 'peer:up', (e) => e.peerId === b.mesh.peerId);
  const upB = nextEvent(b.mesh, 'peer:up', (e) => e.peerId === a.mesh.peerId);
  await a.mesh.connect(b.mesh.invite());
  await Promise.all([upA, upB]);
}

const summary = (results: QueryResult[]) => results.map((r) => `${r.peer.slice(-6)}/${r.db}:${r.docs!.map((d) => d._id).join(',')}`).sort();

test('five nodes in a line: the TTL is honoured, results come back along the path, grants are the asker\'s', async (t) => {
  const line: PeerNode[] = [];
  t.after(async () => {
    for (const p of line.reverse()) await p.close();
  });
  for (let i = 0; i < 5; i++) line.push(await startPeerNode());
  const [a, b, c, d, e] = line as [PeerNode, PeerNode, PeerNode, PeerNode, PeerNode];
  for (const [i, p] of line.entries()) {
    await (await p.node.createDb('pub')).put({ _id: `pub-${i}`, type: 'x' });
    await (await p.node.createDb('secret')).put({ _id: `secret-${i}`, type: 'x' });
    await p.trust.update((s) => setGrant(s, 'pub', 'read', 'public', true));
  }
  // d shares its secret database with a (trusted there, though not a neighbour); c shares nothing.
  await d.trust.update((s) => setGrant(addPeer(s, { id: a.mesh.peerId }), 'secret', 'read', `peer:${a.mesh.peerId}`, true));
  for (let i = 0; i + 1 < line.length; i++) await link(line[i]!, line[i + 1]!);

  const tag = (p: PeerNode, db: string, i: number) => `${p.mesh.peerId.slice(-6)}/${db}:${db}-${i}`;
  // ttl 3 reaches b, c, d; the limit (the 4 documents expected) ends the stream as soon as they are in.
  const results = await a.mesh.queries.ask({ kind: 'find', selector: { type: 'x' }, db: '*' }, { ttl: 3, limit: 4, timeoutMs: 20_000 }).all();
  assert.deepEqual(summary(results), [tag(b, 'pub', 1), tag(c, 'pub', 2), tag(d, 'pub', 3), tag(d, 'secret', 3)].sort());
  assert.equal(c.mesh.queries.router.stats.answered, 1, 'c answered its public database only');
  assert.equal(e.mesh.queries.router.stats.received, 0, 'e is 4 hops away: d did not forward');
  assert.ok(b.mesh.queries.router.stats.relayed >= 3 && c.mesh.queries.router.stats.relayed >= 2, 'results were relayed hop by hop');

  // One database by name, ttl 4: e answers too.
  const all = await a.mesh.queries.ask({ kind: 'find', selector: { type: 'x' }, db: 'pub' }, { ttl: 4, limit: 4, timeoutMs: 20_000 }).all();
  assert.deepEqual(summary(all), [tag(b, 'pub', 1), tag(c, 'pub', 2), tag(d, 'pub', 3), tag(e, 'pub', 4)].sort());

  // Who has a blob: d (which trusts a with a read grant) says so; c holds it too but a may not read its blobs.
  const blob = await d.node.blobs.put(new TextEncoder().encode('shared bytes'));
  await c.node.blobs.put(new TextEncoder().encode('shared bytes'));
  const holders = await a.mesh.queries.ask({ kind: 'blob', blob: blob.id }, { ttl: 3, limit: 1, timeoutMs: 20_000 }).all();
  assert.deepEqual(holders, [{ peer: d.mesh.peerId, blob: { id: blob.id, size: blob.size } }]);
});

test('a stranger gets public data from the node it asks, and its query goes no further', async (t) => {
  const b = await startPeerNode();
  const c = await startPeerNode();
  const s = await startPeerNode();
  t.after(async () => {
    await s.close();
    await c.close();
    await b.close();
  });
  await (await b.node.createDb('pub')).put({ _id: 'p', type: 'x' });
  await (await b.node.createDb('secret')).put({ _id: 's', type: 'x' });
  await (await c.node.createDb('pub')).put({ _id: 'q', type: 'x' });
  await b.trust.update((st) => setGrant(st, 'pub', 'read', 'public', true));
  await c.trust.update((st) => setGrant(st, 'pub', 'read', 'public', true));
  await link(b, c);
  // s trusts b (so it sends b its queries); b does not trust s.
  await s.trust.update((st) => addPeer(st, { id: b.mesh.peerId }));
  const up = nextEvent(s.mesh, 'peer:up');
  await s.mesh.connect(b.mesh.invite());
  await up;
  const results = await s.mesh.queries.ask({ kind: 'find', selector: { type: 'x' }, db: '*' }, { ttl: 3, limit: 1, timeoutMs: 20_000 }).all();
  assert.deepEqual(summary(results), [`${b.mesh.peerId.slice(-6)}/pub:p`]);
  assert.equal(b.mesh.queries.router.stats.forwarded, 0, 'a stranger\'s query is not passed on');
  assert.equal(c.mesh.queries.router.stats.received, 0);
});
