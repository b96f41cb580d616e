// CouchDB's atts_since in the replicator: an edit that keeps its attachments goes without their
// bytes, as stubs the target resolves against the revision it already holds (its possible
// ancestor); a target that cannot resolve them (missing_stub) is sent the document again, whole.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttachmentBytes, type BulkGetResult, type Database, type Doc } from '../../src/core.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { startTestServer } from '../http/server.ts';
import { resettingProxy } from './helpers/resetting-proxy.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

const bytesOf = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 8)) & 255));
const inline = (bytes: Buffer) => ({ content_type: 'application/octet-stream', data: bytes.toString('base64') });

async function attachment(db: Database, id: string, name: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await db.getAttachment(id, name)).read) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function dbs(t: { after: (fn: () => Promise<void>) => void }, count: number): Promise<Database[]> {
  const made = await Promise.all(Array.from({ length: count }, () => freshDb('memory')));
  t.after(async () => {
    for (const m of made) await m.cleanup();
  });
  return made.map((m) => m.db);
}

/** Whether a bulkGet answer gave attachment `name` of some document as data (base64 or bytes). */
const gaveData = (results: BulkGetResult[], name: string) =>
  results.some((r) => r.results.some((item) => item.docs.some((e) => 'ok' in e && (e.ok._attachments as Record<string, { data?: unknown }> | undefined)?.[name]?.data !== undefined)));

test('an edit that keeps its attachments goes as stubs; one that changes an attachment sends that one only', async (t) => {
  const [a, b] = await dbs(t, 2);
  const big = bytesOf(300_000, 3);
  await a!.put({ _id: 'photo', title: 'one', _attachments: { 'p.jpg': inline(big), 'thumb.jpg': inline(bytesOf(2_000, 5)) } });
  assert.equal((await replicate(a!, b!).done).docsWritten, 1);

  const source = wrapPeer(new LocalPeer(a!));
  const answers: BulkGetResult[] = [];
  source.bulkGet = async (requests, options) => {
    const answer = await new LocalPeer(a!).bulkGet(requests, options);
    answers.push(answer);
    return answer;
  };
  await a!.put({ ...(await a!.get('photo')), title: 'two' });
  const edit = await replicate(source, b!).done;
  assert.deepEqual([edit.docsWritten, edit.docWriteFailures], [1, 0]);
  assert.ok(answers.length > 0 && !gaveData(answers, 'p.jpg') && !gaveData(answers, 'thumb.jpg'), 'neither attachment was read');
  assert.equal((await b!.get('photo')).title, 'two');
  assert.deepEqual(await attachment(b!, 'photo', 'p.jpg'), big, 'the target keeps the bytes it had');

  answers.length = 0;
  const current = await a!.get('photo');
  await a!.put({ ...current, _attachments: { ...(current._attachments as object), 'thumb.jpg': inline(bytesOf(2_500, 7)) } });
  assert.equal((await replicate(source, b!).done).docsWritten, 1);
  assert.ok(gaveData(answers, 'thumb.jpg'), 'the changed attachment was sent');
  assert.ok(!gaveData(answers, 'p.jpg'), 'the unchanged one was not');
  assert.deepEqual(await attachment(b!, 'photo', 'thumb.jpg'), bytesOf(2_500, 7));
  await assertSameTrees(a!, b!);
});

test('a target that cannot resolve the stubs (its revision lacks them) gets the document again, whole', async (t) => {
  const [a, b] = await dbs(t, 2);
  const big = bytesOf(50_000, 9);
  const first = await a!.put({ _id: 'doc', _attachments: { 'a.bin': inline(big) } });
  // The target holds the same revision id without the attachment (written as replicated).
  await b!.bulkDocs([{ _id: 'doc', _rev: first.rev, _revisions: { start: 1, ids: [first.rev.slice(2)] } }], { newEdits: false });
  await a!.put({ ...(await a!.get('doc')), edited: true });
  const out = await replicate(a!, b!).done;
  assert.deepEqual([out.docsWritten, out.docWriteFailures], [1, 0], JSON.stringify(out));
  assert.equal((await b!.get('doc')).edited, true);
  assert.deepEqual(await attachment(b!, 'doc', 'a.bin'), big, 'the attachment came after all');
});

test('over HTTP: an edit keeping a large attachment is neither read from a server nor written to one', async (t) => {
  const server = await startTestServer({ engine: 'leveldb' });
  t.after(() => server.close());
  const proxy = await resettingProxy(Number(new URL(server.url).port));
  t.after(() => proxy.close());
  const remote = `http://127.0.0.1:${proxy.port}`;
  const [local, pulled] = await dbs(t, 2);
  const big = bytesOf(1_300_000, 11);
  await local!.put({ _id: 'film', v: 1, _attachments: { 'f.bin': inline(big) } });

  // Push: the first time as multipart (its bytes), the edit in _bulk_docs with a stub.
  assert.equal((await replicate(local!, `${remote}/films`, { createTarget: true }).done).docsWritten, 1);
  assert.ok(proxy.requests.some((r) => r.method === 'PUT' && r.url.startsWith('/films/film')), 'the bytes went as multipart');
  await local!.put({ ...(await local!.get('film')), v: 2 });
  proxy.requests.length = 0;
  const push = await replicate(local!, `${remote}/films`).done;
  assert.deepEqual([push.docsWritten, push.docWriteFailures], [1, 0]);
  assert.ok(!proxy.requests.some((r) => r.method === 'PUT' && r.url.startsWith('/films/film')), 'no multipart PUT the second time');
  const served = await server.node.db('films');
  assert.equal((await served.get('film')).v, 2);
  assert.deepEqual(await attachment(served, 'film', 'f.bin'), big);

  // Pull: the first time the attachment is read (GET /films/film/f.bin), not after an edit.
  assert.equal((await replicate(`${remote}/films`, pulled!).done).docsWritten, 1);
  assert.ok(proxy.requests.some((r) => r.url.startsWith('/films/film/f.bin')), 'the bytes were read');
  await served.put({ ...(await served.get('film')), v: 3 });
  proxy.requests.length = 0;
  const pull = await replicate(`${remote}/films`, pulled!).done;
  assert.deepEqual([pull.docsWritten, pull.docWriteFailures], [1, 0]);
  assert.ok(!proxy.requests.some((r) => r.url.startsWith('/films/film/f.bin')), 'not read again');
  const bulkGets = proxy.requests.filter((r) => r.url.startsWith('/films/_bulk_get'));
  assert.ok(bulkGets.every((r) => r.answered < 100_000), `no _bulk_get carried the bytes: ${bulkGets.map((r) => r.answered).join(', ')}`);
  assert.equal((await pulled!.get('film')).v, 3);
  assert.deepEqual(await attachment(pulled!, 'film', 'f.bin'), big);
  const doc = (await pulled!.get('film', { attachments: true, attachmentBytes: true })) as Doc;
  assert.ok((doc._attachments as Record<string, { data: unknown }>)['f.bin']!.data instanceof AttachmentBytes);
});
