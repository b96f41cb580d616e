// The peer conformance suite on LocalPeer (an in-process Database), on both storage engines, and its `pending`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb, ENGINES } from '../helpers/db.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';
import { peerConformance } from './peer-conformance.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import { newReadWatch, watchedEngine } from '../helpers/watched-engine.ts';

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

test('a local source answers changes a chunk at a time: the same rows, end and pending as the whole answer, one snapshot, closed when the reader stops', async (t) => {
  const watch = newReadWatch();
  watch.chunk = 7;
  const { db, cleanup } = await freshDb('memory', { engine: watchedEngine(memoryEngine, watch) });
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `c${String(i).padStart(2, '0')}`, n: i })));
  await db.bulkDocs([{ _id: 'att', _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } }]);
  const peer = new LocalPeer(db);
  const request = { since: 3, limit: 30, style: 'all_docs' as const, includeDocs: true, docText: true };
  const whole = await peer.changes(request);
  const chunks = peer.changesChunks(request);
  const rows = [];
  let sizes = 0;
  let next;
  while (!(next = await chunks.next()).done) {
    sizes++;
    rows.push(...next.value);
  }
  assert.ok(sizes > 1, `rows came in more than one chunk (${sizes})`);
  assert.deepEqual(rows, whole.results, 'the chunks hold the rows of the whole answer');
  assert.deepEqual(next.value, { lastSeq: whole.lastSeq, pending: whole.pending }, 'and end where it ends');
  assert.equal(whole.pending, 41 - 3 - 30, 'pending counts what the limit left');
  // The document with an attachment comes without it, as it did (its size says what to fetch).
  const rest = await peer.changes({ ...request, since: whole.lastSeq });
  const att = rest.results.find((r) => r.id === 'att');
  assert.ok(att && att.doc === undefined && att.docJson === undefined && att.attachmentBytes === 5, `the attachment's document is left for bulkGet: ${JSON.stringify(att)}`);
  // A reader that stops after its first chunk releases the snapshot.
  const stopped = peer.changesChunks(request);
  assert.equal((await stopped.next()).done, false);
  assert.equal(watch.openSnapshots, 1, 'the read holds one snapshot');
  await stopped.return(undefined as never);
  assert.equal(watch.openSnapshots, 0, 'returned early, it closed it');
  assert.equal(watch.openScans, 0, 'and its scans');
});
