// The filesystem backend against the shared blob conformance suite, plus what only a disk shows:
// the sharded layout, read-only files, temp files of crashed writes cleaned at open, a SIGKILL mid-put.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore, openBlobStore } from '../../src/blobs/index.ts';
import { postable } from '../../src/blobs/fs-writer.ts';
import type { BlobStore } from '../../src/blobs/index.ts';
import { runBlobConformance } from './conformance.ts';
import { bytes, idOf, isCode, randomBytesOf, readAll, trickle } from './helpers.ts';

let base: Promise<string> | undefined;
let n = 0;
const newDir = async () => {
  base ??= mkdtemp(join(tmpdir(), 'refuge-blobs-'));
  return join(await base, `store-${n++}`);
};
after(async () => {
  if (base) await rm(await base, { recursive: true, force: true });
});

/** Flips one byte of the blob's file in place, as bit rot would. */
async function flipByte(store: BlobStore, id: `sha256-${string}`, offset: number): Promise<void> {
  const fh = await open((store as FsBlobStore).pathOf(id), 'r+');
  try {
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, offset);
    buf[0]! ^= 0xff;
    await fh.write(buf, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

runBlobConformance('fs', {
  persistent: true,
  open: async () => openBlobStore({ backend: 'fs', dir: await newDir() }),
  reopen: (store) => FsBlobStore.open({ dir: (store as FsBlobStore).dir }),
  corrupt: flipByte,
});

// 'fast' puts of whole buffers take another path (the writer thread): the same contract holds.
runBlobConformance('fs (fast)', {
  persistent: true,
  open: async () => openBlobStore({ backend: 'fs', dir: await newDir(), durability: 'fast' }),
  reopen: (store) => FsBlobStore.open({ dir: (store as FsBlobStore).dir, durability: 'fast' }),
  corrupt: flipByte,
});

describe('fs blob store', () => {
  let dir: string;
  before(async () => {
    dir = await newDir();
  });

  for (const durability of ['durable', 'fast'] as const) {
    test(`lays blobs out as blobs/ab/cd/<id>, read-only, with a format marker (${durability})`, async () => {
      const d = await newDir();
      const store = await FsBlobStore.open({ dir: d, durability });
      const { id } = await store.put(bytes(`layout ${durability}`));
      const hex = id.slice(7);
      const path = join(d, 'blobs', hex.slice(0, 2), hex.slice(2, 4), id);
      assert.equal(store.pathOf(id), path);
      assert.equal((await stat(path)).mode & 0o777, 0o444);
      assert.ok(existsSync(join(d, 'refuge-blobs.json')));
      assert.deepEqual(await readdir(join(d, 'tmp')), []);
      await store.close();
    });
  }

  test('lays blobs out as blobs/ab/cd/<id> for streamed puts too', async () => {
    const store = await FsBlobStore.open({ dir });
    const { id } = await store.put([bytes('lay'), bytes('out')]);
    const hex = id.slice(7);
    const path = join(dir, 'blobs', hex.slice(0, 2), hex.slice(2, 4), id);
    assert.equal(store.pathOf(id), path);
    assert.equal((await stat(path)).mode & 0o777, 0o444);
    assert.ok(existsSync(join(dir, 'refuge-blobs.json')));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    await store.close();
  });

  test('refuses a directory that holds something else under its marker', async () => {
    const other = await newDir();
    await FsBlobStore.open({ dir: other }).then((s) => s.close());
    await writeFile(join(other, 'refuge-blobs.json'), '{"format":"something-else"}');
    await assert.rejects(FsBlobStore.open({ dir: other }), isCode('bad_request'));
  });

  test('declares durability from its option', async () => {
    const fast = await FsBlobStore.open({ dir: await newDir(), durability: 'fast' });
    assert.equal(fast.capabilities.durable, false);
    assert.deepEqual((await fast.put(bytes('fast'))).created, true);
    await fast.close();
    await assert.rejects(FsBlobStore.open({ dir: await newDir(), durability: 'sometimes' as 'fast' }), isCode('bad_request'));
  });

  test('temp files of crashed writes are removed at open; those of live stores are kept', async () => {
    const d = await newDir();
    const live = await FsBlobStore.open({ dir: d });
    // A write in progress in the live store keeps its temp file.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    const pending = live.put(
      (async function* () {
        // The store opens its temp file before it pulls the first chunk.
        started();
        yield bytes('first half, ');
        await gate;
        yield bytes('second half');
      })(),
    );
    const tmp = join(d, 'tmp');
    await reading;
    const liveTemps = await readdir(tmp);
    assert.equal(liveTemps.length, 1);
    // A dead process's leftovers, and this process's from a store object no longer open.
    let deadPid = 4_000_000;
    while (deadPid > 1 && (() => { try { process.kill(deadPid, 0); return true; } catch { return false; } })()) deadPid--;
    await writeFile(join(tmp, `${deadPid}-abcdef012345-0.part`), 'partial');
    await writeFile(join(tmp, `${process.pid}-0123456789ab-7.part`), 'partial');
    const second = await FsBlobStore.open({ dir: d });
    assert.deepEqual((await readdir(tmp)).sort(), liveTemps.sort());
    release();
    const { id } = await pending;
    assert.equal(Buffer.from(await readAll(await second.get(id))).toString(), 'first half, second half');
    assert.deepEqual(await readdir(tmp), []);
    await live.close();
    await second.close();
  });

  test('a put killed mid-write (SIGKILL) leaves no blob under any id, and its temp file is cleaned at open', async () => {
    const d = await newDir();
    const script = `
      import { FsBlobStore } from ${JSON.stringify(new URL('../../src/blobs/index.ts', import.meta.url).href)};
      const store = await FsBlobStore.open({ dir: ${JSON.stringify(d)} });
      const chunk = new Uint8Array(1024 * 1024).fill(7);
      await store.put((async function* () {
        for (let i = 0; ; i++) {
          yield chunk;
          if (i === 8) process.stdout.write('writing\\n');
        }
      })());
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.equal((await readdir(join(d, 'tmp'))).length, 1, 'the crashed write left its temp file');
    const store = await FsBlobStore.open({ dir: d });
    assert.deepEqual(await readdir(join(d, 'tmp')), []);
    assert.deepEqual(await store.list(), { ids: [] });
    assert.deepEqual(await store.scrub(), { checked: 0, bytes: 0, corrupt: [] });
    await store.close();
  });

  for (const durability of ['durable', 'fast'] as const) {
    test(`a wrong claimed id leaves no temp file behind (${durability})`, async () => {
      const store = await FsBlobStore.open({ dir, durability });
      await assert.rejects(store.put(bytes('a'), { expectedId: idOf(bytes('b')) }), isCode('hash_mismatch'));
      assert.deepEqual(await readdir(join(dir, 'tmp')), []);
      await store.close();
    });

    test(`a truncated copy on disk is replaced by the next put of the blob (${durability})`, async () => {
      const store = await FsBlobStore.open({ dir, durability });
      const data = bytes(`to be truncated (${durability})`);
      const { id } = await store.put(data);
      await rm(store.pathOf(id));
      await writeFile(store.pathOf(id), 'to be');
      assert.equal((await store.verify(id)).status, 'corrupt');
      assert.equal((await store.put(data)).created, false);
      assert.equal((await store.verify(id)).status, 'ok');
      // A probing put finds it there (and only refreshes its age).
      assert.equal((await store.put(data, { probe: true })).created, false);
      await store.close();
    });

    test(`a copy of the right size with a damaged byte is replaced by the next streamed put of the blob (${durability})`, async () => {
      const store = await FsBlobStore.open({ dir, durability });
      const data = randomBytesOf(300_000);
      const { id } = await store.put(data);
      await flipByte(store, id, 123_456);
      assert.equal((await store.verify(id)).status, 'corrupt');
      assert.equal((await store.put(trickle([data.subarray(0, 100_000), data.subarray(100_000)]), { expectedId: id })).created, false);
      assert.equal((await store.verify(id)).status, 'ok');
      await store.close();
    });
  }

  test('a fast store posts only the bytes of a view to its writer thread, not the buffer behind it', () => {
    // Posting a view clones its whole buffer: a chunk of a 64 MiB file read whole would cost 64 MiB.
    const big = Buffer.alloc(1 << 20, 1);
    const view = big.subarray(4096, 104_096);
    assert.equal(postable(view).buffer.byteLength, 100_000);
    assert.ok(Buffer.from(postable(view)).equals(view));
    const own = new Uint8Array(1000);
    assert.equal(postable(own), own);
    const shared = new Uint8Array(new SharedArrayBuffer(1 << 20)).subarray(10, 20);
    assert.equal(postable(shared), shared);
  });

  test('a fast store left open lets the process exit once its puts are done', async () => {
    const d = await newDir();
    const script = `
      import { FsBlobStore } from ${JSON.stringify(new URL('../../src/blobs/index.ts', import.meta.url).href)};
      const store = await FsBlobStore.open({ dir: ${JSON.stringify(d)}, durability: 'fast' });
      const { id } = await store.put(new Uint8Array(300000).fill(3));
      process.stdout.write(id);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.match(out, /^sha256-[0-9a-f]{64}$/);
    const store = await FsBlobStore.open({ dir: d });
    assert.equal((await store.verify(out as `sha256-${string}`)).status, 'ok');
    await store.close();
  });
});
