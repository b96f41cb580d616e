// Grants enforced over the mesh: an untrusted peer reads a public database and nothing else and
// writes nothing; a trusted reader keeps its own checkpoints only; a writer pushes; revocation is immediate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { addPeer, meshRequest, removePeer, setGrant } from '../../src/mesh/index.ts';
import { replicate } from '../../src/replication/index.ts';
import { startPeerNode, type PeerNode } from './helpers.ts';

const REV = '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const CHECKPOINT = '_local/0123456789abcdef0123456789abcdef';
const code = (c: string) => (err: unknown) => isRefugeError(err) && err.code === c;

async function owner(): Promise<PeerNode> {
  const a = await startPeerNode();
  const pub = await a.node.createDb('pub');
  const secret = await a.node.createDb('secret');
  await pub.put({ _id: 'hello', text: 'anyone may read this' });
  await secret.put({ _id: 'diary', text: 'nobody else' });
  await a.trust.update((s) => setGrant(s, 'pub', 'read', 'public', true));
  return a;
}

test('an untrusted peer reads the public database and nothing else, and cannot write anything', async (t) => {
  const a = await owner();
  const stranger = await startPeerNode();
  t.after(async () => {
    await stranger.close();
    await a.close();
  });
  await stranger.mesh.connect(a.mesh.invite());
  const to = a.mesh.peerId;
  assert.deepEqual(await stranger.mesh.sharedDbs(to), [{ db: 'pub', read: true, write: false }]);

  // Reading the public database works, by replication too (checkpoints then stay on the reader's side).
  const copy = await stranger.node.createDb('pub');
  const report = await replicate(stranger.mesh.peer(to, 'pub'), copy).done;
  assert.equal(report.docsWritten, 1);
  assert.equal((await copy.get('hello')).text, 'anyone may read this');
  const pub = stranger.mesh.peer(to, 'pub');
  await assert.rejects(pub.bulkDocs([{ _id: 'spam', _rev: REV }], { newEdits: false }), code('forbidden'));
  await assert.rejects(pub.putLocal({ _id: CHECKPOINT, seq: 1 }), code('forbidden'));
  await assert.rejects(pub.putLocal({ _id: '_local/anything' }), code('forbidden'));

  // The private database, and one that does not exist, look the same: forbidden for every operation.
  for (const db of ['secret', 'nope']) {
    const p = stranger.mesh.peer(to, db);
    await assert.rejects(p.info(), code('forbidden'));
    await assert.rejects(p.changes({ since: 0, limit: 10, style: 'all_docs' }), code('forbidden'));
    await assert.rejects(p.revsDiff(new Map([['diary', [REV]]])), code('forbidden'));
    await assert.rejects(p.bulkGet([{ id: 'diary' }], { revs: true, latest: true }), code('forbidden'));
    await assert.rejects(p.bulkDocs([{ _id: 'x', _rev: REV }], { newEdits: false }), code('forbidden'));
    await assert.rejects(p.getLocal(CHECKPOINT), code('forbidden'));
    await assert.rejects(p.putLocal({ _id: CHECKPOINT }), code('forbidden'));
  }
  const stolen = await stranger.node.createDb('secret');
  await assert.rejects(replicate(stranger.mesh.peer(to, 'secret'), stolen, { retry: false }).done, code('forbidden'));
  assert.equal((await (await a.node.db('pub')).info()).docCount, 1, 'nothing was written');
});

test('malformed requests get bad_request and change nothing', async (t) => {
  const a = await owner();
  const b = await startPeerNode();
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await b.mesh.connect(a.mesh.invite());
  const ask = (req: Record<string, unknown>) => meshRequest(b.mesh, a.mesh.peerId, req as never, { timeoutMs: 10_000 });
  await assert.rejects(ask({ op: 'drop' }), code('bad_request'));
  await assert.rejects(ask({ op: 'info' }), code('bad_request'));
  await assert.rejects(ask({ op: 'changes', db: 'pub', limit: -1 }), code('bad_request'));
  await assert.rejects(ask({ op: 'changes', db: 'pub', since: 'x' }), code('bad_request'));
  await assert.rejects(ask({ op: 'changes', db: 'pub', includeDocs: 'yes' }), code('bad_request'));
  await assert.rejects(ask({ op: 'bulkGet', db: 'pub', docs: 'all' }), code('bad_request'));
  await assert.rejects(ask({ op: 'getLocal', db: 'pub', id: 'not-local' }), code('bad_request'));
  await assert.rejects(ask({ op: 'revsDiff', db: 'pub', revs: { hello: 'nope' } }), code('bad_request'));
  await assert.rejects(ask({ op: 'revsDiff', db: 'pub', revs: [] }), code('bad_request'));
  await assert.rejects(ask({ op: 'changes', db: 'pub', selector: { $bogus: 1 } }), (err) => isRefugeError(err) && err.status === 400);
  // A stranger's frames are capped well below a trusted writer's: no large buffers for strangers.
  const huge = { op: 'revsDiff', db: 'pub', revs: { x: ['1-' + 'a'.repeat(5 * 1024 * 1024)] } };
  await assert.rejects(ask(huge), (err) => isRefugeError(err) && (err.code === 'too_large' || err.code === 'unavailable'));
  assert.deepEqual(await ask({ op: 'info', db: 'pub' }).then((i) => (i as { docCount: number }).docCount), 1);
});

test('a trusted reader pulls and keeps only checkpoint documents in its own _local space', async (t) => {
  const a = await owner();
  const reader = await startPeerNode();
  const other = await startPeerNode();
  t.after(async () => {
    await other.close();
    await reader.close();
    await a.close();
  });
  const r = reader.mesh.peerId;
  const o = other.mesh.peerId;
  await a.trust.update((s) => setGrant(addPeer(addPeer(s, { id: r, groups: ['family'] }), { id: o, groups: ['family'] }), 'secret', 'read', 'group:family', true));
  await reader.mesh.connect(a.mesh.invite());
  await other.mesh.connect(a.mesh.invite());

  const copy = await reader.node.createDb('secret');
  const first = await replicate(reader.mesh.peer(a.mesh.peerId, 'secret'), copy).done;
  assert.equal(first.docsWritten, 1);
  const checkpoint = `_local/${first.replicationId}`;
  assert.equal((await reader.mesh.peer(a.mesh.peerId, 'secret').getLocal(checkpoint))?.session_id, first.sessionId, 'the source kept the checkpoint');
  assert.equal(await other.mesh.peer(a.mesh.peerId, 'secret').getLocal(checkpoint), undefined, 'another peer does not see it');
  const again = await replicate(reader.mesh.peer(a.mesh.peerId, 'secret'), copy).done;
  assert.equal(again.startSeq, first.lastSeq, 'the next pull resumes from the checkpoint');

  const p = reader.mesh.peer(a.mesh.peerId, 'secret');
  await assert.rejects(p.putLocal({ _id: '_local/notes' }), code('forbidden'), 'readers write checkpoint ids only');
  await assert.rejects(p.bulkDocs([{ _id: 'x', _rev: REV }], { newEdits: false }), code('forbidden'));
  assert.deepEqual(await reader.mesh.sharedDbs(a.mesh.peerId), [{ db: 'pub', read: true, write: false }, { db: 'secret', read: true, write: false }]);
});

test('a peer with a write grant pushes; removing it from trust revokes at the next request', async (t) => {
  const a = await owner();
  const w = await startPeerNode();
  t.after(async () => {
    await w.close();
    await a.close();
  });
  const id = w.mesh.peerId;
  await a.node.createDb('inbox');
  await a.trust.update((s) => setGrant(addPeer(s, { id, name: 'phone' }), 'inbox', 'write', `peer:${id}`, true));
  await w.mesh.connect(a.mesh.invite());
  const outbox = await w.node.createDb('outbox');
  for (let i = 0; i < 20; i++) await outbox.put({ _id: `m${i}`, n: i, _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from(`note ${i}`).toString('base64') } } });
  const inbox = w.mesh.peer(a.mesh.peerId, 'inbox');
  const report = await replicate(outbox, inbox).done;
  assert.equal(report.docsWritten, 20);
  const got = await (await a.node.db('inbox')).get('m7', { attachments: true });
  assert.equal(Buffer.from((got._attachments as Record<string, { data: string }>)['a.txt']!.data, 'base64').toString(), 'note 7');
  await assert.rejects(inbox.changes({ since: 0, limit: 10, style: 'all_docs' }), code('forbidden'), 'write does not give read');

  await a.trust.update((s) => removePeer(s, 'phone'));
  await outbox.put({ _id: 'late' });
  await assert.rejects(replicate(outbox, inbox, { retry: false }).done, code('forbidden'));
});
