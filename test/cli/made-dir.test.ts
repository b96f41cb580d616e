// A data directory a failing command made is removed, unless it existed before, the command's node
// never opened it, or another node holds it by the time the command gives up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { madeDirectory } from '../../src/cli/made-dir.ts';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';

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
