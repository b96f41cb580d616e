// Micro-benchmark (not a test): fs blob store put/get of 256 MiB against bare node:crypto SHA-256 over
// the same bytes. Run: node --import tsx test/blobs/bench-fs.ts [MiB] [chunkKiB]. Targets: both >= 0.6.

import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/blobs/index.ts';

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 256) * MiB;
const chunkSize = Number(process.argv[3] ?? 1024) * 1024;
const chunks: Uint8Array[] = [];
for (let left = total; left > 0; left -= chunkSize) chunks.push(randomFillSync(new Uint8Array(Math.min(chunkSize, left))));

async function best(runs: number, fn: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const mbps = (ms: number) => `${((total / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;
const hashMs = await best(5, async () => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  h.digest();
});
console.log(`bare sha256         ${mbps(hashMs)}`);

const dir = await mkdtemp(join(tmpdir(), 'refuge-blob-bench-'));
try {
  // The disk's own bound for a durable put: write the bytes and fdatasync, no hashing.
  const diskMs = await best(3, async () => {
    const fh = await open(join(dir, 'raw'), 'w');
    for (const c of chunks) await fh.write(c);
    await fh.datasync();
    await fh.close();
    await rm(join(dir, 'raw'));
  });
  console.log(`bare write+fdatasync ${mbps(diskMs)}  (the disk's bound for a durable put)`);
  for (const durability of ['durable', 'fast'] as const) {
    const store = await FsBlobStore.open({ dir: join(dir, durability), durability });
    let id = '';
    const putMs = await best(3, async () => {
      if (id) await store.delete(id as `sha256-${string}`);
      id = (await store.put(chunks)).id;
    });
    const getMs = await best(5, async () => {
      for await (const _ of await store.get(id as `sha256-${string}`));
    });
    console.log(`put (${durability.padEnd(7)})     ${mbps(putMs)}  ratio ${(hashMs / putMs).toFixed(2)}`);
    console.log(`get verified (${durability.padEnd(7)}) ${mbps(getMs)}  ratio ${(hashMs / getMs).toFixed(2)}`);
    await store.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
