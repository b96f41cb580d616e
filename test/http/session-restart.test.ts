// A session cookie outlives a restart of its node, as CouchDB's do (the cookie secret comes from
// the node's key, kept in its data directory): until it expires, the admin's password changes or
// the user's does; a cookie from another node is none. Its SameSite is a setting, as CouchDB's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/http/index.ts';
import { openNode, type RefugeNode } from '../../src/node/index.ts';

test('a session cookie holds across restarts of its node, and ends with its password or on another node', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'refuge-session-'));
  const other = await mkdtemp(join(tmpdir(), 'refuge-session-other-'));
  let node: RefugeNode | undefined;
  let server: RunningServer | undefined;
  t.after(async () => {
    await server?.close();
    await node?.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  });
  const start = async (dir: string, admin: string) => {
    await server?.close();
    await node?.close();
    node = await openNode({ dataDir: dir, engine: 'leveldb', durability: 'fast', passwordIterations: 10 });
    server = await startServer({ node, port: 0, host: '127.0.0.1', admin });
    return server.url;
  };
  const whoAmI = async (url: string, cookie: string) => ((await (await fetch(`${url}/_session`, { headers: { cookie } })).json()) as { userCtx: { name: string | null } }).userCtx.name;
  const login = async (url: string, name: string, password: string) => {
    const res = await fetch(`${url}/_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
    assert.equal(res.status, 200, `${name} logs in`);
    return res.headers.get('set-cookie')!.split(';', 1)[0]!;
  };

  let url = await start(dataDir, 'admin:secret');
  const admin = await login(url, 'admin', 'secret');
  const basic = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  assert.equal((await fetch(`${url}/_users`, { method: 'PUT', headers: basic })).status, 201);
  const signup = await fetch(`${url}/_users/org.couchdb.user:ann`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann', type: 'user', roles: [], password: 'pw1' }) });
  assert.equal(signup.status, 201);
  const ann = await login(url, 'ann', 'pw1');
  assert.equal(await whoAmI(url, admin), 'admin');

  // The node stops and starts again on its data directory: both sessions hold.
  url = await start(dataDir, 'admin:secret');
  assert.equal(await whoAmI(url, admin), 'admin');
  assert.equal(await whoAmI(url, ann), 'ann');
  assert.equal((await fetch(`${url}/_all_dbs`, { headers: { cookie: admin } })).status, 200);

  // Another admin password ends the admin's sessions, not the user's.
  url = await start(dataDir, 'admin:changed');
  assert.equal(await whoAmI(url, admin), null);
  assert.equal(await whoAmI(url, ann), 'ann');

  // Another node (another key) knows none of them.
  url = await start(other, 'admin:secret');
  assert.equal(await whoAmI(url, admin), null);
});

test("the session cookie's SameSite: lax unless set; none makes it Secure, as browsers require", async (t) => {
  const node = await openNode({ engine: 'memory' });
  const servers: RunningServer[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
    await node.close();
  });
  const cookieOf = async (sameSite?: 'lax' | 'strict' | 'none') => {
    const server = await startServer({ node, port: 0, host: '127.0.0.1', admin: 'admin:secret', ...(sameSite && { cookieSameSite: sameSite }) });
    servers.push(server);
    const res = await fetch(`${server.url}/_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'secret' }) });
    return res.headers.get('set-cookie') ?? '';
  };
  assert.match(await cookieOf(), /; SameSite=Lax$/);
  assert.match(await cookieOf('strict'), /; SameSite=Strict$/);
  assert.match(await cookieOf('none'), /; SameSite=None; Secure$/);
});
