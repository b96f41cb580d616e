// `refuge snapshot create|list|restore` as a child process: against a running node (--url) and a
// stopped data directory (--data); restores are byte-identical with modes and mtimes; incremental
// (new chunks only, unchanged files not read again).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/db.ts';
import { assertSameTree, cli, makeTree, startNode } from './helpers.ts';

test('snapshot create, list and restore over --url; the second snapshot stores few new bytes', async (t) => {
  const dir = await tempDir('refuge-cli-snap-');
  t.after(dir.cleanup);
  const node = await startNode(join(dir.path, 'data'), 'memory');
  t.after(node.close);
  const src = join(dir.path, 'src');
  await makeTree(src, 'one', 2_000_000);
  // A second big file, last changed well before the first snapshot: the second may trust its size and
  // mtime and take it over unread (small files are always read: checking costs as much).
  await writeFile(join(src, 'sub', 'other.bin'), randomBytes(700_000));
  const aDayAgo = new Date(Date.now() - 86_400_000);
  await utimes(join(src, 'sub', 'other.bin'), aDayAgo, aDayAgo);

  const first = await cli(['snapshot', 'create', src, '--ref', 'home/docs', '--url', node.url, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const r1 = JSON.parse(first.stdout) as { seq: number; root: string; files: number; bytes: number; newBytes: number };
  assert.equal(r1.seq, 1);
  assert.equal(r1.files, 5);
  assert.ok(r1.newBytes >= 2_700_000);

  // Append a little to the big file: only its last chunks and the tree nodes are new.
  await appendFile(join(src, 'big.bin'), 'a few more bytes');
  const second = await cli(['snapshot', 'create', src, '--ref', 'home/docs', '--url', node.url, '--json']);
  assert.equal(second.code, 0, second.stderr);
  const r2 = JSON.parse(second.stdout) as { seq: number; root: string; newBytes: number; reused: number };
  assert.equal(r2.seq, 2);
  // The untouched big file was taken over from the first snapshot without being read.
  assert.equal(r2.reused, 1);
  assert.notEqual(r2.root, r1.root);
  assert.ok(r2.newBytes < 1_100_000, `second snapshot stored ${r2.newBytes} new bytes`);

  const list = await cli(['snapshot', 'list', 'home/docs', '--url', node.url, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const snaps = JSON.parse(list.stdout) as Array<{ seq: number; root: string; files: number }>;
  assert.deepEqual(snaps.map((s) => [s.seq, s.root, s.files]), [[1, r1.root, 5], [2, r2.root, 5]]);
  const text = await cli(['snapshot', 'list', 'home/docs', '--url', node.url]);
  assert.match(text.stdout, /^\s+1\s+\d{4}-.*files/m);

  const dest = join(dir.path, 'restored');
  const restore = await cli(['snapshot', 'restore', 'home/docs', dest, '--url', node.url]);
  assert.equal(restore.code, 0, restore.stderr);
  await assertSameTree(src, dest);
  // An older version by @seq differs only in the appended bytes.
  const old = await cli(['snapshot', 'restore', 'home/docs@1', join(dir.path, 'old'), '--url', node.url, '--json']);
  assert.equal(old.code, 0, old.stderr);
  assert.equal((JSON.parse(old.stdout) as { root: string }).root, r1.root);

  // The ref is signed by the node's key, which `refuge id` prints.
  const id = await cli(['id', '--url', node.url]);
  assert.equal(id.stdout.trim(), Buffer.from(node.node.key.publicKey).toString('hex'));
  assert.equal((await node.node.refs.get('home/docs'))?.owner, id.stdout.trim());
});

test('snapshot over --data on a stopped node; refused with "in use" while a node runs on it', async (t) => {
  const dir = await tempDir('refuge-cli-snap-data-');
  t.after(dir.cleanup);
  const data = join(dir.path, 'data');
  const src = join(dir.path, 'src');
  await makeTree(src, 'two');
  const made = await cli(['snapshot', 'create', src, '--ref', 'backup', '--data', data, '--quiet']);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /^backup@1 bafy/);
  const dest = join(dir.path, 'out');
  const restored = await cli(['snapshot', 'restore', 'backup', dest, '--data', data]);
  assert.equal(restored.code, 0, restored.stderr);
  await assertSameTree(src, dest);

  // A node now runs on the data directory: direct access is refused, the same ref is served.
  const node = await startNode(data, 'leveldb');
  t.after(node.close);
  const busy = await cli(['blobs', 'ls', '--data', data]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /in use/);
  const list = await cli(['snapshot', 'list', 'backup', '--url', node.url, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
});

test('snapshot usage errors exit 2; a missing ref exits 1; --help exits 0', async () => {
  assert.equal((await cli(['snapshot', 'create', '/nonexistent-refuge-dir', '--ref', 'x', '--url', 'http://127.0.0.1:9'])).code, 2);
  assert.equal((await cli(['snapshot', 'create', '.', '--url', 'http://127.0.0.1:9'])).code, 2);
  assert.equal((await cli(['snapshot', 'create', '.', '--ref', '../bad', '--url', 'http://127.0.0.1:9'])).code, 2);
  assert.equal((await cli(['snapshot', '--bogus'])).code, 2);
  const help = await cli(['snapshot', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /snapshot create DIR --ref NAME|create DIR --ref NAME/);
  const down = await cli(['snapshot', 'list', 'x', '--url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach|unavailable|ECONNREFUSED|fetch failed/i);
});
