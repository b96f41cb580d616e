// The LevelDB engine (classic-level) against the shared storage conformance suite, plus what only
// a disk engine can show: destroy() removes the files.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isRefugeError } from '../../src/errors/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { leveldbEngine, nativeOps } from '../../src/storage-node/index.ts';
import { runStorageConformance } from './conformance.ts';

let base: Promise<string> | undefined;
let n = 0;
const makeLocation = async () => {
  base ??= mkdtemp(join(tmpdir(), 'refuge-'));
  return join(await base, `db-${n++}`);
};
after(async () => {
  if (base) await rm(await base, { recursive: true, force: true });
});

runStorageConformance('leveldb', () => leveldbEngine(), makeLocation, { persistent: true });

describe('leveldb engine', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'refuge-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a read of damaged table data fails saying the files are damaged', async () => {
    const engine = leveldbEngine({ cacheSize: 1024 * 1024, writeBufferSize: 1024 * 1024 });
    const location = join(dir, 'damaged');
    let store = await engine.open({ location });
    const keys = Array.from({ length: 2000 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    await store.batch(keys.map((key) => ({ type: 'put' as const, key, value: `value ${key} `.repeat(20) })), { sync: true });
    await store.compactRange!({ gte: '', lt: '\uffff' });
    await store.close();
    const tables = (await readdir(location)).filter((f) => f.endsWith('.ldb'));
    assert.ok(tables.length > 0, 'compaction wrote a table');
    const table = join(location, tables[0]!);
    const bytes = await readFile(table);
    bytes.fill(0x55, Math.floor(bytes.length / 3), Math.floor(bytes.length / 3) + 200);
    await writeFile(table, bytes);
    store = await engine.open({ location });
    try {
      await assert.rejects(store.getMany(keys), (e: unknown) => isRefugeError(e, 'internal') && /damaged/.test(e.reason));
    } finally {
      await store.close();
    }
  });

  test('reads begun while a reopen has the database closing wait for it and answer', async () => {
    const raw: { db?: ClassicLevel<string, string> } = {};
    const store = await leveldbEngine().open({ location: join(dir, 'closing') });
    try {
      await store.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }]);
      // The adapter's engine database, to make the reads at the moment it starts closing.
      raw.db = (store as unknown as { db: ClassicLevel<string, string> }).db;
      const reads: Array<Promise<unknown>> = [];
      raw.db.once('closing', () => {
        reads.push(store.get('a'), store.getMany(['b', 'c']));
        reads.push((async () => {
          const rows = [];
          for await (const chunk of store.scan({})) rows.push(...chunk);
          return rows;
        })());
      });
      await store.reopen!();
      assert.equal(reads.length, 3, 'the reads were made while closing');
      assert.deepEqual(await Promise.all(reads), ['1', ['2', undefined], [['a', '1'], ['b', '2']]]);
    } finally {
      await store.close();
    }
  });

  test('a snapshot its owner closes while a read on it waits out a reopen stays closed (none is left open for nobody)', async () => {
    const store = await leveldbEngine().open({ location: join(dir, 'owner-closed') });
    try {
      await store.batch([{ type: 'put', key: 'a', value: '1' }]);
      const db = (store as unknown as { db: ClassicLevel<string, string> }).db;
      const snap = store.snapshot();
      let read: Promise<unknown> | undefined;
      let closing: Promise<void> | undefined;
      db.once('closing', () => {
        read = snap.get('a');
        closing = snap.close();
      });
      await store.reopen!();
      await closing;
      await assert.rejects(read!, (e: unknown) => isRefugeError(e, 'closed'));
      // The store itself reads on.
      assert.equal(await store.get('a'), '1');
    } finally {
      await store.close();
    }
  });

  test('creates its directory on open and destroy() deletes it', async () => {
    const engine = leveldbEngine({ cacheSize: 1024 * 1024, writeBufferSize: 1024 * 1024 });
    const location = join(dir, 'nested', 'db');
    const store = await engine.open({ location });
    await store.batch([{ type: 'put', key: 'a', value: '1' }], { sync: true });
    await store.close();
    assert.ok(existsSync(location));
    await engine.destroy(location);
    assert.equal(existsSync(location), false);
  });

  test('chains write through classic-level\'s native batch, every op of them, in order', async () => {
    const raw = new ClassicLevel(join(dir, 'raw'));
    await raw.open();
    try {
      assert.ok(nativeOps(raw.batch()), 'classic-level\'s binding and batch context are found (an upgrade changed them?)');
    } finally {
      await raw.close();
    }
    const store = await leveldbEngine().open({ location: join(dir, 'native') });
    try {
      await store.batch([{ type: 'put', key: 'gone', value: 'x' }, { type: 'put', key: 'k0', value: 'old' }]);
      const chain = store.chain();
      chain.del('gone');
      for (let i = 0; i < 1000; i++) chain.put(`k${i}`, `v${i}`);
      chain.del('k5');
      chain.put('k5', 'again');
      chain.del('k7');
      assert.equal(chain.length, 1004);
      await chain.write();
      assert.equal(await store.get('gone'), undefined);
      assert.equal(await store.get('k0'), 'v0');
      assert.equal(await store.get('k5'), 'again');
      assert.equal(await store.get('k7'), undefined);
      assert.equal(await store.get('k999'), 'v999');
      const rows = [];
      for await (const chunk of store.scan({ gte: 'k', lt: 'l' }, 500)) rows.push(...chunk);
      assert.equal(rows.length, 999);
    } finally {
      await store.close();
    }
  });
});
