// The LevelDB engine (classic-level) against the shared storage conformance suite, plus what only
// a disk engine can show: destroy() removes the files.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leveldbEngine } from '../../src/storage-node/index.ts';
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
});
