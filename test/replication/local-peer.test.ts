// The peer conformance suite on LocalPeer (an in-process Database), on both storage engines, and its `pending`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb, ENGINES } from '../helpers/db.ts';
import { LocalPeer } from '../../src/replication/index.ts';
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
