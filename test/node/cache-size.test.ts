// A node's LevelDB block cache per store: its share of the node's budget, within LevelDB's 8 MiB
// and the 32 MiB a database opened alone gets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCacheSize } from '../../src/node/index.ts';
import { DEFAULT_CACHE_SIZE } from '../../src/storage-node/index.ts';

const MiB = 1024 * 1024;

test('the cache of each store shrinks as a node may keep more databases open, within bounds', () => {
  assert.equal(DEFAULT_CACHE_SIZE, 32 * MiB);
  assert.equal(nodeCacheSize(1), 32 * MiB);
  assert.equal(nodeCacheSize(16), 32 * MiB);
  assert.equal(nodeCacheSize(32), 16 * MiB);
  assert.equal(nodeCacheSize(100), 8 * MiB);
  assert.equal(nodeCacheSize(10_000), 8 * MiB);
  for (let n = 1; n <= 200; n++) assert.ok(nodeCacheSize(n) * Math.min(n, 64) <= 512 * MiB);
});
