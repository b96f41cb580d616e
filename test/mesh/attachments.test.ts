// Attachments on the mesh: on pulls bulkGet answers carry stubs, the blob crosses once over the blob
// protocol (verified) and lands under the same id; a second document with the same bytes moves none;
// pushes send the blob once before the documents that name it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectBytes, type BlobId } from '../../src/blobs/core.ts';
import { encodeBase64 } from '../../src/documents/attachments.ts';
import { replicate } from '../../src/replication/index.ts';
import { AutoSync, REPLICATION_PROTOCOL_MANY, ReplicationService, addPeer, setGrant } from '../../src/mesh/index.ts';
import { nextEvent, sharing, startPeerNode } from './helpers.ts';

const share = (peer: string) => sharing(peer, 'notes');

test('a pulled document brings its 1 MiB attachment once, by blob, verified and under the same id', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await syncB.stop();
    await Promise.all([a.close(), b.close()]);
  });
  await a.trust.update(share(b.mesh.peerId));
  await b.trust.update(share(a.mesh.peerId));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  const bytes = new Uint8Array(1024 * 1024).map((_, i) => (i * 7919) % 251);
  const attachment = { 'photo.bin': { content_type: 'application/octet-stream', data: encodeBase64(bytes) } };
  await na.put({ _id: 'first', _attachments: attachment });
  const digest = ((await na.get('first'))._attachments as Record<string, { digest: BlobId }>)['photo.bin']!.digest;

  // Every blob that crosses is counted where B fetches it (want calls fetch for what B lacks).
  const fetched: BlobId[] = [];
  const fetch = b.mesh.blobs.fetch.bind(b.mesh.blobs);
  b.mesh.blobs.fetch = (peerId, id, options) => (fetched.push(id), fetch(peerId, id, options));

  const first = nextEvent(syncB, 'paused', (e) => e.error === undefined && e.progress.docsWritten === 1);
  await b.mesh.connect(a.mesh.invite());
  await first;
  assert.deepEqual(fetched, [digest]);
  assert.equal((await b.node.blobs.verify(digest)).status, 'ok');
  const got = await nb.getAttachment('first', 'photo.bin');
  assert.equal(got.stub.digest, digest, 'the same blob id on both nodes');
  assert.deepEqual(await collectBytes(got.read), bytes);

  // The same bytes attached to another document: its pull moves the document, not the blob.
  const second = nextEvent(syncB, 'paused', (e) => e.error === undefined && e.progress.docsWritten === 2);
  await na.put({ _id: 'second', _attachments: attachment });
  await second;
  assert.deepEqual(fetched, [digest], 'no second transfer');
  assert.deepEqual(await collectBytes((await nb.getAttachment('second', 'photo.bin')).read), bytes);

  // What went over the replication stream: stubs, no data (asked for by a stub-aware puller).
  const service = new ReplicationService({ node: a.node, trust: a.trust });
  const answer = (await service.answer(b.mesh.peerId, { op: 'bulkGet', db: 'notes', docs: [{ id: 'second' }], attachments: 'stubs' })) as {
    results: Array<{ docs: Array<{ ok: { _attachments: Record<string, Record<string, unknown>> } }> }>;
  };
  const stub = answer.results[0]!.docs[0]!.ok._attachments['photo.bin']!;
  assert.equal(stub.stub, true);
  assert.equal(stub.data, undefined);
  assert.ok(JSON.stringify(answer).length < 2000, 'the answer carries no attachment bytes');
});

test('a stranger reading public data, refused blobs, gets the attachments inline instead', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  await a.trust.update((s) => setGrant(s, 'notes', 'read', 'public', true));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  const bytes = new TextEncoder().encode('public attachment');
  await na.put({ _id: 'open', _attachments: { 'a.txt': { content_type: 'text/plain', data: encodeBase64(bytes) } } });
  await b.mesh.connect(a.mesh.invite());
  const report = await replicate(b.mesh.peer(a.mesh.peerId, 'notes'), nb).done;
  assert.equal(report.docsWritten, 1);
  assert.deepEqual(await collectBytes((await nb.getAttachment('open', 'a.txt')).read), bytes);
});

test('a push sends each attachment once, by blob, before the documents that name it', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  // b lets a write its notes (and trusts it); a pushes.
  await b.trust.update(share(a.mesh.peerId));
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId }));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 31) % 253);
  const attachment = { 'scan.bin': { content_type: 'application/octet-stream', data: encodeBase64(bytes) } };
  await na.put({ _id: 'one', _attachments: attachment });
  await na.put({ _id: 'two', _attachments: attachment });
  const digest = ((await na.get('one'))._attachments as Record<string, { digest: BlobId }>)['scan.bin']!.digest;

  const sent: BlobId[] = [];
  const send = a.mesh.blobs.send.bind(a.mesh.blobs);
  a.mesh.blobs.send = (peerId, id, options) => (sent.push(id), send(peerId, id, options));
  const requests: Array<{ op: string; attachments?: unknown; bytes: number }> = [];
  const service = new ReplicationService({ node: b.node, trust: b.trust });
  const answer = service.answer.bind(service);
  service.answer = (peerId, request, signal) => {
    const r = request as { op: string; attachments?: unknown };
    requests.push({ op: r.op, attachments: r.attachments, bytes: JSON.stringify(request).length });
    return answer(peerId, request, signal);
  };
  await b.mesh.handle(REPLICATION_PROTOCOL_MANY, service.manyHandler);
  await b.mesh.connect(a.mesh.invite());

  const report = await replicate(na, a.mesh.peer(b.mesh.peerId, 'notes')).done;
  assert.equal(report.docsWritten, 2);
  assert.deepEqual(sent, [digest], 'the blob crossed once, for both documents');
  const push = requests.find((r) => r.op === 'bulkDocs')!;
  assert.equal(push.attachments, 'blobs');
  assert.ok(push.bytes < 4000, `the documents carried no attachment bytes (${push.bytes} bytes)`);
  for (const id of ['one', 'two']) {
    const got = await nb.getAttachment(id, 'scan.bin');
    assert.equal(got.stub.digest, digest);
    assert.deepEqual(await collectBytes(got.read), bytes);
  }
});

test('a write-only peer takes pushed blobs; a stranger\'s push is refused whole', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const c = await startPeerNode();
  t.after(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
  });
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes'), c.node.createDb('notes')]);
  const bytes = new TextEncoder().encode('pushed by blob');
  await na.put({ _id: 'x', _attachments: { 'a.txt': { content_type: 'text/plain', data: encodeBase64(bytes) } } });
  // b lets a write its notes, not read them: a may still ask which blobs b lacks and send them.
  await b.trust.update((s) => setGrant(addPeer(s, { id: a.mesh.peerId }), 'notes', 'write', `peer:${a.mesh.peerId}`, true));
  const sent: BlobId[] = [];
  const send = a.mesh.blobs.send.bind(a.mesh.blobs);
  a.mesh.blobs.send = (peerId, id, options) => (sent.push(id), send(peerId, id, options));
  await a.mesh.connect(b.mesh.invite());
  const report = await replicate(na, a.mesh.peer(b.mesh.peerId, 'notes'), { retry: false }).done;
  assert.equal(report.docsWritten, 1);
  assert.equal(sent.length, 1);
  assert.deepEqual(await collectBytes((await nb.getAttachment('x', 'a.txt')).read), bytes);
  // ...but it may not read them back.
  await assert.rejects(a.mesh.blobs.fetch(b.mesh.peerId, sent[0]!), { code: 'forbidden' });

  // c trusts nobody: the push is refused before any document or blob is stored.
  await a.mesh.connect(c.mesh.invite());
  await assert.rejects(replicate(na, a.mesh.peer(c.mesh.peerId, 'notes'), { retry: false }).done, { code: 'forbidden' });
  await assert.rejects(a.mesh.blobs.send(c.mesh.peerId, sent[0]!), { code: 'forbidden' });
  assert.equal((await c.node.blobs.stat([sent[0]!]))[0], null);
});
