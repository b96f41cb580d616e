// Flooding in a simulated mesh of 60 nodes (the QueryRouter over an in-memory FIFO transport, real
// Ed25519 signatures): each node answers at most once, exactly the nodes within the TTL answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateNodeKey, signBytes, type NodeKey } from '../../src/refs/keys.ts';
import { peerIdOf, QueryRouter, type QueryMessage } from '../../src/mesh/index.ts';

interface SimNode {
  id: string;
  key: NodeKey;
  router: QueryRouter;
  answered: string[];
  neighbours: string[];
}

/** A deterministic pseudo-random generator, so the topology is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A ring (so it is connected) plus random chords; messages delivered in one FIFO queue, or in random order. */
function simMesh(n: number, chords: number, seed = 7, shuffle = false) {
  const rand = lcg(seed);
  const nodes: SimNode[] = [];
  const byId = new Map<string, SimNode>();
  const queue: Array<() => void> = [];
  let sent = 0;
  let draining = false;
  const drain = () => {
    draining = false;
    for (let i = 0; i < 1000 && queue.length > 0; i++) (shuffle ? queue.splice(Math.floor(rand() * queue.length), 1)[0]! : queue.shift()!)();
    if (queue.length > 0) schedule();
  };
  const schedule = () => {
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  };
  for (let i = 0; i < n; i++) {
    const key = generateNodeKey();
    const id = peerIdOf(key.publicKey);
    const sim: SimNode = { id, key, answered: [], neighbours: [], router: undefined as unknown as QueryRouter };
    sim.router = new QueryRouter({
      self: id,
      sign: (bytes) => signBytes(key, bytes),
      peers: () => sim.neighbours,
      send: (to: string, message: QueryMessage) => {
        sent++;
        // Through JSON, as on the wire: no shared objects between nodes.
        const copy = JSON.parse(JSON.stringify(message)) as unknown;
        queue.push(() => byId.get(to)!.router.receive(id, copy));
        schedule();
      },
      answer: async (query) => {
        sim.answered.push(query.id);
        return [{ db: 'sim', docs: [{ _id: id }] }];
      },
    });
    nodes.push(sim);
    byId.set(id, sim);
  }
  const link = (a: SimNode, b: SimNode) => {
    if (a === b || a.neighbours.includes(b.id)) return;
    a.neighbours.push(b.id);
    b.neighbours.push(a.id);
  };
  for (let i = 0; i < n; i++) link(nodes[i]!, nodes[(i + 1) % n]!);
  for (let c = 0; c < chords; c++) link(nodes[Math.floor(rand() * n)]!, nodes[Math.floor(rand() * n)]!);
  /** Resolves once no message is queued and no answer is being computed. */
  const settled = async () => {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (queue.length === 0 && !draining && nodes.every((x) => x.router.activeAnswers === 0)) return;
    }
  };
  return { nodes, byId, settled, sent: () => sent, inject: (to: string, from: string, msg: unknown) => queue.push(() => byId.get(to)!.router.receive(from, msg)) && schedule() };
}

/** Hop distances from `start` (breadth-first). */
function distances(nodes: SimNode[], byId: Map<string, SimNode>, start: SimNode): Map<string, number> {
  const dist = new Map([[start.id, 0]]);
  const todo = [start];
  while (todo.length > 0) {
    const x = todo.shift()!;
    for (const y of x.neighbours) {
      if (!dist.has(y)) {
        dist.set(y, dist.get(x.id)! + 1);
        todo.push(byId.get(y)!);
      }
    }
  }
  return dist;
}

for (const shuffle of [false, true]) {
test(`a 60-node simulated mesh${shuffle ? ', messages out of order' : ''}: every node within the TTL answers exactly once, none beyond, results reach the asker`, async (t) => {
  const { nodes, byId, settled, sent } = simMesh(60, 30, 7, shuffle);
  const asker = nodes[0]!;
  const dist = distances(nodes, byId, asker);
  for (const ttl of [1, 2, 3]) {
    const before = sent();
    const stream = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl, limit: 1000, timeoutMs: 30_000 });
    await settled();
    stream.end();
    const results = await stream.all();
    const expected = nodes.filter((x) => x !== asker && dist.get(x.id)! <= ttl).map((x) => x.id).sort();
    const answeredBy = nodes.filter((x) => x.answered.includes(stream.id)).map((x) => x.id).sort();
    assert.deepEqual(answeredBy, expected, `ttl ${ttl}: exactly the nodes within ${ttl} hops answer`);
    for (const x of nodes) assert.ok(x.answered.filter((q) => q === stream.id).length <= 1, 'each node answers at most once');
    assert.deepEqual(results.map((r) => r.peer).sort(), expected, 'every answer reaches the asker once');
    assert.ok(expected.length > 0 && (ttl < 3 || expected.length < nodes.length - 1), 'the TTL is what limits the reach');
    const dups = nodes.reduce((n, x) => n + x.router.stats.duplicates, 0);
    if (ttl > 1) assert.ok(dups > 0, 'the mesh has cycles, and their copies were dropped');
    t.diagnostic(`ttl ${ttl}: ${expected.length} of ${nodes.length - 1} answered, ${sent() - before} messages`);
  }
  for (const x of nodes) x.router.close();
});
}

test('forged, replayed and malformed queries are dropped without blocking the genuine one', async () => {
  const { nodes, settled } = simMesh(8, 4, 3);
  const [asker, neighbour] = [nodes[0]!, nodes[1]!];
  const stream = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl: 8, limit: 100, timeoutMs: 30_000 });
  const mallory = nodes[4]!;
  const genuine = { type: 'query', query: { v: 1, id: 'forged-query-id-1', origin: asker.id, question: { kind: 'find', selector: {}, db: '*' }, ttl: 8, limit: 5, deadline: Date.now() + 30_000, sig: '00'.repeat(64) }, hops: 1 };
  const rejectedBefore = nodes.reduce((n, x) => n + x.router.stats.rejected, 0);
  mallory.router.receive(neighbour.id, genuine); // a forged signature in asker's name
  mallory.router.receive(neighbour.id, { type: 'query', query: { id: 1 } });
  mallory.router.receive(neighbour.id, null);
  await settled();
  stream.end();
  const results = await stream.all();
  assert.equal(results.length, nodes.length - 1, 'every node answered the genuine query');
  assert.ok(nodes.every((x) => !x.answered.includes('forged-query-id-1')), 'nobody answered the forgery');
  assert.equal(nodes.reduce((n, x) => n + x.router.stats.rejected, 0) - rejectedBefore, 3);
  // A copy of the genuine query replayed later is a duplicate: nobody answers twice.
  const counts = nodes.map((x) => x.answered.length);
  for (const x of nodes) x.router.receive(asker.id, { type: 'query', query: { ...genuine.query }, hops: 1 });
  await settled();
  assert.deepEqual(nodes.map((x) => x.answered.length), counts);
  for (const x of nodes) x.router.close();
});

test('the asker stops at the result limit and at its deadline', async () => {
  const { nodes, settled, sent } = simMesh(12, 0);
  const asker = nodes[0]!;
  const limited = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl: 8, limit: 3, timeoutMs: 30_000 });
  const got = await limited.all(); // ends by itself once 3 documents came in
  assert.equal(got.reduce((n, r) => n + r.docs!.length, 0), 3);
  await settled();
  const timed = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl: 1, limit: 100, timeoutMs: 1000 });
  assert.equal((await timed.all()).length, 2, 'both ring neighbours answered before the deadline ended it');
  await settled();
  // Asked with a signal aborted already (its client gone): an ended stream, nothing sent or kept.
  const before = sent();
  const gone = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl: 8, signal: AbortSignal.abort() });
  assert.deepEqual(await gone.all(), []);
  assert.equal(sent(), before, 'nothing flooded');
  assert.equal((asker.router as unknown as { asks: Map<string, unknown> }).asks.size, 0, 'nothing kept');
  for (const x of nodes) x.router.close();
  assert.throws(() => asker.router.ask({ kind: 'find', selector: {}, db: '*' }), /stopped/);
  assert.throws(() => nodes[1]!.router.ask({ kind: 'find', selector: { $bogus: 1 }, db: '*' }), /closed|stopped/);
});

test('answers are signed by their answerers: a relay can drop one, not forge or alter it', async () => {
  const { nodes, byId, settled } = simMesh(6, 0, 5);
  const asker = nodes[0]!;
  // A ring: the asker's neighbours are nodes[1] and nodes[5]. nodes[1] turns hostile on the way back.
  const mallory = nodes[1]!;
  const honestSend = (mallory.router as unknown as { options: { send: (to: string, m: QueryMessage) => void } }).options.send;
  (mallory.router as unknown as { options: { send: (to: string, m: QueryMessage) => void } }).options.send = (to, m) => {
    if (m.type === 'result' && to === asker.id) {
      const tampered = JSON.parse(JSON.stringify(m)) as Extract<QueryMessage, { type: 'result' }>;
      if (tampered.result.peer !== mallory.id) tampered.result.docs = [{ _id: 'made-up' }];
      honestSend(to, tampered);
      // And an answer in the name of a node that never gave it.
      honestSend(to, { type: 'result', id: m.id, result: { peer: nodes[3]!.id, db: 'sim', docs: [{ _id: 'forged' }], sig: '00'.repeat(64) } });
      return;
    }
    honestSend(to, m);
  };
  const stream = asker.router.ask({ kind: 'find', selector: {}, db: '*' }, { ttl: 3, limit: 100, timeoutMs: 30_000 });
  await settled();
  stream.end();
  const results = await stream.all();
  const ids = results.flatMap((r) => r.docs!.map((d) => d._id));
  assert.ok(!ids.includes('made-up') && !ids.includes('forged'), `no forged answer got through: ${ids.join(',')}`);
  assert.ok(ids.includes(mallory.id), "mallory's own (signed) answer counts");
  assert.ok(results.every((r) => r.sig === undefined), 'the asker strips the signatures it checked');
  // Answers routed the other way round the ring are intact.
  assert.ok(ids.includes(nodes[5]!.id) && ids.includes(nodes[4]!.id));
  assert.ok(asker.router.stats.rejected >= 2);
  for (const x of nodes) x.router.close();
  void byId;
});
