// One node per data directory, whatever its engine and blob backend: a second one is refused
// (`locked`) before it touches the directory, and the directory is free again once the first closes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openNode, type OpenNodeOptions } from '../../src/node/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { openFailure } from '../../src/storage-node/open-failure.ts';
import { tempDir } from '../helpers/db.ts';

const KINDS: Array<[string, OpenNodeOptions]> = [
  ['leveldb', {}],
  ['memory engine, fs blobs', { engine: 'memory', blobs: { backend: 'fs' } }],
];

for (const [firstLabel, first] of KINDS) {
  for (const [secondLabel, second] of KINDS) {
    test(`a node (${secondLabel}) is refused on a directory a node (${firstLabel}) holds`, async (t) => {
      const dir = await tempDir('refuge-dirlock-');
      t.after(dir.cleanup);
      const a = await openNode({ ...first, dataDir: dir.path, durability: 'fast' });
      let closed = false;
      t.after(() => (closed ? undefined : a.close()));
      const blobsBefore = await readdir(join(dir.path, 'blobs'), { recursive: true });
      await assert.rejects(openNode({ ...second, dataDir: dir.path, durability: 'fast' }), (err) => isRefugeError(err, 'locked') && /already open/.test(err.reason));
      assert.deepEqual(await readdir(join(dir.path, 'blobs'), { recursive: true }), blobsBefore, 'the refused node touched nothing');
      // The first is unharmed, and once it closes the directory is free.
      await a.createDb('still', { hold: false });
      await a.close();
      closed = true;
      const b = await openNode({ ...second, dataDir: dir.path, durability: 'fast' });
      await b.close();
    });
  }
}

test('a node in another process holds the directory until that process ends, however it ends', async (t) => {
  const dir = await tempDir('refuge-dirlock-');
  t.after(dir.cleanup);
  const script = `const { openNode } = await import(${JSON.stringify(new URL('../../src/node/index.ts', import.meta.url).href)});
    await openNode({ dataDir: ${JSON.stringify(dir.path)}, engine: 'memory', blobs: { backend: 'fs' } });
    process.stdout.write('open\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => (b.toString().includes('open') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  await assert.rejects(openNode({ dataDir: dir.path }), (err) => isRefugeError(err, 'locked'));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  // The kernel released the lock with the process: no stale lock to clear by hand.
  const node = await openNode({ dataDir: dir.path });
  await node.close();
});

test('a store that cannot be opened is locked only when LevelDB says its lock is held; a read-only directory is said as such', () => {
  const failure = (store: string, m: string) => openFailure(store, new Error('open failed', { cause: new Error(m) }));
  for (const reason of ['already held by process', 'Resource temporarily unavailable', 'Permission denied']) {
    assert.equal(failure('/d', `IO error: lock /d/LOCK: ${reason}`).code, 'locked', reason);
  }
  // A store whose path holds the word "lock " and cannot be written is not held by anyone.
  const odd = '/srv/lock files/x';
  for (const m of ['IO error: /d/LOCK: Read-only file system', 'IO error: /d/LOCK: Permission denied', 'Corruption: bad block', `IO error: ${odd}/LOCK: Permission denied`]) {
    const e = failure(m.includes(odd) ? odd : '/d', m);
    assert.equal(e.code, 'internal', m);
    assert.ok(e.reason.endsWith(m), e.reason);
  }
  assert.equal(failure(odd, `IO error: lock ${odd}/LOCK: Resource temporarily unavailable`).code, 'locked');
});
