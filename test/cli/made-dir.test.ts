// A data directory a failing command made is removed, unless it existed before, the command's node
// never opened it, or another node holds it by the time the command gives up.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { madeDirectory } from '../../src/cli/made-dir.ts';
import { runReplicate } from '../../src/cli/replicate.ts';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';
import { startTestServer } from '../http/server.ts';

test('a directory this command made and opened is removed; one another node holds now is kept', async (t) => {
  const parent = await tempDir('refuge-made-');
  t.after(parent.cleanup);
  const dir = join(parent.path, 'node');
  const made = madeDirectory(dir);
  const mine = await openNode({ dataDir: dir });
  made.opened();
  await mine.close();
  // Another node took the directory between this command's close and its undo: it stays.
  const theirs = await openNode({ dataDir: dir });
  await made.undo();
  assert.ok(existsSync(dir));
  await theirs.close();
  await made.undo();
  assert.equal(existsSync(dir), false);
});

test('a directory that existed before, or that the command never opened, is kept', async (t) => {
  const parent = await tempDir('refuge-made-');
  t.after(parent.cleanup);
  const before = madeDirectory(parent.path);
  before.opened();
  await before.undo();
  assert.ok(existsSync(parent.path));
  const dir = join(parent.path, 'other');
  const notOpened = madeDirectory(dir);
  const node = await openNode({ dataDir: dir }); // someone else's
  await node.close();
  await notOpened.undo();
  assert.ok(existsSync(dir));
});

/** A server to replicate from and a fresh place for the copy's data directory, gone after the test. */
async function replicateSetup(t: TestContext) {
  const server = await startTestServer();
  const parent = await tempDir('refuge-made-');
  t.after(async () => {
    await server.close();
    await parent.cleanup();
  });
  return { server, dir: join(parent.path, 'copy') };
}

test('refuge replicate keeps a data directory it made once the replication ran, even if it then fails', async (t) => {
  const { server, dir } = await replicateSetup(t);
  await fetch(`${server.url}/src`, { method: 'PUT' });
  await fetch(`${server.url}/src/a`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"v":1}' });
  const sink = new PassThrough();
  const caughtUp = new Promise<void>((resolve) => sink.on('data', (b: Buffer) => (b.toString().includes('caught up') ? resolve() : undefined)));
  const running = runReplicate({ source: `${server.url}/src`, target: 'copy', data: dir, continuous: true, createTarget: true, json: false }, sink, sink);
  // Once the document is in the copy, the source goes away: the continuous replication fails.
  await caughtUp;
  await fetch(`${server.url}/src`, { method: 'DELETE' });
  await assert.rejects(running);
  assert.ok(existsSync(dir), 'what was replicated stays');
  const node = await openNode({ dataDir: dir });
  t.after(() => node.close());
  assert.equal(((await (await node.lease('copy')).db.get('a')) as { v: number }).v, 1);
});

test('refuge replicate from a source that is not there removes the data directory it made (nothing was written)', async (t) => {
  const { server, dir } = await replicateSetup(t);
  const sink = new PassThrough().resume();
  await assert.rejects(runReplicate({ source: `${server.url}/nonexistent`, target: 'copy', data: dir, continuous: false, createTarget: true, json: false }, sink, sink), /does not exist|not_found/);
  assert.equal(existsSync(dir), false, 'a mistyped source leaves no node identity behind');
});
