// `nano`, Apache CouchDB's own Node.js client, from npm, as a real client of a Refuge node started on
// port 0: databases, documents, bulk reads and writes, views and update functions, Mango, changes
// (one-shot, and its changesReader both batched and live), attachments (alone and multipart),
// replication (one-shot and as a _replicator job), cookie sessions, and errors as nano reports them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Nano from 'nano';
import { startTestServer, type TestServer } from './server.ts';

interface Thing {
  n?: number;
  tags?: string[];
  kind?: string;
}

/** The CouchDB error nano rejects with: its status, `error` and `reason`. */
async function nanoError(p: Promise<unknown>): Promise<{ statusCode: number; error: string; reason: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { statusCode: number; error: string; reason: string };
    return { statusCode: e.statusCode, error: e.error, reason: e.reason };
  }
  assert.fail('expected nano to reject');
}

describe('nano (Apache CouchDB\'s Node.js client) against a Refuge node', () => {
  let server: TestServer;
  let admin: Nano.ServerScope;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb', admin: 'admin:secret', passwordIterations: 10 });
    admin = Nano(server.url.replace('http://', 'http://admin:secret@'));
  });
  after(() => server.close());

  test('server and databases: info, uuids, create (412 again), get, list, updates, destroy', async () => {
    const info = await admin.info();
    assert.equal((info as unknown as { couchdb: string }).couchdb, 'Welcome');
    assert.equal((await admin.uuids(3)).uuids.length, 3);
    assert.deepEqual(await admin.db.create('nano-db'), { ok: true });
    assert.deepEqual(await nanoError(admin.db.create('nano-db')), { statusCode: 412, error: 'file_exists', reason: 'The database could not be created, the file already exists.' });
    const bad = await nanoError(admin.db.create('Bad Name'));
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.error, 'illegal_database_name');
    assert.equal((await admin.db.get('nano-db')).doc_count, 0);
    assert.ok((await admin.db.list()).includes('nano-db'), 'db.list names the new database');
    const updates = (await admin.db.updates({ feed: 'normal', since: '0' } as never)) as unknown as { results: Array<{ db_name: string; type: string }> };
    assert.ok(updates.results.some((r) => r.db_name === 'nano-db' && r.type === 'created'), JSON.stringify(updates));
    await admin.db.create('nano-gone');
    assert.deepEqual(await admin.db.destroy('nano-gone'), { ok: true });
    assert.equal((await nanoError(admin.db.get('nano-gone'))).statusCode, 404);
  });

  test('documents: insert, get with revs_info, head, conflicts, destroy; bulk, list with keys, fetch, fetchRevs', async () => {
    await admin.db.create('nano-docs');
    const db = admin.use<Thing>('nano-docs');
    const a = await db.insert({ _id: 'a', n: 1, tags: ['x'] } as Thing & { _id: string });
    assert.equal(a.ok, true);
    const generated = await db.insert({ n: 2 });
    assert.match(generated.id, /^[0-9a-f]{32}$/);
    const got = await db.get('a', { revs_info: true });
    assert.equal(got.n, 1);
    assert.equal(got._revs_info?.[0]?.status, 'available');
    const head = await db.head('a');
    assert.equal(head.etag, `"${a.rev}"`);
    assert.deepEqual(await nanoError(db.insert({ _id: 'a', n: 3 } as Thing & { _id: string })), { statusCode: 409, error: 'conflict', reason: 'Document update conflict.' });
    assert.deepEqual(await nanoError(db.get('nope')), { statusCode: 404, error: 'not_found', reason: 'missing' });

    const bulk = await db.bulk({ docs: [{ _id: 'b', n: 2 }, { _id: 'c', n: 3 }, { _id: 'a', n: 9 }] as Array<Thing & { _id: string }> });
    assert.deepEqual(bulk.map((r) => r.error ?? 'ok'), ['ok', 'ok', 'conflict']);
    const listed = await db.list({ include_docs: true, limit: 2 });
    assert.equal(listed.total_rows, 4);
    assert.equal(listed.rows.length, 2);
    const keyed = await db.list({ keys: ['a', 'zz'] });
    assert.deepEqual(keyed.rows.map((r) => ('error' in r ? r.error : r.id)), ['a', 'not_found']);
    const fetched = await db.fetch({ keys: ['a', 'b', 'zz'] });
    assert.deepEqual(fetched.rows.map((r) => ('doc' in r && r.doc ? r.doc.n : 'error' in r ? r.error : undefined)), [1, 2, 'not_found']);
    const revs = await db.fetchRevs({ keys: ['a', 'b'] });
    assert.equal((revs.rows[0] as { value: { rev: string } }).value.rev, a.rev);
    const c = await db.get('c');
    const gone = await db.destroy('c', c._rev);
    assert.match(gone.rev, /^2-/);
    assert.equal((await admin.db.get('nano-docs')).doc_del_count, 1);
  });

  test('design documents: views (reduced, by keys), an update function (atomic); Mango find and createIndex', async () => {
    await admin.db.create('nano-views');
    const db = admin.use<Thing>('nano-views');
    await db.bulk({ docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }, { _id: 'c', n: 2 }, { _id: 'd', kind: 'none' }] as Array<Thing & { _id: string }> });
    await db.insert({
      _id: '_design/app',
      views: { byN: { map: 'function (doc) { if (doc.n) emit(doc.n, 1); }', reduce: '_count' } },
      updates: { bump: 'function (doc, req) { doc.n = (doc.n || 0) + 1; return [doc, "bumped"]; }' },
    } as never);
    const rows = await db.view('app', 'byN', { reduce: false });
    assert.deepEqual(rows.rows.map((r) => [r.id, r.key]), [['a', 1], ['b', 2], ['c', 2]]);
    assert.deepEqual((await db.view('app', 'byN')).rows, [{ key: null, value: 3 }]);
    assert.deepEqual((await db.view('app', 'byN', { group: true })).rows, [{ key: 1, value: 1 }, { key: 2, value: 2 }]);
    assert.deepEqual((await db.view('app', 'byN', { keys: [2], reduce: false })).rows.map((r) => r.id), ['b', 'c']);
    assert.equal(await db.atomic('app', 'bump', 'a'), 'bumped');
    assert.equal((await db.get('a')).n, 2);

    const index = await db.createIndex({ index: { fields: ['n'] }, name: 'by-n' });
    assert.equal(index.result, 'created');
    const found = await db.find({ selector: { n: { $gte: 2 } }, sort: [{ n: 'desc' }], fields: ['_id', 'n'], use_index: 'by-n' } as never);
    assert.deepEqual(found.docs.map((d) => d.n), [2, 2, 2]);
    assert.deepEqual(new Set(found.docs.map((d) => d._id)), new Set(['a', 'b', 'c']));
  });

  test('changes: one-shot with a filter, and changesReader, in batches and live', async () => {
    await admin.db.create('nano-changes');
    const db = admin.use<Thing>('nano-changes');
    await db.bulk({ docs: [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }] as Array<Thing & { _id: string }> });
    const some = await db.changes({ since: 0, limit: 2 });
    assert.deepEqual(some.results.map((r) => r.id), ['a', 'b']);
    const filtered = await db.changes({ include_docs: true, filter: '_doc_ids', doc_ids: JSON.stringify(['b']) } as never);
    assert.deepEqual(filtered.results.map((r) => [r.id, (r as { doc?: { _id: string } }).doc?._id]), [['b', 'b']]);

    // changesReader.get: every change in batches, then `end` once a poll finds none (a longpoll:
    // given a short timeout, that last poll does not wait the default minute).
    const batched = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      db.changesReader
        .get({ since: '0', batchSize: 2, timeout: 200 })
        .on('batch', (batch: Array<{ id: string }>) => seen.push(...batch.map((c) => c.id)))
        .on('end', () => resolve(seen))
        .on('error', reject);
    });
    assert.deepEqual(batched, ['a', 'b', 'c']);

    // changesReader.start: a longpoll loop, from the sequence the database is at, sees a later write.
    const at = String((await admin.db.get('nano-changes')).update_seq);
    const live = new Promise<string>((resolve, reject) => {
      db.changesReader
        .start({ since: at })
        .on('change', (change: { id: string }) => {
          if (change.id === 'later') resolve(change.id);
        })
        .on('error', reject);
    });
    try {
      await db.insert({ _id: 'later' } as Thing & { _id: string });
      assert.equal(await live, 'later');
    } finally {
      db.changesReader.stop();
    }
  });

  test('attachments: insert, get (whole and streamed), destroy; multipart insert and get; attachments=true', async () => {
    await admin.db.create('nano-atts');
    const db = admin.use<Thing>('nano-atts');
    const doc = await db.insert({ _id: 'd', n: 1 } as Thing & { _id: string });
    const put = await db.attachment.insert('d', 'hello.txt', Buffer.from('hello world'), 'text/plain', { rev: doc.rev });
    assert.equal(put.ok, true);
    assert.equal((await db.attachment.get('d', 'hello.txt')).toString(), 'hello world');
    const streamed = await new Promise<string>((resolve, reject) => {
      let text = '';
      db.attachment
        .getAsStream('d', 'hello.txt')
        .on('data', (chunk: Buffer) => (text += chunk.toString()))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    assert.equal(streamed, 'hello world');
    const removed = await db.attachment.destroy('d', 'hello.txt', { rev: put.rev });
    assert.match(removed.rev, /^3-/);
    assert.equal((await db.get('d'))._attachments, undefined);

    const multi = await db.multipart.insert(
      { _id: 'm', kind: 'multi' } as Thing & { _id: string },
      [
        { name: 'one.txt', data: Buffer.from('one'), content_type: 'text/plain' },
        { name: 'two.bin', data: Buffer.from([1, 2, 3]), content_type: 'application/octet-stream' },
      ],
      'm',
    );
    assert.equal(multi.ok, true);
    const withData = (await db.get('m', { attachments: true })) as unknown as { _attachments: Record<string, { data: string; content_type: string }> };
    assert.equal(Buffer.from(withData._attachments['one.txt']!.data, 'base64').toString(), 'one');
    assert.deepEqual([...Buffer.from(withData._attachments['two.bin']!.data, 'base64')], [1, 2, 3]);
    const related = String(await db.multipart.get('m'));
    assert.match(related, /Content-Type: application\/json/);
    assert.match(related, /"kind":"multi"/);
    assert.ok(related.includes('one') && related.includes('"follows":true'), related.slice(0, 300));
  });

  test('replication: one-shot, and as a _replicator job; compaction', async () => {
    await admin.db.create('nano-source');
    const source = admin.use<Thing>('nano-source');
    await source.bulk({ docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }] as Array<Thing & { _id: string }> });
    const result = (await admin.db.replicate('nano-source', 'nano-copy', { create_target: true })) as unknown as { ok: boolean; docs_written: number };
    assert.equal(result.ok, true);
    assert.equal(result.docs_written, 2);
    assert.equal((await admin.db.get('nano-copy')).doc_count, 2);
    const job = (await admin.db.replication.enable('nano-source', 'nano-job', { create_target: true })) as { ok: boolean; id: string };
    assert.equal(job.ok, true);
    const state = (await admin.db.replication.query(job.id, {})) as unknown as { _id: string; source: unknown };
    assert.equal(state._id, job.id);
    assert.deepEqual(await admin.db.compact('nano-source'), { ok: true });
  });

  test('cookie sessions: auth, then session() and requests as that user', async () => {
    const anonymous = Nano(server.url);
    const denied = await nanoError(anonymous.db.create('nano-anon'));
    assert.equal(denied.statusCode, 401);
    const login = await anonymous.auth('admin', 'secret');
    assert.equal(login.ok, true);
    // nano keeps the AuthSession cookie and sends it on: the session is the admin's now.
    const session = await anonymous.session();
    assert.deepEqual(session.userCtx, { name: 'admin', roles: ['_admin'] });
    assert.deepEqual(await anonymous.db.create('nano-by-cookie'), { ok: true });
  });
});
