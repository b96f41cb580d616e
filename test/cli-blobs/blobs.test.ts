// `refuge blobs put|get|ls|verify` as a child process against a running node (--url) and a stopped
// data directory (--data): ids printed, bytes back verified, corruption on disk found (exit 1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsBlobStore, type BlobId } from '../../src/blobs/index.ts';
import { tempDir } from '../helpers/db.ts';
import { cli, startNode } from './helpers.ts';

const idOf = (b: Buffer | string) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

test('blobs put, get, ls over --url', async (t) => {
  const dir = await tempDir('refuge-cli-blobs-');
  t.after(dir.cleanup);
  const node = await startNode(join(dir.path, 'data'), 'memory');
  t.after(node.close);
  const a = join(dir.path, 'a.txt');
  await writeFile(a, 'alpha bytes');
  const put = await cli(['blobs', 'put', a, '-', '--url', node.url], Buffer.from('from stdin'));
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(put.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]), [idOf('alpha bytes'), idOf('from stdin')]);

  const got = await cli(['blobs', 'get', idOf('from stdin'), '--url', node.url]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, 'from stdin');
  const outFile = join(dir.path, 'out.bin');
  assert.equal((await cli(['blobs', 'get', idOf('alpha bytes'), '-o', outFile, '--url', node.url])).code, 0);
  assert.equal(await readFile(outFile, 'utf8'), 'alpha bytes');
  const missing = await cli(['blobs', 'get', idOf('nope'), '--url', node.url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found|404/);
  assert.equal((await cli(['blobs', 'get', 'not-an-id', '--url', node.url])).code, 2);

  const ls = await cli(['blobs', 'ls', '--url', node.url, '--json']);
  assert.deepEqual((JSON.parse(ls.stdout) as { ids: string[] }).ids, [idOf('alpha bytes'), idOf('from stdin')].sort());
  const page = await cli(['blobs', 'ls', '--limit', '1', '--url', node.url]);
  assert.equal(page.stdout.trim().split('\n').length, 1);
  const first = page.stdout.trim();
  const rest = await cli(['blobs', 'ls', '--after', first, '--url', node.url]);
  assert.equal(rest.stdout.trim().split('\n').length, 1);
  assert.notEqual(rest.stdout.trim(), first);
  assert.equal((await cli(['blobs', 'verify', '--url', node.url])).code, 0);
  assert.equal((await cli(['blobs', 'frobnicate', '--url', node.url])).code, 2);
  const help = await cli(['blobs', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /verify/);
});

test('blobs verify finds a blob corrupted on disk (exit 1), over --data and --url', async (t) => {
  const dir = await tempDir('refuge-cli-verify-');
  t.after(dir.cleanup);
  const data = join(dir.path, 'data');
  const files = ['one', 'two', 'three'].map((s) => join(dir.path, s));
  for (const f of files) await writeFile(f, `content of ${f}`.repeat(100));
  const put = await cli(['blobs', 'put', ...files, '--data', data, '--json']);
  assert.equal(put.code, 0, put.stderr);
  const ids = (JSON.parse(put.stdout) as Array<{ id: BlobId }>).map((r) => r.id);
  assert.equal((await cli(['blobs', 'verify', '--data', data])).code, 0);

  // Flip one byte of the second blob's file.
  const store = await FsBlobStore.open({ dir: join(data, 'blobs') });
  const path = store.pathOf(ids[1]!);
  await store.close();
  const fh = await open(path, 'r+');
  const byte = Buffer.alloc(1);
  await fh.read(byte, 0, 1, 10);
  byte[0] = byte[0]! ^ 0xff;
  await fh.write(byte, 0, 1, 10);
  await fh.close();

  const bad = await cli(['blobs', 'verify', '--data', data]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, new RegExp(`corrupt ${ids[1]}`));
  assert.doesNotMatch(bad.stdout, new RegExp(ids[0]!));
  const json = await cli(['blobs', 'verify', '--data', data, '--json']);
  assert.deepEqual((JSON.parse(json.stdout) as { corrupt: string[] }).corrupt, [ids[1]]);
  // Reading it fails instead of returning wrong bytes.
  assert.equal((await cli(['blobs', 'get', ids[1]!, '--data', data])).code, 1);

  const node = await startNode(data, 'leveldb');
  t.after(node.close);
  const remote = await cli(['blobs', 'verify', '--url', node.url]);
  assert.equal(remote.code, 1);
  assert.match(remote.stdout, new RegExp(`corrupt ${ids[1]}`));
});
