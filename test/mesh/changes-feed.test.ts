// `/refuge/changes-feed/1.0.0`: a pull reads on through one feed the source pushes (and the source
// makes no batch past the end), the source writes only as far ahead as the client's credit and
// checks the grant on every batch, bad credit is refused, and a peer without feeds is read batch by
// batch as before.

import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpStream } from '@libp2p/utils';
import { CHANGES_FEED_PROTOCOL, MeshPeer, ReplicationService, setGrant, type StreamOpener } from '../../src/mesh/index.ts';
import { addCredit } from '../../src/mesh/replication-protocol.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { LocalPeer, Replication } from '../../src/replication/index.ts';
import { serverAndReader, type PeerNode } from './helpers.ts';

const DOCS = 45;

async function pair(t: { after: (fn: () => Promise<void>) => void }): Promise<{ server: PeerNode; client: PeerNode; ops: string[] }> {
  const { server, client } = await serverAndReader(t, 'db', Array.from({ length: DOCS }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, i })));
  // The feed's batches are counted where they are made: each is one `changes` answer.
  const ops: string[] = [];
  const service = new ReplicationService({ node: server.node, trust: server.trust });
  const answer = service.answer.bind(service);
  service.answer = (peerId, request, signal) => (ops.push(String((request as { op?: unknown }).op)), answer(peerId, request, signal));
  await server.mesh.handle(CHANGES_FEED_PROTOCOL, service.feedHandler);
  await client.mesh.connect(server.mesh.invite());
  return { server, client, ops };
}

/** The client's mesh, recording the protocols of the streams it opens; `noFeeds` asks for a protocol no node speaks instead of feeds. */
function opener(client: PeerNode, noFeeds = false): StreamOpener & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    streamPool: client.mesh.streamPool,
    openStream: async (peerId, protocol, signal) => {
      const asked = noFeeds && protocol === CHANGES_FEED_PROTOCOL ? '/refuge/changes-feed/0.0.1-none' : protocol;
      opened.push(String(asked));
      return client.mesh.openStream(peerId, asked, signal);
    },
  };
}

async function pull(client: PeerNode, peer: MeshPeer, name: string) {
  const db = await client.node.createDb(name);
  const report = await new Replication(peer, new LocalPeer(db), { batchSize: 10 }).done;
  return { report, info: await db.info() };
}

test('a pull reads on through one feed the source pushes, and the source makes no batch past the end', async (t) => {
  const { server, client, ops } = await pair(t);
  const mesh = opener(client);
  const { report, info } = await pull(client, new MeshPeer(mesh, server.mesh.peerId, 'db'), 'copy');
  assert.equal(report.docsWritten, DOCS);
  assert.equal(info.docCount, DOCS);
  assert.deepEqual(mesh.opened.filter((p) => p === CHANGES_FEED_PROTOCOL), [CHANGES_FEED_PROTOCOL], 'one feed for the whole pull');
  // The first batch is asked by request (a single read opens no feed); the feed serves the four
  // after it, 10 + 10 + 10 + 5 rows, and stops at the short one although it had credit for more.
  assert.equal(ops.filter((op) => op === 'changes').length, 4);
});

test('a single read and a long-poll go by request, not through a feed', async (t) => {
  const { server, client } = await pair(t);
  const mesh = opener(client);
  const peer = new MeshPeer(mesh, server.mesh.peerId, 'db');
  const first = await peer.changes({ since: 0, limit: 10, style: 'all_docs' });
  assert.equal(first.results.length, 10);
  const later = await peer.changes({ since: (await peer.info()).updateSeq, limit: 10, style: 'all_docs', feed: 'longpoll', timeoutMs: 0 });
  assert.equal(later.results.length, 0);
  assert.ok(!mesh.opened.includes(CHANGES_FEED_PROTOCOL), mesh.opened.join(','));
  // Reading on from the first batch opens the feed.
  const second = await peer.changes({ since: first.lastSeq, limit: 10, style: 'all_docs' });
  assert.deepEqual(second.results.map((r) => r.id), Array.from({ length: 10 }, (_, i) => `d${10 + i}`));
  assert.ok(mesh.opened.includes(CHANGES_FEED_PROTOCOL));
});

test('the source writes only as far ahead as the credit allows, and checks the grant on every batch', async (t) => {
  const { server, client, ops } = await pair(t);
  const stream = await client.mesh.openStream(server.mesh.peerId, CHANGES_FEED_PROTOCOL);
  const lp = lpStream(stream);
  const read = async () => JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { ok?: boolean; result?: { results: unknown[] }; error?: string };
  await lp.write(new TextEncoder().encode(JSON.stringify({ db: 'db', since: 0, limit: 5, style: 'all_docs', credit: 1 })));
  const first = await read();
  assert.equal(first.ok, true);
  assert.equal(first.result!.results.length, 5);
  // A request answered on another stream after the first batch: the feed made nothing more meanwhile.
  assert.equal((await new MeshPeer(client.mesh, server.mesh.peerId, 'db').info()).docCount, DOCS);
  assert.equal(ops.filter((op) => op === 'changes').length, 1, 'no batch without credit');

  await server.trust.update((s) => setGrant(s, 'db', 'read', `peer:${client.mesh.peerId}`, false));
  await lp.write(new TextEncoder().encode(JSON.stringify({ credit: 1 })));
  const refused = await read();
  assert.equal(refused.error, 'forbidden');
  await assert.rejects(lp.read(), 'the source ended the feed');
});

test('credit that is not a small whole number is refused, and the feed ends', async (t) => {
  const { server, client, ops } = await pair(t);
  for (const credit of [0, -1, 17, 1.5, '2', undefined]) {
    const stream = await client.mesh.openStream(server.mesh.peerId, CHANGES_FEED_PROTOCOL);
    const lp = lpStream(stream);
    await lp.write(new TextEncoder().encode(JSON.stringify({ db: 'db', since: 0, limit: 5, style: 'all_docs', credit })));
    const answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { error?: string };
    assert.equal(answer.error, 'bad_request', `credit ${JSON.stringify(credit)}`);
    await assert.rejects(lp.read());
  }
  assert.deepEqual(ops, [], 'no batch was made');
});

test('a peer without feeds is read batch by batch, and the pull completes', async (t) => {
  const { server, client, ops } = await pair(t);
  const mesh = opener(client, true);
  const { report, info } = await pull(client, new MeshPeer(mesh, server.mesh.peerId, 'db'), 'copy');
  assert.equal(report.docsWritten, DOCS);
  assert.equal(info.docCount, DOCS);
  assert.equal(mesh.opened.filter((p) => p.startsWith('/refuge/changes-feed/')).length, 1, 'asked once, then never again');
  assert.deepEqual(ops, []);
});

test('a pull cancelled while its feed is open closes the feed on the source too', { timeout: 20_000 }, async (t) => {
  const { server, client } = await pair(t);
  // The source's feed handler, watched: it returns once the stream is gone.
  const service = new ReplicationService({ node: server.node, trust: server.trust });
  let ended!: () => void;
  const feedEnded = new Promise<void>((resolve) => (ended = resolve));
  await server.mesh.handle(CHANGES_FEED_PROTOCOL, async (stream, connection) => {
    await service.feedHandler(stream, connection);
    ended();
  });
  const db = await client.node.createDb('copy');
  const rep = new Replication(new MeshPeer(client.mesh, server.mesh.peerId, 'db'), new LocalPeer(db), { batchSize: 5 });
  let batches = 0;
  rep.on('change', () => {
    // Cancelled mid-way: past the first batch (by request), so the feed is open.
    if (++batches === 3) rep.cancel();
  });
  await rep.done.catch(() => undefined);
  assert.ok((await db.info()).docCount < DOCS, 'cancelled before the end');
  await feedEnded;
});

test('grants past the cap, and a bad grant, are answered bad_request and end the feed', { timeout: 20_000 }, async (t) => {
  const { server, client } = await pair(t);
  const open = async (first: Record<string, unknown>) => {
    const lp = lpStream(await client.mesh.openStream(server.mesh.peerId, CHANGES_FEED_PROTOCOL));
    await lp.write(new TextEncoder().encode(JSON.stringify(first)));
    return lp;
  };
  const frames = async (lp: Awaited<ReturnType<typeof open>>) => {
    const got: Array<{ ok?: boolean; error?: string }> = [];
    for (;;) {
      try {
        got.push(JSON.parse(new TextDecoder().decode((await lp.read()).subarray())));
      } catch {
        return got;
      }
    }
  };
  // 16 granted, then 17 more: past the cap of 16 however many batches went out meanwhile (a grant
  // of 16 would be within it once all 16 were sent, and the server may send them before it reads).
  const greedy = await open({ db: 'db', since: 0, limit: 1, style: 'all_docs', credit: 16 });
  await greedy.write(new TextEncoder().encode(JSON.stringify({ credit: 17 })));
  const got = await frames(greedy);
  assert.equal(got.at(-1)?.error, 'bad_request');
  assert.ok(got.filter((f) => f.ok).length <= 16, `${got.length - 1} batches`);
  // A grant that is not a small whole number, after the first batch.
  const bad = await open({ db: 'db', since: 0, limit: 1, style: 'all_docs', credit: 1 });
  assert.equal(JSON.parse(new TextDecoder().decode((await bad.read()).subarray())).ok, true);
  await bad.write(new TextEncoder().encode(JSON.stringify({ credit: -1 })));
  assert.deepEqual((await frames(bad)).map((f) => f.error), ['bad_request']);
});

test('credit adds up to at most 16 batches ahead, in whole batches', () => {
  assert.equal(addCredit(16, 0), 16);
  assert.equal(addCredit(1, 15), 16);
  assert.equal(addCredit(3, 4), 7);
  for (const [value, held] of [[1, 16], [16, 1], [17, 0], [0, 0], [-1, 0], [1.5, 0], ['2', 0], [null, 0], [2 ** 53, 0]] as const) {
    assert.throws(() => addCredit(value, held), (err: unknown) => isRefugeError(err, 'bad_request'), `${String(value)} on ${held}`);
  }
});

test('a client that stops reading does not hold the source: the write gives up after the idle time', { timeout: 20_000 }, async (t) => {
  const { server, client } = await pair(t);
  const db = await server.node.db('db');
  await db.bulkDocs(Array.from({ length: 6 }, (_, i) => ({ _id: `big${i}`, text: 'x'.repeat(200_000) })));
  const service = new ReplicationService({ node: server.node, trust: server.trust, idleMs: 300 });
  let ended!: () => void;
  const handlerEnded = new Promise<void>((resolve) => (ended = resolve));
  await server.mesh.handle(CHANGES_FEED_PROTOCOL, async (stream, connection) => {
    await service.feedHandler(stream, connection);
    ended();
  });
  const stream = await client.mesh.openStream(server.mesh.peerId, CHANGES_FEED_PROTOCOL);
  await lpStream(stream).write(new TextEncoder().encode(JSON.stringify({ db: 'db', since: DOCS, limit: 6, style: 'all_docs', includeDocs: true, credit: 1 })));
  // Nothing more is taken in: the 1.2 MB batch fills the window and the source's write waits.
  stream.pause();
  await handlerEnded;
  stream.abort(new Error('done'));
});

test('one replication opening many feeds leaves no listener on its signal', async (t) => {
  const { server, client } = await pair(t);
  const peer = new MeshPeer(client.mesh, server.mesh.peerId, 'db');
  const ac = new AbortController();
  for (let round = 0; round < 5; round++) {
    let since: string | number = 0;
    for (;;) {
      const batch = await peer.changes({ since, limit: 10, style: 'all_docs', signal: ac.signal });
      since = batch.lastSeq as string | number;
      if (batch.results.length < 10) break;
    }
  }
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});
