// A JSON `_bulk_get` answer goes out as its items are read, from one snapshot: byte for byte the
// library's bulkGet, always chunked; with attachments inlined, one item at a time, so a batch of
// documents with large attachments is never held whole, and a client that leaves ends the read.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BulkGetRequest, Database } from '../../src/documents/index.ts';
import { pausedAfter } from '../helpers/paused-reader.ts';
import { until } from '../helpers/until.ts';
import { newReadWatch } from '../helpers/watched-engine.ts';
import { request, type TestServer } from './server.ts';
import { startWatchedServer } from './watched-server.ts';

const watch = newReadWatch();
let server: TestServer;
let db: Database;
let base: string;
const revs = new Map<string, string>();

before(async () => {
  ({ server, db, base } = await startWatchedServer(watch, 'bulkget'));
  const docs = Array.from({ length: 600 }, (_, i) => ({ _id: `n${String(i).padStart(4, '0')}`, n: i, pad: 'p'.repeat(100) }));
  for (const [i, r] of (await db.bulkDocs(docs)).entries()) revs.set(docs[i]!._id, (r as { rev: string }).rev);
  // Two revisions with an attachment each, and a conflict.
  const text = (s: string) => Buffer.from(s).toString('base64');
  const first = await db.put({ _id: 'att', _attachments: { 'a.txt': { content_type: 'text/plain', data: text('first') } } });
  revs.set('att1', first.rev);
  const second = await db.put({ _id: 'att', _rev: first.rev, _attachments: { 'a.txt': { stub: true }, 'b.txt': { content_type: 'text/plain', data: text('second') } } });
  revs.set('att', second.rev);
  await db.bulkDocs([{ _id: 'n0001', _rev: '2-ffffffffffffffffffffffffffffffff', _revisions: { start: 2, ids: ['ffffffffffffffffffffffffffffffff', revs.get('n0001')!.slice(2)] }, n: -1 }], { newEdits: false });
});
after(() => server.close());

const chunked = (res: { headers: Headers }) => res.headers.get('content-length') === null && res.headers.get('transfer-encoding') === 'chunked';

const many: BulkGetRequest[] = Array.from({ length: 600 }, (_, i) => ({ id: `n${String(i).padStart(4, '0')}` }));
const cases: Array<[string, string, BulkGetRequest[], { revs?: boolean; latest?: boolean; attachments?: boolean }]> = [
  ['a few items', '', [{ id: 'n0003' }, { id: 'n0001' }, { id: 'missing' }], {}],
  ['every item, with revs (past 64 KiB)', '?revs=true', many, { revs: true }],
  ['items of every kind', '?latest=true', [{ id: 'n0001', rev: '1-00000000000000000000000000000000' }, { id: 'n0002', rev: 'bad' }, { id: '_bad' } as BulkGetRequest, {} as BulkGetRequest, { id: 'n0005' }], { latest: true }],
  ['attachments inlined', '?attachments=true', [{ id: 'att' }, { id: 'n0004' }, { id: 'att' }], { attachments: true }],
  ['atts_since', '', [{ id: 'att', rev: '', atts_since: [''] } as unknown as BulkGetRequest, { id: 'n0007' }], {}],
];

for (const [name, query, docs, options] of cases) {
  test(`_bulk_get, ${name}: the library's answer, byte for byte, chunked`, async () => {
    const asked = name === 'atts_since' ? docs.map((d) => (d.id === 'att' ? { id: 'att', rev: revs.get('att')!, atts_since: [revs.get('att1')!] } : d)) : docs;
    const res = await request(`${base}/_bulk_get${query}`, { method: 'POST', body: { docs: asked } });
    assert.equal(res.status, 200, res.text);
    assert.ok(chunked(res), 'the answer is chunked, never sized');
    assert.equal(res.text, JSON.stringify(await db.bulkGet(asked, options)));
    assert.equal(watch.openSnapshots, 0);
  });
}

test('a request naming too many very long ids is refused before any item is read', async () => {
  const long = Array.from({ length: 65 }, (_, i) => ({ id: `${i}`.padEnd(17_000, 'x') }));
  const res = await request(`${base}/_bulk_get`, { method: 'POST', body: { docs: [{ id: 'n0001' }, ...long] } });
  assert.equal(res.status, 400, res.text);
  assert.equal(watch.openSnapshots, 0);
});

test('documents with large attachments go out one at a time, from one snapshot; a client that leaves ends the read', { timeout: 30_000 }, async () => {
  const mb = Buffer.alloc(1 << 20, 7).toString('base64');
  for (let i = 0; i < 30; i++) await db.put({ _id: `big${i}`, _attachments: { 'blob.bin': { content_type: 'application/octet-stream', data: mb } } });
  const docs = Array.from({ length: 30 }, (_, i) => ({ id: `big${i}` }));
  const socket = await pausedAfter(new URL(`${base}/_bulk_get?attachments=true`), 1_000_000, { Accept: 'application/json' }, { docs });
  // 40 MB of base64 asked for: the answer is being read, item by item, while the client waits.
  assert.equal(watch.openSnapshots, 1, 'the answer is being read from its snapshot');
  socket.destroy();
  await until(() => watch.openSnapshots === 0);
  const res = await request(`${base}/_bulk_get?attachments=true`, { method: 'POST', body: { docs: docs.slice(0, 3) } });
  assert.deepEqual(
    res.body.results.map((r: { docs: Array<{ ok: { _attachments: Record<string, { data: string }> } }> }) => r.docs[0]!.ok._attachments['blob.bin']!.data.length),
    [mb.length, mb.length, mb.length],
  );
});
