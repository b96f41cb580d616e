// One-shot replication between local databases: what flows (docs, deletions, design docs), what
// does not (_local docs, filtered-out docs), the report, and the checkpoints left on both sides.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefugeError, isRefugeError, type Doc } from '../../src/core.ts';
import { LocalPeer, replicate, type ReplicationLog } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

async function pair(t: { after: (fn: () => Promise<void>) => void }) {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  return { a: a.db, b: b.db };
}

test('one-shot: documents, edits, deletions and design docs arrive; _local docs stay', async (t) => {
  const { a, b } = await pair(t);
  for (let i = 0; i < 25; i++) await a.put({ _id: `doc${String(i).padStart(2, '0')}`, i });
  const edited = await a.get('doc03');
  await a.put({ ...edited, i: 'three' });
  await a.remove('doc04', (await a.get('doc04'))._rev!);
  await a.put({ _id: '_design/app', views: { byI: { map: 'function (doc) { emit(doc.i) }' } } });
  await a.put({ _id: 'with/slash', ok: true });
  await a.putLocal({ _id: '_local/private', secret: 1 });

  const rep = replicate(a, b, { batchSize: 7 });
  const changes: number[] = [];
  rep.on('change', (e) => changes.push(e.docs.length));
  const report = await rep.done;

  assert.equal(report.ok, true);
  assert.equal(report.status, 'complete');
  assert.equal(report.docsWritten, 27);
  assert.equal(report.docsRead, 27);
  assert.equal(report.docWriteFailures, 0);
  assert.equal(changes.reduce((x, y) => x + y, 0), 27);
  assert.ok(changes.length >= 4, 'several batches');
  assert.deepEqual(report.lastSeq, (await a.info()).updateSeq);
  await assertSameTrees(a, b);
  assert.equal((await b.get('doc03')).i, 'three');
  await assert.rejects(b.get('doc04'), (err) => isRefugeError(err, 'not_found'));
  assert.ok((await b.get('_design/app')).views);
  await assert.rejects(b.get('_local/private'), (err) => isRefugeError(err, 'not_found'));

  // The checkpoint is on both sides, in CouchDB's shape, naming this session.
  const id = `_local/${report.replicationId}`;
  for (const db of [a, b]) {
    const log = (await db.get(id)) as ReplicationLog;
    assert.equal(log.session_id, report.sessionId);
    assert.deepEqual(log.source_last_seq, report.lastSeq);
    assert.equal(log.history?.length, 1);
    assert.equal(log.history![0]!.docs_written, 27);
    assert.deepEqual(log.history![0]!.recorded_seq, report.lastSeq);
  }
  assert.deepEqual(report.history, ((await b.get(id)) as ReplicationLog).history);
});

test('a second run resumes at the checkpoint and reads no old change', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}` })));
  const first = await replicate(a, b).done;
  await a.put({ _id: 'new' });
  const source = wrapPeer(new LocalPeer(a));
  const second = await replicate(source, b).done;
  assert.equal(second.replicationId, first.replicationId);
  assert.deepEqual(second.startSeq, first.lastSeq);
  assert.equal(source.rowsServed, 1);
  assert.equal(second.docsWritten, 1);
  const log = (await b.get(`_local/${second.replicationId}`)) as ReplicationLog;
  assert.deepEqual(log.history!.map((h) => h.session_id), [second.sessionId, first.sessionId]);
});

test('doc_ids filter: only the named documents, and a replication id of its own', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs([{ _id: 'x' }, { _id: 'y' }, { _id: 'z' }, { _id: '_design/d' }]);
  const all = await replicate(a, b, { docIds: ['nothing'] }).done;
  const some = await replicate(a, b, { docIds: ['z', 'x', '_design/d'] }).done;
  assert.notEqual(all.replicationId, some.replicationId);
  assert.equal(some.docsWritten, 3);
  const rows = (await b.allDocs()).rows.map((r) => r.id);
  assert.deepEqual(rows, ['_design/d', 'x', 'z']);
  const sameIdOtherOrder = await replicate(a, b, { docIds: ['_design/d', 'x', 'z'] }).done;
  assert.equal(sameIdOtherOrder.replicationId, some.replicationId);
});

test('selector filter: only the documents that match', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs([
    { _id: 'p1', type: 'post', n: 1 },
    { _id: 'c1', type: 'comment' },
    { _id: 'p2', type: 'post', n: 5 },
  ]);
  const report = await replicate(a, b, { selector: { type: 'post', n: { $gt: 2 } } }).done;
  assert.equal(report.docsWritten, 1);
  assert.deepEqual((await b.allDocs()).rows.map((r) => r.id), ['p2']);
});

test('bad options fail at once; a missing target is created only when asked', async (t) => {
  const { a, b } = await pair(t);
  assert.throws(() => replicate(a, b, { batchSize: 0 }), (err) => isRefugeError(err, 'bad_request'));
  assert.throws(() => replicate(a, b, { docIds: ['x'], selector: {} }), (err) => isRefugeError(err, 'bad_request'));
  const missing = wrapPeer(new LocalPeer(b));
  missing.before = (method) => {
    if (method === 'info') throw new RefugeError('not_found', 'Database does not exist.');
  };
  await assert.rejects(replicate(a, missing).done, (err) => isRefugeError(err, 'not_found') && /target/.test(err.reason));
});

test('the source’s documents written as replicated keep their revision ids', async (t) => {
  const { a, b } = await pair(t);
  const r = await a.put({ _id: 'same', body: 1 });
  await replicate(a, b).done;
  const doc: Doc = await b.get('same');
  assert.equal(doc._rev, r.rev);
});

test('documents the target refuses are counted, and the replication goes on', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs([{ _id: 'ok1' }, { _id: 'refused' }, { _id: 'ok2' }]);
  const target = wrapPeer(new LocalPeer(b));
  const inner = target.bulkDocs;
  target.bulkDocs = async (docs, o) => {
    const kept = docs.filter((d) => d._id !== 'refused');
    await inner(kept, o);
    return docs.length === kept.length ? [] : [{ id: 'refused', error: 'forbidden', reason: 'validation said no' }];
  };
  const rep = replicate(a, target);
  const failures: unknown[] = [];
  rep.on('change', (e) => failures.push(...e.failures));
  const report = await rep.done;
  assert.equal(report.docsWritten, 2);
  assert.equal(report.docWriteFailures, 1);
  assert.deepEqual(failures, [{ id: 'refused', error: 'forbidden', reason: 'validation said no' }]);
  assert.deepEqual((await b.allDocs()).rows.map((r) => r.id), ['ok1', 'ok2']);
});

test('a batch the target finds too large is split until it fits', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}` })));
  const target = wrapPeer(new LocalPeer(b));
  const sizes: number[] = [];
  const inner = target.bulkDocs;
  target.bulkDocs = async (docs, o) => {
    sizes.push(docs.length);
    if (docs.length > 3) throw new RefugeError('too_large', 'Request entity too large');
    return inner(docs, o);
  };
  const report = await replicate(a, target, { batchSize: 20 }).done;
  assert.equal(report.docsWritten, 20);
  assert.deepEqual(sizes.slice(0, 4), [20, 10, 5, 3]);
  await assertSameTrees(a, b);
});

/** A source that records what each changes request asked for and which revisions bulkGet fetched. */
class RecordingPeer extends LocalPeer {
  readonly carried: boolean[] = [];
  readonly fetched: string[] = [];
  override changes(request: Parameters<LocalPeer['changes']>[0]) {
    this.carried.push(request.includeDocs === true);
    return super.changes(request);
  }
  override bulkGet(requests: Parameters<LocalPeer['bulkGet']>[0], options: Parameters<LocalPeer['bulkGet']>[1]) {
    this.fetched.push(...requests.map((r) => `${r.id} ${r.rev}`));
    return super.bulkGet(requests, options);
  }
}

test('changes carry the documents while the target lacks them: bulkGet only for other leaves and attachments', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, i })));
  const base = '1-' + 'a'.repeat(32);
  await a.bulkDocs([
    { _id: 'c', _rev: base, v: 0 },
    { _id: 'c', _rev: '2-' + 'b'.repeat(32), v: 'b', _revisions: { start: 2, ids: ['b'.repeat(32), 'a'.repeat(32)] } },
    { _id: 'c', _rev: '2-' + 'c'.repeat(32), v: 'c', _revisions: { start: 2, ids: ['c'.repeat(32), 'a'.repeat(32)] } },
  ], { newEdits: false });
  await a.put({ _id: 'att', _attachments: { 'x.txt': { content_type: 'text/plain', data: Buffer.from('carried apart').toString('base64') } } });

  const source = new RecordingPeer(a);
  const report = await replicate(source, b, { batchSize: 10, batchesInFlight: 1 }).done;
  assert.equal(report.docsWritten, 33);
  assert.equal(source.carried[0], true, 'a first replication asks for the documents');
  assert.deepEqual(source.fetched.sort(), [`att ${(await a.get('att'))._rev}`, `c 2-${'b'.repeat(32)}`], 'only the losing leaf and the attachment');
  await assertSameTrees(a, b);
  const doc = await b.get('att', { attachments: true });
  assert.equal(Buffer.from((doc._attachments as Record<string, { data: string }>)['x.txt']!.data, 'base64').toString(), 'carried apart');

  // Run again from 0: the target has everything, so after a batch or two nothing is carried.
  const again = new RecordingPeer(a);
  const second = await replicate(again, b, { batchSize: 5, batchesInFlight: 1, since: 0 }).done;
  assert.equal(second.docsWritten, 0);
  assert.equal(again.carried[0], true);
  assert.ok(again.carried.filter(Boolean).length <= 2, `carried: ${again.carried.join(',')}`);
  assert.equal(again.carried.at(-1), false);
  assert.deepEqual(again.fetched, []);
});

test('a source that turns out unable to carry documents is not asked again', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}` })));
  // As HttpPeer does against a server that ignores `revs`: the ability goes away after one answer.
  class Forgetful extends RecordingPeer {
    override async changes(request: Parameters<LocalPeer['changes']>[0]) {
      const answer = await super.changes(request);
      this.capabilities.changesDocs = false;
      for (const row of answer.results) delete row.doc;
      return answer;
    }
  }
  const source = new Forgetful(a);
  const report = await replicate(source, b, { batchSize: 5, batchesInFlight: 1 }).done;
  assert.equal(report.docsWritten, 30);
  assert.deepEqual(source.carried.slice(0, 2), [true, false]);
  assert.ok(source.carried.slice(1).every((c) => !c), `carried: ${source.carried.join(',')}`);
  await assertSameTrees(a, b);
});

test('large attachments are fetched and written a few megabytes at a time, not as one batch', async (t) => {
  const { a, b } = await pair(t);
  const mb = (i: number) => Buffer.alloc(3 * 1024 * 1024, i).toString('base64');
  for (let i = 0; i < 5; i++) await a.put({ _id: `big${i}`, _attachments: { 'blob.bin': { content_type: 'application/octet-stream', data: mb(i) } } });
  await a.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `small${i}` })));
  const source = new RecordingPeer(a);
  const groups: number[] = [];
  const inner = source.bulkGet.bind(source);
  source.bulkGet = (requests, options) => {
    groups.push(requests.length);
    return inner(requests, options);
  };
  const events: Doc[][] = [];
  const rep = replicate(source, b, { batchSize: 20 });
  rep.on('change', (c) => events.push(c.docs));
  const report = await rep.done;
  assert.equal(report.docsWritten, 10);
  // 3 MB each against a 4 MB group: one document per _bulk_get.
  assert.deepEqual(groups, [1, 1, 1, 1, 1]);
  await assertSameTrees(a, b);
  const copy = await b.getAttachment('big3', 'blob.bin');
  let bytes = 0;
  for await (const chunk of copy.read) {
    bytes += chunk.length;
    assert.ok(chunk.every((x) => x === 3));
  }
  assert.equal(bytes, 3 * 1024 * 1024);
  // Progress events keep stubs, not the bytes.
  const reported = events.flat().find((d) => d._id === 'big0')!;
  assert.equal((reported._attachments as Record<string, { stub?: boolean; data?: string }>)['blob.bin']!.data, undefined);
});
