// The peer conformance suite on LocalPeer (an in-process Database), on both storage engines, and its `pending`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb, ENGINES } from '../helpers/db.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';
import { peerConformance } from './peer-conformance.ts';

for (const engine of ENGINES) {
  peerConformance(`LocalPeer (${engine})`, async () => {
    const { db, cleanup } = await freshDb(engine);
    return {
      peer: new LocalPeer(db),
      put: async (doc) => (await db.put(doc)).rev,
      cleanup,
    };
  });
}

test('a local source reports pending as the HTTP feed does, so push jobs show progress', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `p${i}` })));
  const peer = new LocalPeer(db);
  const first = await peer.changes({ since: 0, limit: 2, style: 'main_only' });
  assert.equal(first.results.length, 2);
  assert.equal(first.pending, 3);
  assert.equal((await peer.changes({ since: first.lastSeq, limit: 10, style: 'main_only' })).pending, 0);
});

test('a peer acting for a user stops the replication once the user may no longer use the database', { timeout: 20_000 }, async (t) => {
  const src = await freshDb('memory');
  const dst = await freshDb('memory');
  t.after(async () => {
    await src.cleanup();
    await dst.cleanup();
  });
  let allowed = true;
  let checks = 0;
  const asUser = async () => {
    checks++;
    if (!allowed) throw new RefugeError('forbidden', 'the grant was revoked');
    return { name: 'finn', roles: [] };
  };
  await src.db.put({ _id: 'before' });
  const rep = replicate(new LocalPeer(src.db, { asUser }), new LocalPeer(dst.db), { continuous: true });
  // Driven by the target's feed: `before` has arrived.
  const ac = new AbortController();
  for await (const batch of dst.db.subscribe({ signal: ac.signal, docIds: ['before'] })) if (batch.length > 0) break;
  ac.abort();
  assert.ok(checks > 0, 'every call looked the user up');
  allowed = false;
  await src.db.put({ _id: 'after' });
  await assert.rejects(rep.done, { code: 'forbidden' });
  await assert.rejects(dst.db.get('after'), { code: 'not_found' });
});
