// Whatever a peer sends on Refuge's mesh protocols (random requests in the right shape, any JSON at
// all, bytes that are not JSON, frames longer than allowed), the node answers with a 4xx-style error
// or closes the stream, never `internal`, and goes on serving. Random, with fixed seeds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lpStream } from '@libp2p/utils';
import { isRefugeError } from '../../src/errors/index.ts';
import { addPeer, meshRequest, setGrant } from '../../src/mesh/index.ts';
import { BLOB_PROTOCOL } from '../../src/mesh/blob-wire.ts';
import { HUB_PROTOCOL } from '../../src/mesh/hub-protocol.ts';
import { QUERY_PROTOCOL } from '../../src/mesh/query-protocol.ts';
import { REFS_PROTOCOL } from '../../src/mesh/ref-exchange.ts';
import { CHANGES_FEED_PROTOCOL, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY } from '../../src/mesh/replication-protocol.ts';
import { startPeerNode, type PeerNode } from './helpers.ts';

const REV = '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const BLOB = `sha256-${'a'.repeat(64)}`;

const PROTOCOLS = [
  { id: REPLICATION_PROTOCOL, ops: ['dbs', 'info', 'changes', 'revsDiff', 'bulkGet', 'bulkDocs', 'getLocal', 'putLocal'] },
  { id: REPLICATION_PROTOCOL_MANY, ops: ['info', 'changes', 'revsDiff', 'bulkGet', 'bulkDocs'] },
  { id: CHANGES_FEED_PROTOCOL, ops: ['changes'] },
  { id: BLOB_PROTOCOL, ops: ['have', 'get', 'put', 'staged'] },
  { id: REFS_PROTOCOL, ops: ['list', 'history', 'get'] },
  { id: HUB_PROTOCOL, ops: ['register', 'lookup'] },
] as const;

/** Values a field may take: the plausible ones (names, revs, ids) and anything at all. */
const field = fc.oneof(
  fc.constantFrom('pub', 'shared', 'secret', 'nope', '_users', '', '_local/x', `_local/${'0'.repeat(32)}`, REV, BLOB, 'all'),
  fc.integer({ min: -3, max: 3 }),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(REV, BLOB, 'hello')), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('hello', 'x', '_id', '$gt'), fc.oneof(fc.anything({ maxDepth: 2 }), fc.constant([REV])), { maxKeys: 2 }),
  fc.anything({ maxDepth: 3 }),
);
const KEYS = ['db', 'id', 'peerId', 'addrs', 'ids', 'docs', 'revs', 'since', 'limit', 'selector', 'includeDocs', 'style', 'docIds', 'doc', 'newEdits', 'name', 'size', 'offset', 'descending', 'credit'] as const;

/** A request: a known op with random fields (most of the time), or any JSON value. */
const requestFor = (ops: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...ops), fc.dictionary(fc.constantFrom(...KEYS), field, { maxKeys: 4 })).map(([op, rest]) => ({ ...rest, op })) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
  );

async function nodes(t: { after: (fn: () => Promise<void>) => void }): Promise<[PeerNode, PeerNode]> {
  // a is a hub too, so the hub protocol is there to be sent garbage.
  const a = await startPeerNode({ hub: true });
  const b = await startPeerNode();
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await (await a.node.createDb('pub')).put({ _id: 'hello', v: 1 });
  await (await a.node.createDb('shared')).put({ _id: 'hello', v: 2 });
  await (await a.node.createDb('secret')).put({ _id: 'hello', v: 3 });
  // b is trusted, reads pub (public) and reads and writes shared; secret is a's alone.
  await a.trust.update((s) => {
    let next = setGrant(addPeer(s, { id: b.mesh.peerId, groups: ['team'] }), 'pub', 'read', 'public', true);
    for (const access of ['read', 'write'] as const) next = setGrant(next, 'shared', access, 'group:team', true);
    return next;
  });
  await b.mesh.connect(a.mesh.invite());
  return [a, b];
}

/** The node still serves: a's secret database untouched, and an ordinary request answered. */
async function stillServing(a: PeerNode, b: PeerNode): Promise<void> {
  assert.deepEqual(await (await a.node.db('secret')).get('hello').then((d) => d.v), 3);
  const info = (await meshRequest(b.mesh, a.mesh.peerId, { op: 'info', db: 'pub' }, { timeoutMs: 10_000 })) as { docCount: number };
  assert.equal(info.docCount, 1);
}

test('random requests on every mesh protocol get an error of the asker (never internal) and change nothing they may not', async (t) => {
  const [a, b] = await nodes(t);
  let refused = 0;
  for (const [i, protocol] of PROTOCOLS.entries()) {
    await fc.assert(
      fc.asyncProperty(requestFor(protocol.ops), async (request) => {
        try {
          await meshRequest(b.mesh, a.mesh.peerId, request as Record<string, unknown>, {
            timeoutMs: 10_000,
            ...(protocol.id === REPLICATION_PROTOCOL_MANY ? {} : { protocol: protocol.id }),
          });
        } catch (err) {
          assert.ok(isRefugeError(err), `${protocol.id} ${JSON.stringify(request)}: not a RefugeError: ${String(err)}`);
          assert.notEqual(err.code, 'internal', `${protocol.id} ${JSON.stringify(request)}: ${err.reason}`);
          refused++;
        }
      }),
      { seed: 1000 + i, numRuns: 120 },
    );
  }
  assert.ok(refused > 200, `most random requests are refused (${refused})`);
  await stillServing(a, b);
});

test('bytes that are not a JSON request, and a frame longer than allowed, end the stream and nothing else', async (t) => {
  const [a, b] = await nodes(t);
  const garbage = [
    new TextEncoder().encode('{"op":'),
    new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
    new TextEncoder().encode('null'),
    new TextEncoder().encode('[1,2,3]'),
  ];
  for (const protocol of [...PROTOCOLS.map((p) => p.id), QUERY_PROTOCOL]) {
    for (const bytes of garbage) {
      const stream = await b.mesh.openStream(a.mesh.peerId, protocol);
      const lp = lpStream(stream);
      await lp.write(bytes);
      // Either an error answer or the end of the stream (the query protocol answers nothing to
      // garbage: it drops the message).
      const answer = await lp.read({ signal: AbortSignal.timeout(10_000) }).then(
        (frame) => JSON.parse(new TextDecoder().decode(frame.subarray())) as { error?: string },
        () => undefined,
      );
      if (answer !== undefined) assert.ok(answer.error !== undefined && answer.error !== 'internal', `${protocol}: ${JSON.stringify(answer)}`);
      await stream.close().catch(() => undefined);
    }
    // A length prefix announcing 4 GiB: refused from the prefix, never buffered.
    const stream = await b.mesh.openStream(a.mesh.peerId, protocol);
    stream.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    await lpStream(stream).read({ signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    await stream.close().catch(() => undefined);
  }
  await stillServing(a, b);
});
