// A validate_doc_update refusal whose value is no string (`throw({forbidden: {foo: "is object"}})`)
// is answered with that value as the reason, as CouchDB's chttpd answers it (error_info keeps
// `{forbidden, Msg}`'s Msg; a list alone it makes a binary, as an Erlang iolist), in a PUT, a POST,
// `_bulk_docs` rows (new_edits true and false), the library's errors and replicated writes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';
import { LocalPeer, replicate, type PeerWriteResult } from '../../src/replication/index.ts';
import { RefugeError } from '../../src/errors/index.ts';

const VDU = `function (newDoc) {
  if ('refuse' in newDoc) throw({forbidden: newDoc.refuse});
  if ('deny' in newDoc) throw({unauthorized: newDoc.deny});
}`;

/** What a document's refusal value is answered with over HTTP, as CouchDB answers it. */
const CASES: Array<{ name: string; value: unknown; wire: unknown }> = [
  { name: 'object', value: { foo: 'is object' }, wire: { foo: 'is object' } },
  { name: 'nested', value: { fields: ['a', 'b'], n: 2 }, wire: { fields: ['a', 'b'], n: 2 } },
  { name: 'number', value: 42, wire: 42 },
  { name: 'float', value: 1.5, wire: 1.5 },
  { name: 'null', value: null, wire: null },
  { name: 'boolean', value: true, wire: true },
  { name: 'string', value: 'plain words', wire: 'plain words' },
  // couch_util:to_binary: list_to_binary of the iolist...
  { name: 'strings', value: ['name is required; ', 'title too'], wire: 'name is required; title too' },
  { name: 'bytes', value: ['a', 1, ['b', [99]]], wire: 'a\u0001bc' },
  { name: 'unicode', value: ['é', '✓'], wire: 'é✓' },
  { name: 'empty list', value: [], wire: '' },
  // ...or, when it is none, the list printed (Erlang's ~p: "[300]").
  { name: 'no iolist', value: [300, -1], wire: '[300,-1]' },
];

describe('validate_doc_update: refusal values', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.node.createDb('r');
    const db = await server.node.db('r');
    await db.put({ _id: '_design/rules', validate_doc_update: VDU });
  });
  after(() => server.close());

  test('PUT and POST answer the value as the reason', async () => {
    for (const { name, value, wire } of CASES) {
      const put = await request(`${server.url}/r/put-${encodeURIComponent(name)}`, { method: 'PUT', body: { refuse: value } });
      assert.equal(put.status, 403, name);
      assert.deepEqual(put.body, { error: 'forbidden', reason: wire }, name);
      const post = await request(`${server.url}/r`, { method: 'POST', body: { refuse: value } });
      assert.equal(post.status, 403, name);
      assert.deepEqual(post.body, { error: 'forbidden', reason: wire }, name);
    }
    const raw = await request(`${server.url}/r/raw`, { method: 'PUT', body: { refuse: { foo: 'is object' } } });
    assert.equal(raw.text.trim(), '{"error":"forbidden","reason":{"foo":"is object"}}');
    const denied = await request(`${server.url}/r/denied`, { method: 'PUT', body: { deny: ['a', 1] } });
    assert.equal(denied.status, 401);
    assert.deepEqual(denied.body, { error: 'unauthorized', reason: 'a\u0001' });
    const deniedObject = await request(`${server.url}/r/denied`, { method: 'PUT', body: { deny: { who: null } } });
    assert.deepEqual(deniedObject.body, { error: 'unauthorized', reason: { who: null } });
  });

  test('_bulk_docs rows carry the value, new_edits true and false', async () => {
    const docs = CASES.map(({ name, value }) => ({ _id: `bulk-${name}`, refuse: value }));
    const bulk = await request(`${server.url}/r/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'fine' }, ...docs] } });
    assert.equal(bulk.status, 201);
    assert.equal(bulk.body[0].ok, true);
    assert.deepEqual(
      bulk.body.slice(1),
      CASES.map(({ name, wire }) => ({ id: `bulk-${name}`, error: 'forbidden', reason: wire })),
    );
    const rev = `1-${'a'.repeat(32)}`;
    const replicated = await request(`${server.url}/r/_bulk_docs`, {
      method: 'POST',
      body: { new_edits: false, docs: [...docs.map((d) => ({ ...d, _rev: rev })), { _id: 'denied', _rev: rev, deny: { who: 'nobody' } }] },
    });
    assert.equal(replicated.status, 201);
    assert.deepEqual(replicated.body, [
      ...CASES.map(({ name, wire }) => ({ id: `bulk-${name}`, rev, error: 'forbidden', reason: wire })),
      { id: 'denied', rev, error: 'unauthorized', reason: { who: 'nobody' } },
    ]);
  });

  test('the library: the error keeps the value (reasonValue) beside its text; bulk rows hold the value', async () => {
    const db = await server.node.db('r');
    await assert.rejects(db.put({ _id: 'lib', refuse: { foo: 'is object' } }), (err: unknown) => {
      assert.ok(err instanceof RefugeError);
      assert.equal(err.code, 'forbidden');
      assert.equal(err.status, 403);
      assert.equal(err.reason, '{"foo":"is object"}');
      assert.deepEqual(err.reasonValue, { foo: 'is object' });
      return true;
    });
    await assert.rejects(db.put({ _id: 'lib', refuse: 'words' }), { code: 'forbidden', reason: 'words', reasonValue: 'words' });
    await assert.rejects(db.put({ _id: 'lib', refuse: null }), { code: 'forbidden', reason: 'null', reasonValue: null });
    await assert.rejects(db.put({ _id: 'lib', deny: [1, 'x'] }), { code: 'unauthorized', reason: '[1,"x"]', reasonValue: [1, 'x'] });
    // The library hands the value as it was thrown: a list's iolist reading is chttpd's.
    const rows = await db.bulkDocs([{ _id: 'l1', refuse: ['a', 1] }, { _id: 'l2', refuse: 7 }]);
    assert.deepEqual(rows, [
      { id: 'l1', error: 'forbidden', reason: ['a', 1] },
      { id: 'l2', error: 'forbidden', reason: 7 },
    ]);
  });

  test('a replicated write refused reports the value, to a local target and over HTTP', async () => {
    await server.node.createDb('r-src');
    const source = await server.node.db('r-src');
    await source.bulkDocs([{ _id: 's1', refuse: { foo: 'is object' } }, { _id: 's2', refuse: ['a', 'b'] }, { _id: 's3' }]);
    const failuresOf = async (target: LocalPeer | string): Promise<PeerWriteResult[]> => {
      const failures: PeerWriteResult[] = [];
      const replication = replicate(new LocalPeer(source), target);
      replication.on('change', (e) => failures.push(...e.failures));
      const report = await replication.done;
      assert.equal(report.docsWritten, 1);
      assert.equal(report.docWriteFailures, 2);
      return failures.map(({ id, error, reason }) => ({ id, error, reason })).sort((a, b) => a.id.localeCompare(b.id));
    };
    await server.node.createDb('r-local');
    const local = await server.node.db('r-local');
    await local.put({ _id: '_design/rules', validate_doc_update: VDU });
    assert.deepEqual(await failuresOf(new LocalPeer(local)), [
      { id: 's1', error: 'forbidden', reason: { foo: 'is object' } },
      { id: 's2', error: 'forbidden', reason: ['a', 'b'] },
    ]);
    // A CouchDB-speaking target answers as chttpd does.
    assert.deepEqual(await failuresOf(`${server.url}/r`), [
      { id: 's1', error: 'forbidden', reason: { foo: 'is object' } },
      { id: 's2', error: 'forbidden', reason: 'ab' },
    ]);
  });
});
