// The client side of the replication protocol against a peer that answers wrongly: a revs_diff
// answer of the wrong shape is refused as `bad_gateway` before the replicator reads it, and a push
// to that peer stops with the error and sends no document.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replicate } from '../../src/replication/index.ts';
import { REPLICATION_PROTOCOL_MANY, ReplicationService, addPeer } from '../../src/mesh/index.ts';
import { sharing, startPeerNode } from './helpers.ts';

const MALFORMED: unknown[] = [null, 7, 'missing', [], { d1: null }, { d1: 'x' }, { d1: { missing: 'x' } }, { d1: { missing: null } }];

test('a revs_diff answer of the wrong shape is bad_gateway, and a push to that peer sends nothing', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  await b.trust.update(sharing(a.mesh.peerId, 'notes'));
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId }));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  await na.bulkDocs([{ _id: 'd1', n: 1 }, { _id: 'd2', n: 2 }]);

  // b's node turns hostile for revs_diff only; every other request is answered as usual.
  let answer: unknown = null;
  const service = new ReplicationService({ node: b.node, trust: b.trust });
  const real = service.answer.bind(service);
  service.answer = async (peerId, request, signal) => ((request as { op?: string }).op === 'revsDiff' ? answer : real(peerId, request, signal));
  await b.mesh.handle(REPLICATION_PROTOCOL_MANY, service.manyHandler);
  await a.mesh.connect(b.mesh.invite());

  const peer = a.mesh.peer(b.mesh.peerId, 'notes');
  for (const bad of MALFORMED) {
    answer = bad;
    await assert.rejects(peer.revsDiff(new Map([['d1', ['1-abc']]])), { code: 'bad_gateway' }, JSON.stringify(bad));
  }
  answer = { d1: { missing: ['1-abc'] } };
  assert.deepEqual(await peer.revsDiff(new Map([['d1', ['1-abc']]])), new Map([['d1', { missing: ['1-abc'] }]]), 'a well-formed answer passes');

  answer = { d1: { missing: 'all' } };
  await assert.rejects(replicate(na, peer, { retry: false }).done, { code: 'bad_gateway' });
  assert.equal((await nb.info()).docCount, 0, 'no document was sent');
});
