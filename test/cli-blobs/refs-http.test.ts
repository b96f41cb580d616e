// The refs HTTP API: a ref signed by any key is stored once verified; forged → 403, replayed or old
// seq → 409, another key taking over a name → 403, a malformed body → 400; `_update` makes the node sign the next value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateNodeKey, ownerOf, signRef } from '../../src/refs/index.ts';
import { tempDir } from '../helpers/db.ts';
import { startNode } from './helpers.ts';

const ROOT = 'sha256-' + 'ab'.repeat(32);
const ROOT2 = 'sha256-' + 'cd'.repeat(32);

test('PUT /_refs verifies signatures, refuses replays and takeovers; _update signs with the node key', async (t) => {
  const dir = await tempDir('refuge-refs-http-');
  t.after(dir.cleanup);
  const node = await startNode(dir.path, 'memory');
  t.after(node.close);
  const put = (name: string, body: unknown) =>
    fetch(`${node.url}/_refs/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const key = generateNodeKey();
  const r1 = signRef(key, { name: 'photos/2024', root: ROOT, seq: 1, timestamp: 1000 });
  assert.equal((await put('photos/2024', r1)).status, 201);
  // Forged: a field changed after signing.
  const forged = await put('photos/2024', { ...signRef(key, { name: 'photos/2024', root: ROOT, seq: 2, timestamp: 2000 }), root: ROOT2 });
  assert.equal(forged.status, 403);
  assert.equal(((await forged.json()) as { error: string }).error, 'forbidden');
  // Replay of seq 1, and an older seq.
  assert.equal((await put('photos/2024', r1)).status, 409);
  // Another key taking over the name.
  const other = signRef(generateNodeKey(), { name: 'photos/2024', root: ROOT2, seq: 5, timestamp: 3000 });
  assert.equal((await put('photos/2024', other)).status, 403);
  // Name in the URL must match.
  assert.equal((await put('photos/other', r1)).status, 400);
  // Garbage.
  assert.equal((await put('photos/2024', { name: 'photos/2024' })).status, 400);
  // A `ref` member that is no object (null was a 500).
  for (const ref of [null, 1, 'x', []]) {
    const res = await put('photos/2024', { ref, meta: {} });
    assert.deepEqual([res.status, ((await res.json()) as { error: string }).error], [400, 'bad_request'], JSON.stringify(ref));
  }

  const got = (await (await fetch(`${node.url}/_refs/photos/2024`)).json()) as { seq: number; owner: string };
  assert.equal(got.seq, 1);
  assert.equal(got.owner, ownerOf(key.publicKey));
  const r2 = signRef(key, { name: 'photos/2024', root: ROOT2, seq: 2, timestamp: 2000 });
  assert.equal((await put('photos/2024', r2)).status, 201);
  const hist = (await (await fetch(`${node.url}/_refs/photos/2024?history=true`)).json()) as { history: Array<{ ref: { seq: number } }> };
  assert.deepEqual(hist.history.map((e) => e.ref.seq), [1, 2]);
  assert.equal((await fetch(`${node.url}/_refs/nothing`)).status, 404);

  // _update: the node signs with its own key.
  const upd = await fetch(`${node.url}/_refs/mine/_update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ root: ROOT }) });
  assert.equal(upd.status, 201);
  const mine = (await upd.json()) as { owner: string; seq: number };
  assert.equal(mine.owner, ownerOf(node.node.key.publicKey));
  assert.equal(mine.seq, 1);
  // _update on a name owned by another key is refused.
  const steal = await fetch(`${node.url}/_refs/photos/2024/_update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ root: ROOT }) });
  assert.equal(steal.status, 403);
  const list = (await (await fetch(`${node.url}/_refs`)).json()) as { refs: Array<{ name: string; ref: { seq: number } }> };
  assert.deepEqual(list.refs.map((r) => [r.name, r.ref.seq]), [['mine', 1], ['photos/2024', 2]]);
  const keyInfo = (await (await fetch(`${node.url}/_refs/_key`)).json()) as { owner: string };
  assert.equal(keyInfo.owner, mine.owner);
});

test('ref writes need the admin when one is configured', async (t) => {
  const dir = await tempDir('refuge-refs-admin-');
  t.after(dir.cleanup);
  const node = await startNode(dir.path, 'memory', 'admin:secret');
  t.after(node.close);
  const body = JSON.stringify({ root: ROOT });
  const headers = { 'content-type': 'application/json' };
  assert.equal((await fetch(`${node.url}/_refs/x/_update`, { method: 'POST', headers, body })).status, 401);
  const auth = { ...headers, authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  assert.equal((await fetch(`${node.url}/_refs/x/_update`, { method: 'POST', headers: auth, body })).status, 201);
});
