// Trust state changes (add, rename, groups, remove, grants), their validation, and the two stores:
// memory, and trust.json in a data directory (atomic writes, changes by another process picked up).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNodeKey } from '../../src/refs/keys.ts';
import {
  FileTrustStore,
  MemoryTrustStore,
  TRUST_FILE,
  addPeer,
  emptyTrust,
  findPeer,
  parseSubject,
  parseTrustState,
  peerIdOf,
  removePeer,
  setGrant,
  setGroup,
} from '../../src/mesh/index.ts';

const P = peerIdOf(generateNodeKey().publicKey);
const Q = peerIdOf(generateNodeKey().publicKey);

test('addPeer merges: names, groups and addresses accumulate; names are unique and not ids', () => {
  let s = addPeer(emptyTrust(), { id: P, name: 'laptop', groups: ['family'], addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${P}`] }, new Date(0));
  s = addPeer(s, { id: P, groups: ['work', 'family'], addrs: ['/ip4/127.0.0.1/tcp/2'] });
  assert.deepEqual(s.peers[P], { id: P, name: 'laptop', groups: ['family', 'work'], addrs: ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/1'], added: new Date(0).toISOString() });
  // Re-added at new ports again and again: the newest first, at most 8 kept.
  let again = s;
  for (let port = 10; port < 30; port++) again = addPeer(again, { id: P, addrs: [`/ip4/127.0.0.1/tcp/${port}`] });
  assert.deepEqual(again.peers[P]!.addrs, Array.from({ length: 8 }, (_, i) => `/ip4/127.0.0.1/tcp/${29 - i}`));
  assert.throws(() => addPeer(s, { id: Q, name: 'laptop' }), { code: 'conflict' });
  assert.throws(() => addPeer(s, { id: Q, name: P }), { code: 'bad_request' });
  // Nor the words grants name grantees with: a peer called `public` would make its grants everyone's.
  for (const name of ['public', 'PUBLIC', 'group:home', 'peer:x']) assert.throws(() => addPeer(s, { id: Q, name }), { code: 'bad_request' }, name);
  assert.throws(() => addPeer(s, { id: 'not-a-peer' }), { code: 'bad_request' });
  // Ids of other key types (an RSA Qm…, a secp256k1 16Uiu2…) could never sign a query or a request.
  for (const other of ['QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', '16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY']) {
    assert.throws(() => addPeer(s, { id: other }), { code: 'bad_request' }, other);
  }
  assert.throws(() => addPeer(s, { id: Q, groups: ['bad group'] }), { code: 'bad_request' });
  assert.throws(() => addPeer(s, { id: Q, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${P}`] }), { code: 'bad_request' }, 'an address of another peer');
  assert.equal(findPeer(s, 'laptop')?.id, P);
  assert.equal(findPeer(s, P)?.name, 'laptop');
});

test('groups and grants change; removing the last grant of a database leaves no entry', () => {
  let s = addPeer(emptyTrust(), { id: P, name: 'laptop' });
  s = setGroup(s, 'laptop', 'family', true);
  assert.deepEqual(s.peers[P]?.groups, ['family']);
  s = setGroup(s, P, 'family', false);
  assert.deepEqual(s.peers[P]?.groups, []);
  assert.throws(() => setGroup(s, 'nobody', 'family', true), { code: 'not_found' });
  s = setGrant(s, 'notes', 'read', 'group:family', true);
  s = setGrant(s, 'notes', 'read', 'group:family', true);
  assert.deepEqual(s.grants.notes, { read: ['group:family'], write: [] });
  s = setGrant(s, 'notes', 'read', 'group:family', false);
  assert.equal(s.grants.notes, undefined);
  assert.throws(() => setGrant(s, 'Bad Name', 'read', 'public', true), { code: 'illegal_database_name' });
  assert.throws(() => setGrant(s, 'notes', 'admin' as 'read', 'public', true), { code: 'bad_request' });
  assert.throws(() => parseSubject('everyone'), { code: 'bad_request' });
  assert.throws(() => parseSubject('peer:nope'), { code: 'bad_request' });
  assert.throws(() => removePeer(s, Q), { code: 'not_found' });
});

test('parseTrustState round-trips a state and refuses damaged ones', () => {
  let s = addPeer(emptyTrust(), { id: P, name: 'a', groups: ['g'] });
  s = setGrant(s, 'notes', 'write', `peer:${P}`, true);
  s = setGrant(s, '*', 'read', 'public', true);
  assert.deepEqual(parseTrustState(JSON.parse(JSON.stringify(s))), s);
  for (const bad of [null, 'x', { version: 2 }, { version: 1, peers: { x: null } }, { version: 1, peers: { x: { id: 'nope' } } }, { version: 1, grants: { notes: { read: 'public' } } }, { version: 1, grants: { notes: { write: ['public'] } } }]) {
    assert.throws(() => parseTrustState(bad), (err: { code?: string }) => err.code === 'bad_request' || err.code === 'forbidden', JSON.stringify(bad));
  }
});

test('MemoryTrustStore applies changes in order; a failed change leaves the state as it was', async () => {
  const store = new MemoryTrustStore();
  await Promise.all([store.update((s) => addPeer(s, { id: P })), store.update((s) => addPeer(s, { id: Q }))]);
  assert.deepEqual(Object.keys((await store.current()).peers).sort(), [P, Q].sort());
  await assert.rejects(store.update((s) => removePeer(s, 'nobody')), { code: 'not_found' });
  assert.equal(Object.keys((await store.current()).peers).length, 2);
});

test('FileTrustStore persists to trust.json, sees another writer, and fails closed on a damaged file', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'refuge-trust-'));
  t.after(() => rm(path, { recursive: true, force: true }));
  const dir = { path };
  const one = new FileTrustStore(dir.path);
  const two = new FileTrustStore(dir.path);
  assert.deepEqual(await one.current(), emptyTrust(), 'no file: nobody trusted, nothing granted');
  await one.update((s) => setGrant(addPeer(s, { id: P, name: 'laptop' }), 'notes', 'read', `peer:${P}`, true));
  assert.equal((await two.current()).peers[P]?.name, 'laptop');
  await two.update((s) => removePeer(s, 'laptop'));
  assert.deepEqual((await one.current()).peers, {}, 'the change made through another store is seen');
  const text = await readFile(join(dir.path, TRUST_FILE), 'utf8');
  assert.equal(JSON.parse(text).version, 1);
  await writeFile(join(dir.path, TRUST_FILE), '{"version":1,"peers":');
  await assert.rejects(one.current(), { code: 'internal' });
  await assert.rejects(one.update((s) => s), { code: 'internal' }, 'no write over a file nobody can read');
});

test('FileTrustStore: changes made at once through several stores (as by several processes) are all kept', async (t) => {
  const path = await mkdtemp(join(tmpdir(), 'refuge-trust-'));
  t.after(() => rm(path, { recursive: true, force: true }));
  const stores = Array.from({ length: 10 }, () => new FileTrustStore(path));
  await Promise.all(stores.map((store, i) => store.update((s) => setGrant(s, `db${i}`, 'read', 'public', true))));
  const grants = (await new FileTrustStore(path).current()).grants;
  assert.deepEqual(Object.keys(grants).sort(), Array.from({ length: 10 }, (_, i) => `db${i}`).sort());
  // No lock is left behind.
  assert.deepEqual((await readdir(path)).sort(), [TRUST_FILE]);
});
