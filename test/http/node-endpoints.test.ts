// CouchDB's node-level endpoints for admins: _membership, _node/{node} and its _versions, _system,
// _stats (and a branch of it), _prometheus and a read-only _config; unknown nodes are 404.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('node endpoints', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer({ bodyLimit: 1_000_000 });
    u = server.url;
  });
  after(() => server.close());

  test('_membership and _node/{_local|nonode@nohost}', async () => {
    assert.deepEqual((await request(`${u}/_membership`)).body, { all_nodes: ['nonode@nohost'], cluster_nodes: ['nonode@nohost'] });
    assert.deepEqual((await request(`${u}/_node/_local`)).body, { name: 'nonode@nohost' });
    assert.deepEqual((await request(`${u}/_node/nonode@nohost`)).body, { name: 'nonode@nohost' });
    const other = await request(`${u}/_node/couchdb@elsewhere/_stats`);
    assert.equal(other.status, 404);
    assert.equal(other.body.error, 'not_found');
    const versions = (await request(`${u}/_node/_local/_versions`)).body;
    assert.equal(versions.javascript_engine.name, 'quickjs');
    assert.equal(versions.node.version, process.version);
    const system = (await request(`${u}/_node/_local/_system`)).body;
    assert.ok(system.memory.rss > 0 && system.uptime >= 0 && Number.isInteger(system.open_databases));
  });

  test('_cluster_setup: a single node, not set up by the setup wizard', async () => {
    // No admin configured here: CouchDB calls that single_node_disabled.
    assert.deepEqual((await request(`${u}/_cluster_setup`)).body, { state: 'single_node_disabled' });
    const wizard = await request(`${u}/_cluster_setup`, { method: 'POST', body: { action: 'enable_single_node', username: 'a', password: 'b' } });
    assert.equal(wizard.status, 400);
    assert.equal(wizard.body.error, 'bad_request');
    const admin = await startTestServer({ admin: 'root:pw' });
    try {
      const auth = { authorization: 'Basic ' + Buffer.from('root:pw').toString('base64') };
      assert.deepEqual((await request(`${admin.url}/_cluster_setup`, { headers: auth })).body, { state: 'single_node_enabled' });
      assert.equal((await request(`${admin.url}/_cluster_setup`)).status, 401, 'the admin\'s only');
    } finally {
      await admin.close();
    }
  });

  test('_stats counts requests by method and status; _prometheus says the same', async () => {
    const before = (await request(`${u}/_node/_local/_stats`)).body.couchdb;
    const n = (tree: any, ...path: string[]) => path.reduce((at, p) => at?.[p], tree)?.value ?? 0;
    await request(`${u}/stats-db`, { method: 'PUT' });
    await request(`${u}/stats-db/missing`);
    await request(`${u}/stats-db/missing`);
    const after = (await request(`${u}/_node/_local/_stats`)).body.couchdb;
    // The first _stats request itself is counted too.
    assert.equal(n(after, 'httpd', 'requests') - n(before, 'httpd', 'requests'), 4);
    assert.equal(n(after, 'httpd_request_methods', 'PUT') - n(before, 'httpd_request_methods', 'PUT'), 1);
    assert.equal(n(after, 'httpd_status_codes', '404') - n(before, 'httpd_status_codes', '404'), 2);
    assert.equal(n(after, 'httpd_status_codes', '201') - n(before, 'httpd_status_codes', '201'), 1);
    assert.equal(after.request_time.type, 'histogram');
    assert.ok(after.request_time.value.n >= 4 && after.request_time.value.max >= after.request_time.value.min);
    assert.ok(after.open_databases.value >= 1);
    const branch = await request(`${u}/_node/_local/_stats/couchdb/httpd_status_codes/404`);
    assert.deepEqual(Object.keys(branch.body).sort(), ['desc', 'type', 'value']);
    assert.equal((await request(`${u}/_node/_local/_stats/couchdb/nothing`)).status, 404);
    // Object.prototype's members are no stats (they answered 200 with an empty body, or {}).
    for (const path of ['constructor', '__proto__', 'couchdb/toString', 'couchdb/httpd/__proto__']) {
      assert.equal((await request(`${u}/_node/_local/_stats/${path}`)).status, 404, path);
    }

    const res = await fetch(`${u}/_node/_local/_prometheus`);
    assert.match(res.headers.get('content-type')!, /^text\/plain/);
    const text = await res.text();
    const sample = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(sample('couchdb_httpd_requests_total') >= n(after, 'httpd', 'requests'));
    assert.ok(sample('couchdb_httpd_status_codes{code="404"}') >= 2);
    assert.ok(sample('couchdb_request_time_seconds_count') >= 4);
    assert.ok(sample('refuge_process_resident_memory_bytes') > 0);
    for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+)$/, line);
  });

  test('_config is read-only: the settings the node runs with, no password', async () => {
    const config = (await request(`${u}/_node/_local/_config`)).body;
    assert.equal(config.chttpd.port, new URL(u).port);
    assert.equal(config.chttpd.bind_address, '127.0.0.1');
    assert.equal(config.chttpd.max_http_request_size, '1000000');
    assert.equal(config.couchdb.max_dbs_open, '100');
    assert.deepEqual((await request(`${u}/_node/_local/_config/chttpd`)).body, config.chttpd);
    const port = await request(`${u}/_node/_local/_config/chttpd/port`);
    assert.equal(port.body, config.chttpd.port);
    assert.match(port.headers.get('content-type')!, /application\/json/);
    assert.equal((await request(`${u}/_node/_local/_config/chttpd/nothing`)).status, 404);
    // Nor settings: `constructor/name` answered "Object", `chttpd/constructor` 200 with no body.
    for (const path of ['chttpd/constructor', 'constructor/name', '__proto__/toString', 'chttpd/__proto__']) {
      const r = await request(`${u}/_node/_local/_config/${path}`);
      assert.deepEqual([r.status, r.body?.error], [404, 'not_found'], path);
    }
    for (const method of ['PUT', 'DELETE']) {
      const r = await request(`${u}/_node/_local/_config/chttpd/port`, { method, body: '1234' });
      assert.equal(r.status, 405, method);
      assert.equal(r.body.error, 'method_not_allowed');
    }
    assert.equal((await request(`${u}/_node/_local/_config`)).body.chttpd.port, config.chttpd.port);
  });
});

test('node endpoints are for server admins; the admin password is never shown', async () => {
  const server = await startTestServer({ admin: 'admin:secret' });
  const auth = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  try {
    for (const path of ['/_membership', '/_node/_local', '/_node/_local/_stats', '/_node/_local/_prometheus', '/_node/_local/_config', '/_node/_local/_system']) {
      assert.equal((await request(`${server.url}${path}`)).status, 401, path);
      assert.equal((await request(`${server.url}${path}`, { headers: auth })).status, 200, path);
    }
    const config = await request(`${server.url}/_node/_local/_config`, { headers: auth });
    assert.deepEqual(config.body.admins, { admin: '-hashed-' });
    assert.ok(!JSON.stringify(config.body).includes('secret'));
  } finally {
    await server.close();
  }
});
