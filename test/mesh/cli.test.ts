// `refuge id` and `refuge peers` as a user runs them (child processes on a data directory), also
// while a mesh node runs on that directory: its published addresses, and grants it obeys at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseInvite } from '../../src/mesh/index.ts';
import { runRefuge, startPeerNode, tempDir } from './helpers.ts';

const cli = runRefuge;

test('refuge id prints the public key by default, the peer id, and an invite', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  // An address that is none is a usage error, said before an identity is minted.
  const bad = await cli(['id', '--data', dir.path, '--invite', '--addr', 'garbage']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /not a multiaddr: "garbage"/);
  assert.deepEqual(await readdir(dir.path), []);
  const key = await cli(['id', '--data', dir.path]);
  assert.equal(key.code, 0, key.stderr);
  // A new identity is said to be new (a mistyped --data mints one too); an existing one is not.
  assert.match(key.stderr, /no identity in .* yet: created a new one there/);
  const identity = JSON.parse(await readFile(join(dir.path, 'identity.json'), 'utf8')) as { publicKey: string };
  assert.equal(key.stdout.trim(), identity.publicKey);
  const peer = await cli(['id', '--data', dir.path, '--peer-id']);
  assert.equal(peer.stderr, '');
  assert.match(peer.stdout.trim(), /^12D3KooW\w+$/);
  const invite = await cli(['id', '--data', dir.path, '--invite', '--addr', '/ip4/127.0.0.1/tcp/4001', '--addr', '/ip4/127.0.0.1/tcp/4002/ws']);
  assert.equal(invite.code, 0, invite.stderr);
  assert.deepEqual(parseInvite(invite.stdout.trim()), { id: peer.stdout.trim(), addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'] });
  const json = JSON.parse((await cli(['id', '--data', dir.path, '--json'])).stdout) as Record<string, unknown>;
  assert.equal(json.peerId, peer.stdout.trim());
  assert.equal(json.publicKey, identity.publicKey);
  assert.equal((await cli(['id', '--peer-id', '--invite', '--data', dir.path])).code, 2);
});

test('refuge peers: add from an invite, name, groups, grants, rm; mistakes exit 2', async (t) => {
  const dir = await tempDir();
  const other = await tempDir();
  t.after(async () => Promise.all([dir.cleanup(), other.cleanup()]));
  const invite = (await cli(['id', '--data', other.path, '--invite', '--addr', '/ip4/127.0.0.1/tcp/4001'])).stdout.trim();
  const id = parseInvite(invite).id;
  const d = ['--data', dir.path];
  const added = await cli(['peers', 'add', invite, '--name', 'bob', '--group', 'family', ...d]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal((await cli(['peers', 'join', 'bob', 'work', ...d])).code, 0);
  const ls = JSON.parse((await cli(['peers', 'ls', '--json', ...d])).stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(ls.map(({ added: _, ...p }) => p), [{ id, name: 'bob', groups: ['family', 'work'], addrs: ['/ip4/127.0.0.1/tcp/4001'] }]);
  assert.equal((await cli(['peers', 'grant', 'notes', 'rw', 'bob', ...d])).code, 0);
  assert.equal((await cli(['peers', 'grant', 'photos', 'read', 'group:family', ...d])).code, 0);
  assert.equal((await cli(['peers', 'grant', 'ref:home/pics', 'read', 'public', ...d])).code, 0, 'refs are granted like databases');
  const text = await cli(['peers', 'grants', 'notes', ...d]);
  assert.match(text.stdout, new RegExp(`read:  peer:${id} \\(bob\\)`));
  assert.deepEqual(JSON.parse((await cli(['peers', 'grants', '--json', ...d])).stdout), {
    notes: { read: [`peer:${id}`], write: [`peer:${id}`] },
    photos: { read: ['group:family'], write: [] },
    'ref:home/pics': { read: ['public'], write: [] },
  });
  assert.equal((await cli(['peers', 'grant', 'notes', 'write', 'public', ...d])).code, 1, 'public writes are refused');
  for (const bad of [['add', 'nonsense'], ['add', invite, '--name', 'public'], ['status'], ['grant', 'notes', 'rw', 'nobody'], ['grant', 'Bad', 'read', 'public'], ['grant', 'notes', 'admin', 'public'], ['grant', 'ref:bad@name', 'read', 'public'], ['frobnicate']]) {
    const r = await cli(['peers', ...bad, ...d]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    // The mistake and the usage line, not the whole help burying it.
    assert.match(r.stderr, /^refuge: .+\nusage: refuge peers /, r.stderr);
    assert.ok(r.stderr.split('\n').length <= 4, r.stderr);
  }
  assert.equal((await cli(['peers', 'rm', 'bob', ...d])).code, 0);
  assert.deepEqual(JSON.parse((await cli(['peers', 'grants', '--json', ...d])).stdout), {
    photos: { read: ['group:family'], write: [] },
    'ref:home/pics': { read: ['public'], write: [] },
  });
  assert.equal((await cli(['peers', 'rm', 'bob', ...d])).code, 1, 'not trusted any more');
  // A node's own invite is refused: it would trust itself.
  const own = (await cli(['id', '--data', dir.path, '--invite', '--addr', '/ip4/127.0.0.1/tcp/4003'])).stdout.trim();
  const self = await cli(['peers', 'add', own, ...d]);
  assert.equal(self.code, 2, self.stderr);
  assert.match(self.stderr, /this node's own id/);
  assert.equal(JSON.parse((await cli(['peers', 'ls', '--json', ...d])).stdout).length, 0);
});

test('a node running on the data directory publishes its addresses and obeys grants the CLI adds', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const a = await startPeerNode({ dataDir: dir.path, publishAddressesTo: dir.path });
  const b = await startPeerNode();
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await a.node.createDb('notes');
  const invite = await cli(['id', '--data', dir.path, '--invite']);
  assert.deepEqual(parseInvite(invite.stdout.trim()).addrs.length, 2, invite.stderr);
  assert.equal(await b.mesh.connect(invite.stdout.trim()), a.mesh.peerId);
  assert.deepEqual(await b.mesh.sharedDbs(a.mesh.peerId), []);
  const added = await cli(['peers', 'add', b.mesh.peerId, '--name', 'b', '--data', dir.path]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal((await cli(['peers', 'grant', 'notes', 'read', 'b', '--data', dir.path])).code, 0);
  assert.deepEqual(await b.mesh.sharedDbs(a.mesh.peerId), [{ db: 'notes', read: true, write: false }]);
});

test('refuge id --url --invite asks the running node where its mesh listens', async (t) => {
  const a = await startPeerNode();
  const { startServer } = await import('../../src/http/index.ts');
  const server = await startServer({ node: a.node, port: 0, replicator: false });
  server.context.extras.mesh = a.mesh;
  t.after(async () => {
    await server.close();
    await a.close();
  });
  const got = await cli(['id', '--url', server.url, '--invite']);
  assert.equal(got.code, 0, got.stderr);
  const invite = parseInvite(got.stdout.trim());
  assert.equal(invite.id, a.mesh.peerId);
  // Invites carry the addresses without the peer id each would repeat.
  assert.deepEqual(invite.addrs.slice().sort(), a.mesh.addresses().map((m) => m.replace(/\/p2p\/[^/]+$/, '')).sort());
});
