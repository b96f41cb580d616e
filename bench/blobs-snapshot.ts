// The blobs.snapshot suite: snapshot a ~256 MiB folder of mixed file sizes into Refuge's memory store
// vs Helia's UnixFS importer (@helia/unixfs on a MemoryBlockstore), then into the filesystem store
// (blobs.snapshot_fs); then re-snapshot after changing 1% of the bytes.

import './with-resolvers.ts';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { FsBlobStore, MemoryBlobStore, nodeSha256 } from '../src/blobs/index.ts';
import { createSnapshot } from '../src/files/index.ts';
import { generateNodeKey, MemoryRefStore } from '../src/refs/index.ts';
import { collectGarbage, note, type Emit, type Suite } from './report.ts';
import { withTempDir } from './temp-dir.ts';

const MiB = 1024 * 1024;
/** [count, size] of the files: a few big ones, many small ones (256 MiB in all). */
const LAYOUT: ReadonlyArray<readonly [number, number]> = [[2, 64 * MiB], [8, 8 * MiB], [40, MiB], [320, 64 * 1024], [1024, 4096]];

/** Deterministic incompressible bytes (xorshift32). */
function fill(buf: Uint8Array, seed: number): void {
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  let x = seed | 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

async function makeFolder(dir: string): Promise<{ files: string[]; bytes: number }> {
  const aDayAgo = new Date(Date.now() - 86_400_000);
  const files: string[] = [];
  let bytes = 0;
  let n = 0;
  for (const [count, size] of LAYOUT) {
    const buf = new Uint8Array(size);
    for (let i = 0; i < count; i++, n++) {
      const sub = join(dir, `d${n % 16}`, `e${n % 3}`);
      await mkdir(sub, { recursive: true });
      fill(buf, n + 1);
      const path = join(sub, `f${n}-${size}.bin`);
      // Synced, so the kernel is not still writing the folder back while the timed sides run.
      const fh = await open(path, 'w');
      await fh.writeFile(buf);
      await fh.sync();
      await fh.close();
      // As a backup finds most files: not written seconds before (a re-snapshot may then trust them).
      await utimes(path, aDayAgo, aDayAgo);
      files.push(path);
      bytes += size;
    }
  }
  return { files, bytes };
}

/** Changes ~1% of the folder's bytes: an overwrite in one big file, an insertion in the other. */
async function changeOnePercent(files: string[], total: number): Promise<number> {
  const bigs = files.filter((f) => f.endsWith(`-${64 * MiB}.bin`));
  const run = Math.floor(total / 100 / 2);
  const patch = new Uint8Array(run);
  fill(patch, 9001);
  const fh = await open(bigs[0]!, 'r+');
  await fh.write(patch, 0, run, 17 * MiB + 12345);
  await fh.close();
  const old = await readFile(bigs[1]!);
  fill(patch, 9002);
  await writeFile(bigs[1]!, Buffer.concat([old.subarray(0, 40 * MiB), patch, old.subarray(40 * MiB)]));
  return 2 * run;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isDirectory()) yield* walk(join(dir, e.name));
    else yield join(dir, e.name);
  }
}

async function heliaImport(dir: string): Promise<{ ms: number; root: string }> {
  const { unixfs } = await import('@helia/unixfs');
  const { MemoryBlockstore } = await import('blockstore-core');
  const fs = unixfs({ blockstore: new MemoryBlockstore() } as never);
  const start = performance.now();
  const source = async function* () {
    for await (const path of walk(dir)) {
      const st = await stat(path);
      yield { path: relative(dir, path), content: createReadStream(path, { highWaterMark: MiB }), mode: st.mode & 0o7777, mtime: { secs: BigInt(Math.floor(st.mtimeMs / 1000)) } };
    }
  };
  let root = '';
  for await (const entry of fs.addAll(source(), { wrapWithDirectory: true })) if (entry.path === '') root = entry.cid.toString();
  return { ms: performance.now() - start, root };
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

export const blobsSnapshotSuite: Suite = {
  figures: ['blobs.snapshot', 'blobs.snapshot_fs', 'blobs.snapshot_incremental'],

  async run(wants, emit: Emit) {
    await withTempDir('snapshot', async (tmp) => {
      const src = join(tmp, 'src');
      const { files, bytes } = await makeFolder(src);
      for await (const f of walk(src)) await readFile(f); // warm the page cache for both sides
      let heliaMbps = 0;
      let heliaName = '';
      note(`snapshot folder: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB`);
      const durability = process.env.REFUGE_BENCH_SNAPSHOT_DURABILITY === 'durable' ? 'durable' : 'fast';
      const store = await FsBlobStore.open({ dir: join(tmp, 'blobs'), durability });
      const refs = new MemoryRefStore();
      const key = generateNodeKey();
      try {
        if (wants('blobs.snapshot') || wants('blobs.snapshot_fs')) {
          // Like for like: Helia imports into a memory blockstore, so Refuge snapshots into its memory
          // store. Each side runs twice and keeps its faster run: both are timed with their JIT warm.
          let memMbps = 0;
          let blocks = 0;
          for (let run = 0; run < 2; run++) {
            collectGarbage();
            const mem = new MemoryBlobStore({ hasher: nodeSha256 });
            const inMemory = await createSnapshot(mem, src);
            await mem.close();
            memMbps = Math.max(memMbps, mbps(inMemory.bytes, inMemory.elapsedMs));
            blocks = inMemory.stats.newBlocks;
          }
          note(`refuge (memory store): ${memMbps.toFixed(0)} MB/s, ${blocks} blocks (faster of 2 runs)`);
          let anchor = '@helia/unixfs';
          let helia = { ms: Infinity };
          for (let run = 0; run < 2; run++) {
            collectGarbage();
            let once: { ms: number };
            try {
              once = anchor === '@helia/unixfs' ? await heliaImport(src) : await importerImport(src);
            } catch (err) {
              note(`@helia/unixfs failed (${err instanceof Error ? err.message : String(err)}); falling back to ipfs-unixfs-importer`);
              anchor = 'ipfs-unixfs-importer';
              once = await importerImport(src);
            }
            if (once.ms < helia.ms) helia = once;
          }
          heliaMbps = mbps(bytes, helia.ms);
          heliaName = anchor;
          note(`${anchor} (MemoryBlockstore): ${heliaMbps.toFixed(0)} MB/s (faster of 2 runs)`);
          emit({ bench: 'blobs.snapshot', unit: 'MB/s', refuge: memMbps, anchor, anchorValue: heliaMbps });
        }
        collectGarbage();
        // The same snapshot onto disk (blocks written through the page cache, sharded folders): what
        // `refuge snapshot create` does on a node; reported against the same Helia run when there is one.
        const first = await createSnapshot(store, src, { ref: 'bench', refs, key });
        const refugeMbps = mbps(first.bytes, first.elapsedMs);
        note(`refuge (fs store, ${durability}): ${refugeMbps.toFixed(0)} MB/s, ${first.stats.newBlocks} blocks, ${(first.stats.newBytes / MiB).toFixed(1)} MiB stored`);
        if (wants('blobs.snapshot_fs') && heliaMbps > 0) {
          emit({ bench: 'blobs.snapshot_fs', unit: 'MB/s', refuge: refugeMbps, anchor: heliaName, anchorValue: heliaMbps });
        }
        if (wants('blobs.snapshot_incremental')) {
          const changed = await changeOnePercent(files, bytes);
          const second = await createSnapshot(store, src, { ref: 'bench', refs, key });
          const pct = (100 * second.stats.newBytes) / second.bytes;
          note(`incremental: changed ${(changed / MiB).toFixed(2)} MiB (${((100 * changed) / bytes).toFixed(2)}%), stored ${(second.stats.newBytes / MiB).toFixed(2)} MiB new in ${second.elapsedMs.toFixed(0)} ms (${mbps(second.bytes, second.elapsedMs).toFixed(0)} MB/s; ${second.reused} unchanged files taken over unread)`);
          emit({ bench: 'blobs.snapshot_incremental', unit: '% new bytes', refuge: pct, anchor: 'target', anchorValue: 5, higherIsBetter: false });
        }
      } finally {
        await store.close();
      }
    });
  },
};

/** The importer Helia wraps, on a memory blockstore: the fallback anchor. */
async function importerImport(dir: string): Promise<{ ms: number }> {
  const { importer } = await import('ipfs-unixfs-importer');
  const { MemoryBlockstore } = await import('blockstore-core');
  const bs = new MemoryBlockstore();
  const start = performance.now();
  const source = async function* () {
    for await (const path of walk(dir)) yield { path: relative(dir, path), content: createReadStream(path, { highWaterMark: MiB }) };
  };
  for await (const _ of importer(source(), bs as never, { wrapWithDirectory: true, rawLeaves: true, cidVersion: 1 })) void _;
  return { ms: performance.now() - start };
}
