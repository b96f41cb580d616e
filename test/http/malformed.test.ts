// Robustness on the wire: hundreds of malformed requests against a server holding data. Each gets
// a 4xx with CouchDB's {"error","reason"} body (never a 5xx, never a crash), and afterwards the
// data is exactly as before and the server still answers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  badJsonCases,
  bulkDocsCases,
  changesCases,
  docCases,
  findCases,
  readParamCases,
  type Case,
} from './malformed-cases.ts';
import { dbNameCases, encodingCases, fuzzCases, methodCases, miscCases, sizeAndTypeCases } from './malformed-wire.ts';
import { rawRequest, socketRequest, type RawResponse } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';

const BODY_LIMIT = 4096;

/** Everything a malformed request could have changed, read over HTTP. */
async function snapshot(url: string): Promise<unknown> {
  const dbs = (await request(`${url}/_all_dbs`)).body as string[];
  const out: Record<string, unknown> = { dbs };
  for (const db of dbs) {
    const info = (await request(`${url}/${encodeURIComponent(db)}`)).body;
    out[db] = {
      counts: [info.update_seq, info.doc_count, info.doc_del_count, info.purge_seq],
      allDocs: (await request(`${url}/${encodeURIComponent(db)}/_all_docs?include_docs=true&conflicts=true`)).body,
      changes: (await request(`${url}/${encodeURIComponent(db)}/_changes?style=all_docs`)).body,
      revsLimit: (await request(`${url}/${encodeURIComponent(db)}/_revs_limit`)).body,
      purgedInfosLimit: (await request(`${url}/${encodeURIComponent(db)}/_purged_infos_limit`)).body,
    };
  }
  out.local = (await request(`${url}/data/_local/ckpt`)).body;
  out.conflicted = (await request(`${url}/data/conflicted?open_revs=all&revs=true`)).body;
  return out;
}

function malformedCases(bodyLimit: number): Case[] {
  return [
    ...badJsonCases(),
    ...bulkDocsCases(),
    ...docCases(),
    ...readParamCases(),
    ...findCases(),
    ...changesCases(),
    ...dbNameCases(),
    ...encodingCases(),
    ...sizeAndTypeCases(bodyLimit),
    ...methodCases(),
    ...miscCases(),
    ...fuzzCases(),
  ];
}

function problem(c: Case, res: RawResponse): string | undefined {
  if (res.status < 400 || res.status > 499) return `status ${res.status}: ${res.text.slice(0, 200)}`;
  if (c.method === 'HEAD') return undefined;
  if (!/^application\/json/.test(String(res.headers['content-type']))) return `content-type ${res.headers['content-type']}`;
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return `not JSON: ${res.text.slice(0, 200)}`;
  }
  const b = body as { error?: unknown; reason?: unknown };
  if (typeof b?.error !== 'string' || typeof b.reason !== 'string' || b.error === '' || b.reason === '') {
    return `not a CouchDB error: ${res.text.slice(0, 200)}`;
  }
  return undefined;
}

describe('malformed requests', () => {
  let server: TestServer;
  let before1: unknown;

  before(async () => {
    server = await startTestServer({ bodyLimit: BODY_LIMIT });
    const u = server.url;
    for (const db of ['data', 'other']) assert.equal((await request(`${u}/${db}`, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, n: i, tags: ['t', i % 3], nested: { v: i } }));
    assert.equal((await request(`${u}/data/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    const d05 = (await request(`${u}/data/d05`)).body;
    await request(`${u}/data/d05?rev=${d05._rev}`, { method: 'DELETE' });
    await request(`${u}/data/_bulk_docs`, {
      method: 'POST',
      body: { new_edits: false, docs: [{ _id: 'conflicted', _rev: '1-' + 'a'.repeat(32) }, { _id: 'conflicted', _rev: '1-' + 'b'.repeat(32), side: 'b' }] },
    });
    await request(`${u}/data/_design/ddoc`, { method: 'PUT', body: { views: {} } });
    await request(`${u}/data/_local/ckpt`, { method: 'PUT', body: { seq: 7 } });
    await request(`${u}/other/o1`, { method: 'PUT', body: { o: 1 } });
    before1 = await snapshot(u);
  });
  after(() => server.close());

  test('every malformed request gets a 4xx CouchDB error and changes nothing', async () => {
    const cases = malformedCases(BODY_LIMIT);
    assert.ok(cases.length >= 600, `only ${cases.length} cases`);
    const failures: string[] = [];
    for (const c of cases) {
      let res: RawResponse;
      try {
        res = c.socket !== undefined ? await socketRequest(server.server.port, c.socket) : await rawRequest(server.server.port, c);
      } catch (err) {
        failures.push(`${c.label}: request failed: ${(err as Error).message}`);
        continue;
      }
      const p = problem(c, res);
      if (p) failures.push(`${c.label}: ${p}`);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed:\n${failures.slice(0, 40).join('\n')}`);
    assert.deepEqual(await snapshot(server.url), before1);
    // Still serving, reads and writes.
    assert.equal((await request(`${server.url}/`)).status, 200);
    assert.equal((await request(`${server.url}/other/after`, { method: 'PUT', body: { ok: 1 } })).status, 201);
  });

  test('dot segments are never resolved: under an existing doc they name an attachment (4xx)', async () => {
    const start = await snapshot(server.url);
    for (const [method, path] of [
      ['GET', '/data/d01/../../other'],
      ['DELETE', '/data/d01/..'],
      ['PUT', '/data/d01/..%2F..%2Fother'],
    ]) {
      const res = await rawRequest(server.server.port, { method: method!, path: path!, body: method === 'PUT' ? '{}' : undefined });
      // A missing attachment (404) or a write without the document's rev (409): nothing resolves.
      assert.ok(res.status === 404 || res.status === 409, `${method} ${path}: ${res.status}`);
      assert.deepEqual(Object.keys(JSON.parse(res.text)), ['error', 'reason']);
    }
    assert.deepEqual(await snapshot(server.url), start);
  });

  test('oversized bodies are 413 and unknown media types 415, with CouchDB bodies', async () => {
    const big = await rawRequest(server.server.port, { method: 'PUT', path: '/data/big', body: JSON.stringify({ x: 'x'.repeat(BODY_LIMIT) }) });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.text).error, 'too_large');
    const xml = await rawRequest(server.server.port, { method: 'POST', path: '/data', body: '<a/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.status, 415);
    assert.equal(JSON.parse(xml.text).error, 'bad_content_type');
    // A document PUT is parsed as JSON whatever its type (CouchDB's rule): a body that is not JSON is a 400.
    for (const [type, body] of [['application/xml', '<a/>'], ['application/x-www-form-urlencoded', 'a=1']]) {
      const put = await rawRequest(server.server.port, { method: 'PUT', path: '/data/form', body, headers: { 'content-type': type! } });
      assert.equal(put.status, 400, type);
      assert.equal(JSON.parse(put.text).error, 'bad_request');
    }
    assert.equal((await request(`${server.url}/data/form`)).status, 404);
    // An attachment on a local document is CouchDB's 400 whatever its media type.
    const local = await rawRequest(server.server.port, { method: 'PUT', path: '/data/_local/newlocal/att', body: 'bytes', headers: { 'content-type': 'application/octet-stream' } });
    assert.deepEqual([local.status, JSON.parse(local.text)], [400, { error: 'bad_request', reason: '_local documents do not accept attachments.' }]);
    // A malformed revision in atts_since is CouchDB's 400, not ignored.
    const since = await rawRequest(server.server.port, { method: 'GET', path: `/data/d01?atts_since=${encodeURIComponent('["bad"]')}` });
    assert.deepEqual([since.status, JSON.parse(since.text)], [400, { error: 'bad_request', reason: 'Invalid rev format' }]);
  });

  test('a POST a web page can send without asking (text/plain, forms) is a 415 and writes nothing (CSRF)', async () => {
    const start = await snapshot(server.url);
    const page = { origin: 'https://evil.example' };
    for (const [path, body] of [
      ['/data/_bulk_docs', { docs: [{ _id: 'planted' }] }],
      ['/data', { _id: 'planted' }],
      ['/_replicate', { source: 'data', target: 'copy-for-attacker', create_target: true }],
      ['/data/_find', { selector: {} }],
      ['/data/_all_docs', { keys: ['d01'] }],
    ] as const) {
      for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const res = await rawRequest(server.server.port, { method: 'POST', path, body: JSON.stringify(body), headers: { 'content-type': type, ...page } });
        assert.equal(res.status, 415, `${path} as ${type}`);
        assert.equal(JSON.parse(res.text).error, 'bad_content_type');
      }
    }
    // Bodiless POSTs that act still have to say application/json, as in CouchDB.
    for (const path of ['/data/_compact', '/data/_view_cleanup']) {
      const res = await rawRequest(server.server.port, { method: 'POST', path });
      assert.equal(res.status, 415, path);
      assert.equal(JSON.parse(res.text).error, 'bad_content_type');
    }
    assert.deepEqual(await snapshot(server.url), start);
    assert.equal((await request(`${server.url}/copy-for-attacker`)).status, 404);
    // A document PUT stays JSON whatever its type says (no page can send a cross-site PUT unasked).
    const put = await rawRequest(server.server.port, { method: 'PUT', path: '/other/plain', body: '{"ok":1}', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 201);
  });

  test('_bulk_get reports malformed items per item, as CouchDB does, and changes nothing', async () => {
    const res = await request(`${server.url}/data/_bulk_get`, {
      method: 'POST',
      body: { docs: [1, { id: 5 }, { id: 'd01', rev: 'garbage' }, { id: 'd01', rev: 7 }, { id: 'd01' }] },
    });
    assert.equal(res.status, 200);
    const results = res.body.results as Array<{ docs: Array<{ ok?: unknown; error?: { error: string; reason: string } }> }>;
    assert.equal(results.length, 5);
    for (const r of results.slice(0, 4)) {
      assert.equal(typeof r.docs[0]!.error!.error, 'string');
      assert.equal(typeof r.docs[0]!.error!.reason, 'string');
    }
    assert.ok(results[4]!.docs[0]!.ok);
    // CouchDB's exact rows for an item without an id and one no document can have.
    const named = await request(`${server.url}/data/_bulk_get`, { method: 'POST', body: { docs: [{ rev: '1-x' }, { id: '_bad', rev: '1-x' }] } });
    assert.deepEqual(named.body.results, [
      { id: null, docs: [{ error: { id: null, rev: null, error: 'bad_request', reason: 'document id missed' } }] },
      { id: '_bad', docs: [{ error: { id: '_bad', rev: null, error: 'illegal_docid', reason: 'Only reserved document ids may start with underscore.' } }] },
    ]);
    for (const name of ['rev', 'open_revs', 'atts_since']) {
      const refused = await request(`${server.url}/data/_bulk_get?${name}=x`, { method: 'POST', body: { docs: [{ id: 'd01' }] } });
      assert.deepEqual([refused.status, refused.body.reason], [400, `"${name}" query parameter is not acceptable`]);
    }
  });
});

test('bodies nested deeper than the server recurses are the client\'s 400, never a 500, and change nothing', async (t) => {
  const server = await startTestServer({ bodyLimit: 1024 * 1024 });
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/data`, { method: 'PUT' })).status, 201);
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  for (const [method, path, body] of [
    ['PUT', '/data/_security', `{"members":{"names":${deep(200_000)}}}`],
    ['POST', '/data/_all_docs', `{"keys":${deep(200_000)}}`],
    ['POST', '/data/_bulk_get', `{"docs":[{"id":${deep(200_000)}}]}`],
  ] as const) {
    const res = await rawRequest(server.server.port, { method, path, body });
    assert.equal(res.status, 400, `${method} ${path}: ${res.text.slice(0, 200)}`);
  }
  assert.deepEqual((await request(`${server.url}/data/_security`)).body, { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } }, 'still the default');
});

test('a large body with many object keys past 16,383 characters is refused before JSON.parse goes quadratic on them', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const db = `${server.url}/longkeys`;
  assert.equal((await request(db, { method: 'PUT' })).status, 201);
  const prefix = 'k'.repeat(16_400);
  const manyKeys = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [prefix + String(i).padStart(4, '0'), i]));
  const refused = await request(`${db}/doc`, { method: 'PUT', body: manyKeys });
  assert.equal(refused.status, 400);
  assert.match(refused.body.reason, /object keys longer than 16383 characters/);
  assert.equal((await request(`${db}/doc`)).status, 404, 'nothing written');
  // A few such keys, or a large body of ordinary ones, are taken as before.
  const few = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [prefix + i, i]));
  assert.equal((await request(`${db}/few`, { method: 'PUT', body: { ...few, pad: 'p'.repeat(6_200_000) } })).status, 201);
  const docs = Array.from({ length: 20_000 }, (_, i) => ({ _id: `d${i}`, text: 'lorem ipsum dolor sit amet '.repeat(8) }));
  assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
});
