// Filesystem helpers of the fs blob store (Node only): the format marker, temp-file cleanup, fsync of
// folders, writes, sorted listings, and a cache of the shard folders known to exist (no mkdir per put).

import { close, fdatasync, open as openCb, write as writeCb } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import { syncDir } from '../platform/durable-file.ts';

export const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

const FORMAT = { format: 'refuge-blobs', version: 1, hash: 'sha256', layout: 'blobs/<2 hex>/<2 hex>/<id>' };
const FORMAT_FILE = 'refuge-blobs.json';

/** Writes the format marker of a new store (through `tmp`), or refuses a folder marked otherwise. */
export async function checkFormat(dir: string, tmp: string): Promise<void> {
  const path = join(dir, FORMAT_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    await writeFile(tmp, JSON.stringify(FORMAT, null, 2) + '\n');
    await rename(tmp, path);
    return;
  }
  let found: { format?: unknown; version?: unknown } | undefined;
  try {
    found = JSON.parse(text) as typeof found;
  } catch {
    found = undefined;
  }
  if (found?.format !== FORMAT.format || found.version !== FORMAT.version) {
    throw new RefugeError('bad_request', `${dir} is not a version ${FORMAT.version} Refuge blob store (${FORMAT_FILE})`);
  }
}

/** Tokens of the store objects open in this process: their temp files are not stale. */
export const liveTokens = new Set<string>();
const TEMP_RE = /^(\d+)-([0-9a-f]+)-\d+\.part$/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

/**
 * Temp files are named `<pid>-<store token>-<n>.part`. One is a leftover of a crashed write when its
 * process is gone, or is this process but no open store has its token, or is simply very old.
 */
export async function cleanTemps(tmpDir: string, staleMs: number): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(tmpDir)) {
    const m = TEMP_RE.exec(name);
    const path = join(tmpDir, name);
    let stale: boolean;
    if (!m) {
      stale = await stat(path).then((s) => now - s.mtimeMs > staleMs, () => false);
    } else {
      const pid = Number(m[1]);
      stale = pid === process.pid ? !liveTokens.has(m[2]!) : !pidAlive(pid);
      if (!stale) stale = await stat(path).then((s) => now - s.mtimeMs > staleMs, () => false);
    }
    if (stale) await unlink(path).catch((err: unknown) => { if (errno(err) !== 'ENOENT') throw err; });
  }
}

export { syncDir };

async function writeFully(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

/** Appends `chunks` (totalling `total` bytes) with one writev, finishing a short write chunk by chunk. */
async function writeAll(fh: FileHandle, chunks: Uint8Array[], total: number): Promise<void> {
  if (chunks.length === 1) return writeFully(fh, chunks[0]!);
  let { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  for (const chunk of chunks) {
    if (bytesWritten >= chunk.length) {
      bytesWritten -= chunk.length;
      continue;
    }
    await writeFully(fh, chunk.subarray(bytesWritten));
    bytesWritten = 0;
  }
}

const WRITE_BATCH = 1024 * 1024;
/** A durable write starts flushing every this many bytes written. */
const FLUSH_EVERY = 8 * 1024 * 1024;

/**
 * Writes a streamed put's chunks to `fh`. The write of one chunk overlaps hashing and receiving the
 * next. A durable store also flushes to disk as it goes (one datasync in flight at a time), so the
 * final datasync (the caller's) has little left. Small chunks (a network body's 16–64 KiB) are
 * gathered into one writev of >= 1 MiB.
 */
export async function writeStream(fh: FileHandle, source: AsyncIterable<Uint8Array>, durable: boolean): Promise<void> {
  let pending: Promise<void> = Promise.resolve();
  let flushing: Promise<void> | undefined;
  let unflushed = 0;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  try {
    for await (const chunk of source) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes < WRITE_BATCH) continue;
      await pending;
      pending = writeAll(fh, batch, batchBytes);
      unflushed += batchBytes;
      batch = [];
      batchBytes = 0;
      if (durable && unflushed >= FLUSH_EVERY && flushing === undefined) {
        unflushed = 0;
        const p: Promise<void> = pending.then(() => fh.datasync()).finally(() => {
          if (flushing === p) flushing = undefined;
        });
        flushing = p;
      }
    }
    await pending;
    if (batchBytes > 0) await writeAll(fh, batch, batchBytes);
    await flushing;
  } catch (err) {
    await pending.catch(() => {});
    await flushing?.catch(() => {});
    throw err;
  }
}

export async function sortedEntries(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(keep).sort();
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * Writes `bytes` to a new file `path` (exclusive create, read-only mode), fsynced when `sync`. Plain
 * descriptors and callbacks rather than FileHandle: a put of a block is a handful of these calls, and
 * each FileHandle is one more object for the garbage collector to track.
 */
export function writeNewFile(path: string, bytes: Uint8Array, mode: number, sync: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    openCb(path, 'wx', mode, (err, fd) => {
      if (err) return reject(err);
      const finish = (failure: Error | null) =>
        close(fd, (closeErr) => {
          const first = failure ?? closeErr;
          if (first) reject(first);
          else resolve();
        });
      const flush = () => (sync ? fdatasync(fd, finish) : finish(null));
      const step = (offset: number) => {
        if (offset >= bytes.length) return flush();
        writeCb(fd, bytes, offset, bytes.length - offset, null, (werr, n) => (werr ? finish(werr) : step(offset + n)));
      };
      step(0);
    });
  });
}

/** The shard folders (blobs/ab/cd) this store object has seen exist; nothing ever removes one. */
export class ShardDirs {
  readonly #known = new Set<string>();
  readonly #making = new Map<string, Promise<void>>();

  constructor(
    private readonly root: string,
    private readonly durable: boolean,
  ) {}

  /** Makes sure `shard` exists (fsyncing the folders above a new one when durable). */
  ensure(shard: string): Promise<void> {
    if (this.#known.has(shard)) return Promise.resolve();
    let making = this.#making.get(shard);
    if (!making) {
      making = this.#make(shard).finally(() => this.#making.delete(shard));
      this.#making.set(shard, making);
    }
    return making;
  }

  /** Forgets a shard that turned out missing (removed behind the store's back). */
  forget(shard: string): void {
    this.#known.delete(shard);
  }

  async #make(shard: string): Promise<void> {
    const made = await mkdir(shard, { recursive: true });
    if (made !== undefined && this.durable) {
      await syncDir(dirname(shard));
      await syncDir(this.root);
    }
    this.#known.add(shard);
  }
}
