// Views and Mango json indexes through PouchDB's HTTP adapter against a Refuge server: map queries
// with CouchDB's options, built-in reduces, group levels, collation of mixed-type keys, custom
// reduce, `_info`, stale reads, and `_index` + `_find` choosing a json index.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB } from '../http/pouchdb.ts';
import { request, startTestServer, type TestServer } from '../http/server.ts';

// CouchDB's documented view collation order ("Views Collation"), as emitted keys.
const ORDERED_KEYS: unknown[] = [
  null, false, true,
  1, 2, 3.0, 4,
  'a', 'A', 'aa', 'b', 'B', 'ba', 'bb',
  ['a'], ['b'], ['b', 'c'], ['b', 'c', 'a'], ['b', 'd'], ['b', 'd', 'e'],
  { a: 1 }, { a: 2 }, { b: 1 }, { b: 2 }, { b: 2, a: 1 }, { b: 2, c: 2 },
];

describe('views and json indexes through PouchDB', () => {
  let server: TestServer;
  let db: any;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    db = new PouchDB(`${server.url}/views`);
    await db.bulkDocs([
      { _id: '_design/app', views: {
        byType: { map: 'function (doc) { if (doc.type) emit(doc.type, doc.n); }', reduce: '_sum' },
        count: { map: 'function (doc) { if (doc.date) emit(doc.date, 1); }', reduce: '_count' },
        stats: { map: 'function (doc) { if (doc.n !== undefined) emit(doc.type, doc.n); }', reduce: '_stats' },
        custom: { map: 'function (doc) { if (doc.n !== undefined) emit(doc.type, doc.n); }', reduce: 'function (keys, values, rereduce) { return Math.max.apply(null, values); }' },
        mixed: { map: 'function (doc) { if (doc.mixed) emit(doc.key, doc._id); }' },
      } },
      { _id: 'a', type: 'fruit', n: 3, date: [2024, 1, 5] },
      { _id: 'b', type: 'fruit', n: 5, date: [2024, 1, 9] },
      { _id: 'c', type: 'veg', n: 2, date: [2024, 2, 1] },
      { _id: 'd', type: 'veg', n: 10, date: [2025, 1, 1] },
      { _id: 'e', type: 'nut', n: 1, date: [2025, 3, 3] },
      ...ORDERED_KEYS.map((key, i) => ({ _id: `m${String(ORDERED_KEYS.length - i).padStart(2, '0')}`, mixed: true, key })),
    ]);
  });
  after(async () => {
    await db.close();
    await server.close();
  });

  test('map queries: key, keys, ranges, descending, limit, skip, include_docs', async () => {
    const byKey = await db.query('app/byType', { key: 'fruit', reduce: false });
    assert.deepEqual(byKey.rows.map((r: any) => [r.id, r.value]), [['a', 3], ['b', 5]]);
    assert.equal(byKey.total_rows, 5);
    const keys = await db.query('app/byType', { keys: ['veg', 'nut'], reduce: false });
    assert.deepEqual(keys.rows.map((r: any) => r.id), ['c', 'd', 'e']);
    const range = await db.query('app/byType', { startkey: 'fruit', endkey: 'nut', inclusive_end: false, reduce: false });
    assert.deepEqual(range.rows.map((r: any) => r.id), ['a', 'b']);
    const desc = await db.query('app/byType', { descending: true, limit: 2, skip: 1, reduce: false, include_docs: true });
    assert.deepEqual(desc.rows.map((r: any) => r.id), ['c', 'e']);
    assert.equal(desc.rows[0].doc.n, 2);
  });

  test('built-in reduces and group levels', async () => {
    assert.deepEqual((await db.query('app/byType')).rows, [{ key: null, value: 21 }]);
    const grouped = await db.query('app/byType', { group: true });
    assert.deepEqual(grouped.rows, [{ key: 'fruit', value: 8 }, { key: 'nut', value: 1 }, { key: 'veg', value: 12 }]);
    const years = await db.query('app/count', { group_level: 1 });
    assert.deepEqual(years.rows, [{ key: [2024], value: 3 }, { key: [2025], value: 2 }]);
    const months = await db.query('app/count', { group_level: 2, startkey: [2024], endkey: [2024, {}] });
    assert.deepEqual(months.rows, [{ key: [2024, 1], value: 2 }, { key: [2024, 2], value: 1 }]);
    const stats = await db.query('app/stats', { key: 'veg' });
    assert.deepEqual(stats.rows, [{ key: null, value: { sum: 12, count: 2, min: 2, max: 10, sumsqr: 104 } }]);
    const custom = await db.query('app/custom', { group: true });
    assert.deepEqual(custom.rows, [{ key: 'fruit', value: 5 }, { key: 'nut', value: 1 }, { key: 'veg', value: 10 }]);
  });

  test('collation of mixed-type keys is CouchDB order', async () => {
    const res = await db.query('app/mixed');
    assert.deepEqual(res.rows.map((r: any) => r.key), ORDERED_KEYS);
  });

  test('CouchDB errors: reduce with include_docs, grouping a map view, unknown view', async () => {
    const bad = await request(`${server.url}/views/_design/app/_view/byType?include_docs=true`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'query_parse_error');
    const group = await request(`${server.url}/views/_design/app/_view/mixed?group=true`);
    assert.equal(group.status, 400);
    assert.equal((await request(`${server.url}/views/_design/app/_view/nope`)).status, 404);
    assert.equal((await request(`${server.url}/views/_design/nope/_view/x`)).status, 404);
    const notJson = await request(`${server.url}/views/_design/app/_view/byType?key=fruit`);
    assert.equal(notJson.status, 400);
    // Temporary views are gone, and CouchDB says so.
    const temp = await request(`${server.url}/views/_temp_view`, { method: 'POST', body: { map: 'function (doc) { emit(doc.n); }' } });
    assert.equal(temp.status, 410);
    assert.deepEqual(temp.body, { error: 'gone', reason: 'Temporary views are not supported in CouchDB' });
  });

  test('built-in reduces match by prefix, as in CouchDB; unknown ones are refused with its reason', async () => {
    const views = {
      sum: { map: 'function (doc) { if (doc.n) emit(doc.type, doc.n); }', reduce: '_sumorama' },
      count: { map: 'function (doc) { if (doc.n) emit(doc.type, doc.n); }', reduce: '_count\nare\nawesome' },
      stats: { map: 'function (doc) { if (doc.n) emit(doc.type, doc.n); }', reduce: '_stats  \n' },
    };
    assert.equal((await request(`${server.url}/views/_design/trailing`, { method: 'PUT', body: { views } })).status, 201);
    const value = async (v: string) => (await request(`${server.url}/views/_design/trailing/_view/${v}`)).body.rows[0].value;
    assert.equal(await value('sum'), 21);
    assert.equal(await value('count'), 5);
    assert.equal((await value('stats')).sum, 21);
    const unknown = await request(`${server.url}/views/_design/unknown`, { method: 'PUT', body: { views: { v: { map: 'function (doc) {}', reduce: '_foo' } } } });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, { error: 'invalid_design_doc', reason: '`_foo` is not a supported reduce function.' });
  });

  test('POST keys, multi-queries, _info, stale reads, updates', async () => {
    const post = await request(`${server.url}/views/_design/app/_view/byType`, { method: 'POST', body: { keys: ['nut'], reduce: false } });
    assert.deepEqual(post.body.rows.map((r: any) => r.id), ['e']);
    const multi = await request(`${server.url}/views/_design/app/_view/byType/queries`, { method: 'POST', body: { queries: [{ key: 'nut', reduce: false }, { group: true, limit: 1 }] } });
    assert.equal(multi.body.results.length, 2);
    assert.deepEqual(multi.body.results[1].rows, [{ key: 'fruit', value: 8 }]);
    await db.put({ _id: 'f', type: 'nut', n: 4 });
    const stale = await db.query('app/byType', { key: 'nut', reduce: false, stale: 'ok' });
    assert.deepEqual(stale.rows.map((r: any) => r.id), ['e']);
    const fresh = await db.query('app/byType', { key: 'nut', reduce: false });
    assert.deepEqual(fresh.rows.map((r: any) => r.id), ['e', 'f']);
    const info = await request(`${server.url}/views/_design/app/_info`);
    assert.equal(info.status, 200);
    assert.equal(info.body.name, 'app');
    assert.equal(typeof info.body.view_index.signature, 'string');
  });

  test('_index creates a json index as a view; _find uses it when asked; partial filters; delete', async () => {
    const created = await db.createIndex({ index: { fields: ['n'], ddoc: 'by-n', name: 'n-idx' } });
    assert.equal(created.result, 'created');
    assert.equal((await db.createIndex({ index: { fields: ['n'], ddoc: 'by-n', name: 'n-idx' } })).result, 'exists');
    const list = await db.getIndexes();
    assert.ok(list.indexes.some((i: any) => i.ddoc === '_design/by-n' && i.name === 'n-idx' && i.type === 'json'));
    const found = await db.find({ selector: { n: { $gt: 3 } }, use_index: ['by-n', 'n-idx'], sort: [{ n: 'asc' }] as any, fields: ['_id', 'n'] });
    assert.deepEqual(found.docs, [{ _id: 'f', n: 4 }, { _id: 'b', n: 5 }, { _id: 'd', n: 10 }]);
    // Its bookmark, too, resumes after the last row given, whatever was written before it since.
    const paged = { selector: { n: { $gt: 3 } }, use_index: 'by-n', sort: [{ n: 'asc' }], fields: ['_id'], limit: 1 };
    const first = await request(`${server.url}/views/_find`, { method: 'POST', body: paged });
    assert.deepEqual(first.body.docs, [{ _id: 'f' }]);
    await db.put({ _id: 'early', n: 3.5 });
    const second = await request(`${server.url}/views/_find`, { method: 'POST', body: { ...paged, bookmark: first.body.bookmark } });
    assert.deepEqual(second.body.docs, [{ _id: 'b' }]);
    await db.remove(await db.get('early'));
    const stats = await request(`${server.url}/views/_find`, { method: 'POST', body: { selector: { n: { $gt: 3 } }, use_index: 'by-n', execution_stats: true } });
    assert.equal(stats.body.execution_stats.total_keys_examined, 3);
    // A json index checks the request as the path index does: nothing half-valid runs.
    const bads: Array<[object, string]> = [
      [{ limit: -1 }, 'invalid_non_neg_integer'], [{ limit: '2' }, 'invalid_non_neg_integer'], [{ skip: -3 }, 'invalid_non_neg_integer'],
      [{ sort: [{ n: 'up' }] }, 'invalid_sort_field'], [{ sort: null }, 'invalid_sort_json'], [{ fields: null }, 'invalid_fields'],
      [{ bookmark: 'garbage!' }, 'invalid_bookmark'], [{ r: 'no limit!' }, 'invalid_pos_integer'], [{ r: 0 }, 'invalid_pos_integer'],
      [{ conflicts: 'no limit!' }, 'invalid_boolean'], [{ conflicts: null }, 'invalid_boolean'], [{ execution_stats: 1 }, 'invalid_boolean'],
    ];
    for (const [bad, error] of bads) {
      for (const endpoint of ['_find', '_explain']) {
        const res = await request(`${server.url}/views/${endpoint}`, { method: 'POST', body: { selector: { n: { $gt: 3 } }, use_index: 'by-n', ...bad } });
        assert.equal(res.status, 400, `${endpoint} ${JSON.stringify(bad)}`);
        assert.equal(res.body.error, error, `${endpoint} ${JSON.stringify(bad)}`);
      }
    }
    const badMark = await request(`${server.url}/views/_find`, { method: 'POST', body: { selector: { n: 1 }, bookmark: 'bad-bookmark' } });
    assert.equal(badMark.body.reason, 'Invalid bookmark value: "bad-bookmark"');
    const nullIndex = await request(`${server.url}/views/_find`, { method: 'POST', body: { selector: { n: { $gt: 3 } }, use_index: null } });
    assert.equal(nullIndex.body.warning, undefined, 'use_index: null names no index: nothing to warn about');
    // Mango never answers design documents, through a json index or the path index.
    for (const use_index of ['by-n', undefined]) {
      const all = await request(`${server.url}/views/_find`, { method: 'POST', body: { selector: { _id: { $gt: null } }, use_index, limit: 1000 } });
      assert.ok(all.body.docs.length > 0);
      assert.ok(all.body.docs.every((d: { _id: string }) => !d._id.startsWith('_design/')), JSON.stringify(all.body.docs.map((d: { _id: string }) => d._id)));
    }
    await db.createIndex({ index: { fields: ['type'], partial_filter_selector: { n: { $gte: 5 } } }, ddoc: 'partial', name: 'big' });
    const partial = await db.find({ selector: { type: { $gt: null } }, use_index: ['partial', 'big'] });
    assert.deepEqual(partial.docs.map((d: any) => d._id).sort(), ['b', 'd']);
    // Without use_index, _find picks a json index that fits the selector; _explain says which.
    const auto = await request(`${server.url}/views/_explain`, { method: 'POST', body: { selector: { n: { $gte: 5 } } } });
    assert.equal(auto.body.index.ddoc, '_design/by-n');
    assert.equal(auto.body.index.type, 'json');
    const autoFind = await db.find({ selector: { n: { $gte: 5 } } });
    assert.deepEqual(autoFind.docs.map((d: any) => d._id).sort(), ['b', 'd']);
    assert.deepEqual(
      [auto.body.partitioned, auto.body.covering, auto.body.opts.use_index, auto.body.opts.bookmark, auto.body.mrargs.view_type, auto.body.mrargs.include_docs],
      [false, false, [], 'nil', 'map', true],
    );
    const other = await request(`${server.url}/views/_explain`, { method: 'POST', body: { selector: { type: 'veg' }, use_index: 'nope', limit: 7, execution_stats: true } });
    assert.equal(other.body.index.name, '_path_index');
    // CouchDB's shape, snake_case throughout: the options echoed, the view arguments, the candidates.
    assert.deepEqual(other.body.opts.use_index, ['nope']);
    assert.deepEqual([other.body.opts.limit, other.body.limit, other.body.opts.execution_stats], [7, 7, true]);
    assert.deepEqual([other.body.mrargs.start_key, other.body.mrargs.end_key, other.body.mrargs.direction], ['veg', 'veg', 'fwd']);
    assert.equal(other.body.index_candidates[0].index.name, '_all_docs');
    assert.equal(typeof other.body.sorted_by_index, 'boolean');
    const keys = (v: unknown): string[] => (v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).flatMap(([k, x]) => (k === 'selector' || k === 'def' ? [k] : [k, ...keys(x)])) : []);
    for (const k of [...keys(other.body), ...keys(auto.body)]) assert.ok(!/[A-Z]/.test(k), `camelCase on the wire: ${k}`);
    const scanAll = await request(`${server.url}/views/_explain`, { method: 'POST', body: { selector: { _id: { $gt: null } } } });
    assert.deepEqual([scanAll.body.index.name, scanAll.body.mrargs.start_key, scanAll.body.mrargs.end_key], ['_all_docs', null, '<MAX>']);
    // The path index still answers what no json index fits.
    const plain = await db.find({ selector: { type: 'veg' } });
    assert.deepEqual(plain.docs.map((d: any) => d._id).sort(), ['c', 'd']);
    // Refused index requests carry CouchDB's error names.
    for (const [body, status, error] of [
      [{ name: 'x' }, 400, 'missing_required_key'],
      [{ index: { fields: ['n'] }, type: 'geo' }, 400, 'invalid_index'],
      [{ index: { fields: [{ a: 'asc' }, { b: 'desc' }] } }, 400, 'unsupported_mixed_sort'],
      [{ index: { fields: ['n'] }, type: 'text' }, 503, 'required index service unavailable'],
    ] as const) {
      const r = await request(`${server.url}/views/_index`, { method: 'POST', body });
      assert.deepEqual([r.status, r.body.error], [status, error], JSON.stringify(body));
    }
    const del = await request(`${server.url}/views/_index/_design/by-n/json/n-idx`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal((await request(`${server.url}/views/_design/by-n`)).status, 404);
  });

  test('_index as CouchDB serves it: limit and skip, _bulk_delete, deletes and the statuses of other paths', async () => {
    const u = `${server.url}/index-crud`;
    await request(u, { method: 'PUT' });
    for (let i = 1; i <= 5; i++) {
      const made = await request(`${u}/_index`, { method: 'POST', body: { index: { fields: [`field${i}`] }, name: `idx_0${i}`, ddoc: `dd${i}` } });
      assert.equal(made.body.result, 'created');
    }
    const all = (await request(`${u}/_index`)).body;
    // _all_docs, then the five json indexes, as CouchDB lists them (the automatic path index is not listed).
    assert.equal(all.total_rows, 6);
    assert.deepEqual(all.indexes.map((i: any) => [i.name, i.type]), [['_all_docs', 'special'], ...[1, 2, 3, 4, 5].map((i) => [`idx_0${i}`, 'json'])]);
    const count = async (q: string) => (await request(`${u}/_index?${q}`)).body.indexes.length;
    assert.deepEqual([await count('limit=2'), await count('limit=5&skip=4'), await count('skip=5'), await count('skip=6'), await count('skip=100'), await count('limit=10000000')], [2, 2, 1, 0, 0, 6]);
    for (const q of ['skip=-1', 'limit=0', 'limit=x']) {
      const bad = await request(`${u}/_index?${q}`);
      assert.equal(bad.status, 500, q);
      assert.equal(bad.body.error, 'invalid_list_index_params');
    }
    // Creation refuses a null type and the old `selector` option.
    assert.equal((await request(`${u}/_index`, { method: 'POST', body: { index: { fields: ['foo'] }, type: null } })).status, 400);
    assert.equal((await request(`${u}/_index`, { method: 'POST', body: { index: { fields: ['location'], selector: { location: { $gte: 'FRA' } } } } })).status, 400);
    // Paths that name no index: 404 for every method; known paths with the wrong method: 405.
    for (const sub of ['a', 'a/b', 'a/b/c/d', 'a/b/c/d/e/f']) {
      for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'COPY']) assert.equal((await request(`${u}/_index/${sub}`, { method })).status, 404, `${method} ${sub}`);
    }
    for (const method of ['GET', 'PUT', 'DELETE']) assert.equal((await request(`${u}/_index/_bulk_delete`, { method })).status, 405, method);
    for (const path of ['dd1/json/idx_01', '_design/dd1/json/idx_01']) {
      for (const method of ['GET', 'PUT', 'POST']) assert.equal((await request(`${u}/_index/${path}`, { method })).status, 405, `${method} ${path}`);
    }
    assert.equal((await request(`${u}/_index/dd1/not_a_real_type/idx_01`, { method: 'DELETE' })).status, 404);
    assert.equal((await request(`${u}/_index/dd1/json/nope`, { method: 'DELETE' })).status, 404);
    assert.equal((await request(`${u}/_index/nope/json/idx_01`, { method: 'DELETE' })).status, 404);
    assert.deepEqual((await request(`${u}/_index/_design/dd1/json/idx_01`, { method: 'DELETE' })).body, { ok: true });
    // _bulk_delete: each design document on its own.
    const bulk = await request(`${u}/_index/_bulk_delete`, { method: 'POST', body: { docids: ['_design/dd2', 'dd3', '_design/this_is_not_an_index_name'], w: 3 } });
    assert.equal(bulk.status, 200);
    assert.deepEqual(bulk.body, { success: [{ id: '_design/dd2', ok: true }, { id: '_design/dd3', ok: true }], fail: [{ id: '_design/this_is_not_an_index_name', error: 'not_found' }] });
    assert.deepEqual((await request(`${u}/_index`)).body.indexes.map((i: any) => i.name), ['_all_docs', 'idx_04', 'idx_05']);
    assert.equal((await request(`${u}/_index/_bulk_delete`, { method: 'POST', body: { docids: [null] } })).body.error, 'invalid_bulk_docs');
    // A partial index named in use_index answers from what it holds, even when the selector
    // cannot narrow it.
    await request(`${u}/_bulk_docs`, { method: 'POST', body: { docs: ['AUS', 'FRA', 'GBR', 'USA', 'BRA'].map((location, i) => ({ _id: `p${i}`, location })) } });
    await request(`${u}/_index`, { method: 'POST', body: { index: { fields: ['location'], partial_filter_selector: { location: { $gte: 'FRA' } } }, ddoc: 'Selected', name: 'Selected' } });
    const partial = await request(`${u}/_find`, { method: 'POST', body: { selector: { location: { $exists: true } }, use_index: 'Selected' } });
    assert.deepEqual(partial.body.docs.map((d: any) => d.location).sort(), ['FRA', 'GBR', 'USA']);
    assert.equal(partial.body.warning, undefined);
    // A partial filter is stored normalized, as CouchDB writes it into the design document.
    await request(`${u}/_index`, { method: 'POST', body: { index: { fields: ['hello'], partial_filter_selector: { type: 'x' } }, ddoc: 'test-partial', name: 'type-x' } });
    const stored = (await request(`${u}/_design/test-partial`)).body;
    assert.deepEqual(stored.views['type-x'].map.partial_filter_selector, { type: { $eq: 'x' } });
  });

  test('a json index serves _find only when the selector needs every field it holds; CouchDB picks the best of several', async () => {
    const u = `${server.url}/index-choice`;
    await request(u, { method: 'PUT' });
    const people = [
      { _id: 'u1', company: 'Pharmex', manager: true, name: 'Eddie', age: 30 },
      { _id: 'u2', company: 'Pharmex', name: 'Eddie', age: 40 },
      { _id: 'u3', company: 'Globex', manager: false, name: 'Ann', age: 22 },
    ];
    await request(`${u}/_bulk_docs`, { method: 'POST', body: { docs: people } });
    const index = (fields: string[], ddoc: string) => request(`${u}/_index`, { method: 'POST', body: { index: { fields }, ddoc, name: ddoc } });
    await index(['company', 'manager'], 'company_and_manager');
    await index(['name', 'age', 'company'], 'aaa');
    await index(['name'], 'zzz');
    const find = async (body: object) => (await request(`${u}/_find`, { method: 'POST', body })).body;
    const explain = async (body: object) => (await request(`${u}/_explain`, { method: 'POST', body })).body;
    const ids = (r: { docs: Array<{ _id: string }> }) => r.docs.map((d) => d._id).sort();
    // u2 has no manager: an index on [company, manager] does not hold it, so it is not used.
    assert.deepEqual(ids(await find({ selector: { company: 'Pharmex' } })), ['u1', 'u2']);
    assert.notEqual((await explain({ selector: { company: 'Pharmex' } })).index.name, 'company_and_manager');
    assert.deepEqual(ids(await find({ selector: { company: { $gt: null } } })), ['u1', 'u2', 'u3']);
    // Named, it is refused with CouchDB's warning, and the answer is still whole.
    const named = await find({ selector: { company: 'Pharmex' }, use_index: 'company_and_manager' });
    assert.deepEqual(ids(named), ['u1', 'u2']);
    assert.equal(named.warning, '_design/company_and_manager was not used because it does not contain a valid index for this query.');
    const pair = await find({ selector: { company: 'Pharmex' }, use_index: ['company_and_manager', 'company_and_manager'] });
    assert.equal(pair.warning, '_design/company_and_manager, company_and_manager was not used because it is not a valid index for this query.');
    // Once the selector needs both fields, the index serves it.
    const both = { selector: { company: 'Pharmex', manager: { $exists: true } } };
    assert.equal((await explain(both)).index.name, 'company_and_manager');
    assert.deepEqual(ids(await find(both)), ['u1']);
    // update: false reads the index as it stands; the next query brings it up to date.
    await request(`${u}/u4`, { method: 'PUT', body: { company: 'Pharmex', manager: true } });
    assert.deepEqual(ids(await find({ ...both, update: false })), ['u1']);
    assert.deepEqual(ids(await find(both)), ['u1', 'u4']);
    // [name] fits {name} where [name, age, company] does not (the selector needs no age).
    assert.equal((await explain({ selector: { name: 'Eddie' } })).index.name, 'zzz');
    assert.deepEqual(ids(await find({ selector: { name: 'Eddie' } })), ['u1', 'u2']);
    // Of two usable indexes, the one whose leading fields the selector narrows more wins.
    const narrow = { selector: { name: 'Eddie', age: 30, company: { $gt: null } } };
    assert.equal((await explain(narrow)).index.name, 'aaa');
    assert.deepEqual(ids(await find(narrow)), ['u1']);
    // A sort field needs no condition: a sorted answer holds only the documents that have it.
    const sorted = await find({ selector: { company: 'Pharmex' }, sort: ['company', 'manager'], use_index: 'company_and_manager' });
    assert.equal(sorted.warning, undefined);
    assert.deepEqual(ids(sorted), ['u1', 'u4']);
  });

  test('_find as CouchDB answers its edge cases: a lone empty $or, fractional execution time', async () => {
    const u = `${server.url}/find-edges`;
    await request(u, { method: 'PUT' });
    await request(`${u}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a', age: 22 }, { _id: 'b', age: 23 }] } });
    const find = async (body: object) => (await request(`${u}/_find`, { method: 'POST', body })).body;
    assert.deepEqual((await find({ selector: { $or: [] } })).docs, []);
    assert.deepEqual((await find({ selector: { age: 22, $or: [] } })).docs.map((d: { _id: string }) => d._id), ['a']);
    const stats = (await find({ selector: { age: { $gt: 0 } }, execution_stats: true })).execution_stats;
    assert.equal(typeof stats.execution_time_ms, 'number');
    assert.ok(stats.execution_time_ms > 0, 'measured below the millisecond, never rounded down to 0');
  });

  test('design documents replicate like any document, and their views work on arrival', async () => {
    const { localPouch } = await import('../http/pouchdb.ts');
    const { Local, cleanup } = await localPouch();
    const local = new Local('with-ddoc');
    try {
      await local.bulkDocs([
        { _id: '_design/r', views: { byColor: { map: 'function (doc) { emit(doc.color, 1); }', reduce: '_count' } }, validate_doc_update: 'function (n) { if (n.color === "plaid") throw({forbidden: "no plaid"}); }' },
        { _id: 'x1', color: 'red' },
        { _id: 'x2', color: 'blue' },
        { _id: 'x3', color: 'red' },
      ]);
      const result = await local.replicate.to(`${server.url}/replicated`);
      assert.equal(result.docs_written, 4);
      const remote = new PouchDB(`${server.url}/replicated`);
      try {
        assert.deepEqual((await remote.query('r/byColor', { group: true })).rows, [{ key: 'blue', value: 1 }, { key: 'red', value: 2 }]);
        await assert.rejects(remote.put({ _id: 'x4', color: 'plaid' }), (err: { status: number }) => err.status === 403);
      } finally {
        await remote.close();
      }
    } finally {
      await local.close();
      await cleanup();
    }
  });

  test('editing a view rebuilds it; _view_cleanup drops the old index and keeps the live one', async () => {
    const ddoc = await db.get('_design/app');
    ddoc.views.byType.map = 'function (doc) { if (doc.type) emit([doc.type], doc.n); }';
    await db.put(ddoc);
    const res = await db.query('app/byType', { group: true });
    assert.deepEqual(res.rows[0], { key: ['fruit'], value: 8 });
    const cleanup = await request(`${server.url}/views/_view_cleanup`, { method: 'POST', body: {} });
    assert.equal(cleanup.status, 202);
    assert.deepEqual((await db.query('app/byType', { group: true })).rows[0], { key: ['fruit'], value: 8 });
  });

  test('design documents sharing the same views keep working when one of them changes or goes away', async () => {
    const shared = new PouchDB(`${server.url}/shared-views`);
    const views = { v: { map: 'function (doc) { if (doc.x) emit(doc.x, null); }' } };
    const a = await shared.put({ _id: 'a', x: 1 });
    const d = await shared.put({ _id: '_design/d', views });
    await shared.put({ _id: '_design/e', views });
    assert.deepEqual((await shared.query('d/v')).rows.map((r: any) => r.key), [1]);
    // The document that opened the shared index changes (not its views), then goes away; the
    // index reads new documents through the other one (CouchDB's multiple_rows test).
    const d2 = await shared.put({ _id: '_design/d', _rev: d.rev, views, filters: { f: 'function () { return true; }' } });
    const a2 = await shared.put({ _id: 'a', _rev: a.rev, x: 2 });
    assert.deepEqual((await shared.query('e/v')).rows.map((r: any) => r.key), [2]);
    await shared.remove('_design/d', d2.rev);
    await shared.put({ _id: 'a', _rev: a2.rev, x: 3 });
    assert.deepEqual((await shared.query('e/v')).rows.map((r: any) => r.key), [3]);
    await shared.put({ _id: '_design/d', views });
    await shared.put({ _id: 'b', x: 4 });
    assert.deepEqual((await shared.query('d/v')).rows.map((r: any) => r.key), [3, 4]);
    // include_docs with attachments=true brings the attachments' data, as a document read does.
    await shared.put({ _id: 'with-att', x: 5, _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } });
    const att = await request(`${server.url}/shared-views/_design/d/_view/v?key=5&include_docs=true&attachments=true`);
    assert.equal(att.body.rows[0].doc._attachments['a.txt'].data, Buffer.from('hello').toString('base64'));
    assert.equal(att.body.rows[0].doc._attachments['a.txt'].stub, undefined);
    // A parameter in both the query string and a POST body: the query string wins, as in CouchDB.
    const both = await request(`${server.url}/shared-views/_design/d/_view/v?limit=1`, { method: 'POST', body: { limit: 2 } });
    assert.deepEqual(both.body.rows.map((r: any) => r.key), [3]);
  });

  test('_compact/{ddoc} compacts a design document\'s index (202), and is a 404 for a missing one', async () => {
    const compact = await request(`${server.url}/views/_compact/app`, { method: 'POST', body: {} });
    assert.equal(compact.status, 202);
    assert.deepEqual(compact.body, { ok: true });
    const missing = await request(`${server.url}/views/_compact/nope`, { method: 'POST', body: {} });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
    assert.deepEqual((await db.query('app/byType', { group: true })).rows[0], { key: ['fruit'], value: 8 });
  });
});

test('include_docs follows an emitted {_rev} (the row document at that revision) and {_id, _rev}', async () => {
  const server = await startTestServer({ engine: 'leveldb' });
  try {
    const u = `${server.url}/pinned`;
    await request(u, { method: 'PUT' });
    const first = await request(`${u}/r`, { method: 'PUT', body: { v: 1 } });
    await request(`${u}/r`, { method: 'PUT', body: { _rev: first.body.rev, v: 2, prev: first.body.rev } });
    await request(`${u}/other`, { method: 'PUT', body: { v: 'o', link: 'r', linkRev: first.body.rev } });
    await request(`${u}/_design/p`, {
      method: 'PUT',
      body: { views: {
        prev: { map: 'function (doc) { if (doc.prev) emit(doc._id, { _rev: doc.prev }); }' },
        link: { map: 'function (doc) { if (doc.link) emit(doc._id, { _id: doc.link, _rev: doc.linkRev }); }' },
      } },
    });
    const prev = await request(`${u}/_design/p/_view/prev?include_docs=true`);
    assert.deepEqual(prev.body.rows.map((r: any) => [r.id, r.doc._rev, r.doc.v]), [['r', first.body.rev, 1]]);
    const link = await request(`${u}/_design/p/_view/link?include_docs=true`);
    assert.deepEqual(link.body.rows.map((r: any) => [r.id, r.doc._id, r.doc.v]), [['other', 'r', 1]]);
  } finally {
    await server.close();
  }
});
