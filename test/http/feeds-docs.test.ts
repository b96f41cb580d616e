// Live `_changes` feeds with documents: spliced from storage as the normal feed's are, they give
// the same rows (conflicts, attachments, all_docs leaves, deletions), by continuous and eventsource.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

let server: TestServer;
let base: string;

before(async () => {
  server = await startTestServer();
  base = `${server.url}/docs`;
  assert.equal((await request(base, { method: 'PUT' })).status, 201);
  const put = async (id: string, body: unknown) => {
    const r = await request(`${base}/${id}`, { method: 'PUT', body });
    assert.equal(r.status, 201, `PUT ${id}`);
    return r.body.rev as string;
  };
  await put('plain', { n: 1, nested: { a: [1, 'x'] } });
  await put('att', { _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } });
  const rev = await put('conf', { side: 'one' });
  const other = { _id: 'conf', _rev: '1-' + 'f'.repeat(32), side: 'two' };
  assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs: [other], new_edits: false } })).status, 201);
  const gone = await put('gone', { x: 1 });
  assert.equal((await request(`${base}/gone?rev=${gone}`, { method: 'DELETE' })).status, 200);
  assert.ok(rev.startsWith('1-'), 'conf written');
});
after(() => server.close());

for (const query of ['include_docs=true', 'include_docs=true&conflicts=true', 'include_docs=true&attachments=true', 'include_docs=true&style=all_docs']) {
  test(`live feeds with ${query} give the normal feed's rows`, async () => {
    const normal = await request(`${base}/_changes?${query}`);
    assert.equal(normal.status, 200);
    const want = normal.body.results;
    assert.equal(want.length, 4, 'four documents');
    const continuous = await request(`${base}/_changes?feed=continuous&${query}&timeout=50`);
    const rows = continuous.text.split('\n').filter((l: string) => l !== '').map((l: string) => JSON.parse(l));
    assert.deepEqual(rows.slice(0, -1), want, 'continuous');
    const sse = await request(`${base}/_changes?feed=eventsource&${query}&timeout=50`);
    const events = sse.text.split('\n').filter((l: string) => l.startsWith('data: ')).map((l: string) => JSON.parse(l.slice(6)));
    assert.deepEqual(events.filter((e: { id?: string }) => e.id !== undefined), want, 'eventsource');
  });
}
