// Signed refs: signatures cover every field, forged and replayed values are refused, history is kept,
// on both ref stores; the node key file is created once with 0600 permissions.

import assert from 'node:assert/strict';
import { readFile, stat, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRefugeError, type ErrorCode } from '../../src/errors/index.ts';
import {
  FsRefStore, MemoryRefStore, generateNodeKey, loadOrCreateNodeKey, ownerOf, resolveRef, signRef, updateRef, verifyRef,
  type RefStore, type SignedRef,
} from '../../src/refs/index.ts';
import { withTempDir } from '../files/helpers.ts';

const ROOT1 = 'bafybeiat56jmfczvntyqvpj66buib2lklcxnvm4md2ugibf6x6vhr6eu7e';
const ROOT2 = 'bafkreiab2rek7wjiazkfrt3hbnqpljmu24226alszdlh6ivic2abgjubzi';
const code = (c: ErrorCode) => (e: unknown) => isRefugeError(e, c);

test('a signature covers every field; forged and malformed refs are refused', () => {
  const key = generateNodeKey();
  const ref = signRef(key, { name: 'photos', root: ROOT1, seq: 1, timestamp: 1_700_000_000_000 });
  assert.equal(ref.owner, ownerOf(key.publicKey));
  assert.deepEqual(verifyRef(JSON.parse(JSON.stringify(ref))), ref);
  const tampered: Array<Partial<SignedRef>> = [
    { name: 'photos2' }, { root: ROOT2 }, { seq: 2 }, { timestamp: 1_700_000_000_001 },
    { owner: ownerOf(generateNodeKey().publicKey) },
    { signature: signRef(generateNodeKey(), { name: 'photos', root: ROOT1, seq: 1, timestamp: 1_700_000_000_000 }).signature },
  ];
  for (const change of tampered) assert.throws(() => verifyRef({ ...ref, ...change }), code('forbidden'), JSON.stringify(change));
  // Signed by another key but claiming ours.
  const other = signRef(generateNodeKey(), { name: 'photos', root: ROOT1, seq: 1, timestamp: 1 });
  assert.throws(() => verifyRef({ ...other, owner: ref.owner }), code('forbidden'));
  for (const bad of [null, 'x', [], { ...ref, seq: 0 }, { ...ref, seq: 1.5 }, { ...ref, root: 'nope' }, { ...ref, name: '../x' },
    { ...ref, name: 'a@1' }, { ...ref, signature: 'zz' }, { ...ref, owner: 'ABC' }, { ...ref, timestamp: -1 }]) {
    assert.throws(() => verifyRef(bad), code('bad_request'), JSON.stringify(bad));
  }
});

async function refStoreContract(refs: RefStore): Promise<void> {
  const key = generateNodeKey();
  assert.equal(await refs.get('docs/home'), null);
  const first = await updateRef(refs, key, 'docs/home', ROOT1, { source: '/home/me', files: 3 });
  const second = await updateRef(refs, key, 'docs/home', ROOT2);
  assert.deepEqual([first.seq, second.seq], [1, 2]);
  assert.deepEqual(await refs.get('docs/home'), second);
  // Replays: the same value again, or an older one.
  await assert.rejects(refs.put(second), code('conflict'));
  await assert.rejects(refs.put(first), code('conflict'));
  // Forged: a changed root under the old signature; another key taking the name over.
  await assert.rejects(refs.put({ ...second, seq: 3, root: ROOT1 }), code('forbidden'));
  const thief = signRef(generateNodeKey(), { name: 'docs/home', root: ROOT1, seq: 99, timestamp: Date.now() });
  await assert.rejects(refs.put(thief), code('forbidden'));
  // A valid jump forward is fine (values may arrive from another node).
  await refs.put(signRef(key, { name: 'docs/home', root: ROOT1, seq: 7, timestamp: Date.now() }));
  const history = await refs.history('docs/home');
  assert.deepEqual(history.map((e) => [e.ref.seq, e.ref.root]), [[1, ROOT1], [2, ROOT2], [7, ROOT1]]);
  assert.deepEqual(history[0]!.meta, { source: '/home/me', files: 3 });
  assert.equal((await resolveRef(refs, 'docs/home@2')).ref.root, ROOT2);
  assert.equal((await resolveRef(refs, 'docs/home')).ref.seq, 7);
  await assert.rejects(resolveRef(refs, 'docs/home@3'), code('not_found'));
  await assert.rejects(resolveRef(refs, 'docs/home@x'), code('bad_request'));
  await assert.rejects(resolveRef(refs, 'nope'), code('not_found'));
  await updateRef(refs, key, 'b', ROOT1);
  assert.deepEqual(await refs.list(), ['b', 'docs/home']);
  // Concurrent updates by the same key all land, each with its own seq.
  await Promise.all(Array.from({ length: 5 }, (_, i) => updateRef(refs, key, 'busy', i % 2 ? ROOT1 : ROOT2)));
  assert.deepEqual((await refs.history('busy')).map((e) => e.ref.seq), [1, 2, 3, 4, 5]);
}

test('memory ref store', () => refStoreContract(new MemoryRefStore()));

test('filesystem ref store, including a value edited on disk', () =>
  withTempDir(async (dir) => {
    const refs = await FsRefStore.open(join(dir, 'refs'));
    await refStoreContract(refs);
    // Reopened: same values.
    const again = await FsRefStore.open(join(dir, 'refs'));
    assert.equal((await again.get('docs/home'))?.seq, 7);
    // Someone edits a stored value on disk: reads refuse it.
    const nameDir = join(dir, 'refs', Buffer.from('b').toString('base64url'));
    const file = join(nameDir, (await readdir(nameDir))[0]!);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    stored.ref.root = ROOT2;
    await writeFile(file, JSON.stringify(stored));
    await assert.rejects(again.get('b'), code('forbidden'));
  }));

test('the node key is created once, 0600, and reloaded', () =>
  withTempDir(async (dir) => {
    const keys = await Promise.all([loadOrCreateNodeKey(dir), loadOrCreateNodeKey(dir), loadOrCreateNodeKey(dir)]);
    const owners = new Set(keys.map((k) => ownerOf(k.publicKey)));
    assert.equal(owners.size, 1);
    assert.equal((await stat(join(dir, 'identity.json'))).mode & 0o777, 0o600);
    const reloaded = await loadOrCreateNodeKey(dir);
    assert.equal(ownerOf(reloaded.publicKey), [...owners][0]);
    assert.deepEqual((await readdir(dir)).sort(), ['identity.json']);
    const ref = signRef(reloaded, { name: 'x', root: ROOT1, seq: 1, timestamp: 5 });
    verifyRef(ref);
    await writeFile(join(dir, 'identity.json'), '{"type":"ed25519"}');
    await assert.rejects(loadOrCreateNodeKey(dir), code('internal'));
  }));
