// The filesystem backend (Node only): one read-only file per blob at blobs/ab/cd/sha256-abcd…, written
// to tmp/ first, fsynced, then hard-linked into place, so a crash never leaves a partial blob under an id.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink, writeFile, type FileHandle, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import { BaseBlobStore, type BaseStoreOptions } from './base.ts';
import { checkExpected, type Metered } from './chunks.ts';
import { blobNotFound, hashMismatch } from './errors.ts';
import { nodeSha256 } from './hash-node.ts';
import { isBlobId, parseBlobId, type BlobId } from './id.ts';
import type { BlobCapabilities, PutOptions, PutResult } from './types.ts';

export interface FsBlobStoreOptions extends BaseStoreOptions {
  /** The store's directory (created if missing). */
  dir: string;
  /**
   * 'durable' (default): a put or delete is on stable storage (file and directories fsynced) before
   * it resolves. 'fast': no fsync; survives a process crash, not a power cut.
   */
  durability?: 'durable' | 'fast';
  /** Temp files of another, still running process are removed at open only when older than this (default 1 day). */
  staleTempMs?: number;
}

const FORMAT = { format: 'refuge-blobs', version: 1, hash: 'sha256', layout: 'blobs/<2 hex>/<2 hex>/<id>' };
const FORMAT_FILE = 'refuge-blobs.json';
const READ_CHUNK = 1024 * 1024;
const WRITE_BATCH = 1024 * 1024;
/** A durable put starts flushing every this many bytes written. */
const FLUSH_EVERY = 8 * 1024 * 1024;
const TEMP_RE = /^(\d+)-([0-9a-f]+)-\d+\.part$/;
const HEX2 = /^[0-9a-f]{2}$/;

/** Tokens of the store objects open in this process: their temp files are not stale. */
const liveTokens = new Set<string>();

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

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

async function sortedEntries(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(keep).sort();
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return [];
    throw err;
  }
}

export class FsBlobStore extends BaseBlobStore {
  readonly backend = 'fs';
  readonly capabilities: BlobCapabilities;
  readonly dir: string;
  readonly #blobsDir: string;
  readonly #tmpDir: string;
  readonly #durable: boolean;
  readonly #token = randomBytes(6).toString('hex');
  #tempCounter = 0;

  private constructor(options: FsBlobStoreOptions) {
    super({ ...options, hasher: options.hasher ?? nodeSha256 });
    this.dir = options.dir;
    this.#blobsDir = join(options.dir, 'blobs');
    this.#tmpDir = join(options.dir, 'tmp');
    this.#durable = (options.durability ?? 'durable') === 'durable';
    this.capabilities = { persistent: true, durable: this.#durable, ranges: true, atomicPut: true, exclusiveCreate: true };
  }

  /** Opens (creating if needed) the store in `options.dir` and removes temp files of crashed writes. */
  static async open(options: FsBlobStoreOptions): Promise<FsBlobStore> {
    if (typeof options.dir !== 'string' || options.dir === '') throw new RefugeError('bad_request', 'the fs blob store needs a dir');
    const durability = options.durability ?? 'durable';
    if (durability !== 'durable' && durability !== 'fast') throw new RefugeError('bad_request', `unknown durability ${String(durability)}`);
    const store = new FsBlobStore(options);
    // Live from the start, so another store object opening the same directory spares our temp files.
    liveTokens.add(store.#token);
    try {
      await mkdir(store.#blobsDir, { recursive: true });
      await mkdir(store.#tmpDir, { recursive: true });
      await store.#checkFormat();
      await store.#cleanTemps(options.staleTempMs ?? 24 * 3600 * 1000);
    } catch (err) {
      liveTokens.delete(store.#token);
      throw err;
    }
    return store;
  }

  /** Where blob `id` lives (whether or not it exists). */
  pathOf(id: BlobId): string {
    const hex = parseBlobId(id).slice(7);
    return join(this.#blobsDir, hex.slice(0, 2), hex.slice(2, 4), id);
  }

  #tempPath(): string {
    return join(this.#tmpDir, `${process.pid}-${this.#token}-${this.#tempCounter++}.part`);
  }

  async #checkFormat(): Promise<void> {
    const path = join(this.dir, FORMAT_FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    if (text === undefined) {
      const tmp = this.#tempPath();
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
      throw new RefugeError('bad_request', `${this.dir} is not a version ${FORMAT.version} Refuge blob store (${FORMAT_FILE})`);
    }
  }

  /**
   * Temp files are named `<pid>-<store token>-<n>.part`. One is a leftover of a crashed write when its
   * process is gone, or is this process but no open store has its token, or is simply very old.
   */
  async #cleanTemps(staleMs: number): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.#tmpDir)) {
      const m = TEMP_RE.exec(name);
      const path = join(this.#tmpDir, name);
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

  protected async sizeOf(id: BlobId): Promise<number | null> {
    try {
      return (await stat(this.pathOf(id))).size;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      throw err;
    }
  }

  protected async *readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(id), 'r');
    } catch (err) {
      if (errno(err) === 'ENOENT') throw blobNotFound(id);
      throw err;
    }
    const readAt = async (position: number): Promise<Buffer> => {
      const want = Math.min(READ_CHUNK, end - position);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, position);
      if (bytesRead === 0) throw hashMismatch(`blob ${id} is shorter than expected (ends at ${position})`);
      return bytesRead < want ? buf.subarray(0, bytesRead) : buf;
    };
    // One read ahead: the disk (thread pool) works while the consumer hashes or sends this chunk.
    let pending: Promise<Buffer> | undefined;
    try {
      let position = start;
      if (position < end) pending = readAt(position);
      while (pending) {
        const buf = await pending;
        pending = undefined;
        position += buf.length;
        signal?.throwIfAborted();
        if (position < end) pending = readAt(position);
        yield buf;
      }
    } finally {
      await pending?.catch(() => {});
      await fh.close();
    }
  }

  protected async write(source: Metered, expected: BlobId | undefined, _options: PutOptions): Promise<PutResult> {
    const tmp = this.#tempPath();
    // Read-only from birth: blobs are immutable (our own fd keeps write access).
    const fh = await open(tmp, 'wx', 0o444);
    let written = false;
    try {
      // The write of one chunk overlaps hashing and receiving the next. A durable store also flushes
      // to disk as it goes (one datasync in flight at a time), so the final datasync has little left.
      // Small chunks (a network body's 16–64 KiB) are gathered into one writev of >= 1 MiB.
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
          if (this.#durable && unflushed >= FLUSH_EVERY && flushing === undefined) {
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
      if (this.#durable) await fh.datasync();
      written = true;
    } finally {
      await fh.close();
      if (!written) await unlink(tmp).catch(() => {});
    }
    const id = source.id();
    const size = source.size;
    try {
      checkExpected(expected, id);
      return await this.commit(id, size, () => this.#install(tmp, id, size));
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  /** Moves a complete, verified temp file under its id; true when it was not there before. */
  async #install(tmp: string, id: BlobId, size: number): Promise<boolean> {
    const final = this.pathOf(id);
    const shard = dirname(final);
    const made = await mkdir(shard, { recursive: true });
    if (made !== undefined && this.#durable) {
      await syncDir(dirname(shard));
      await syncDir(this.#blobsDir);
    }
    let created: boolean;
    try {
      // link() never replaces: of two writers of one blob (even in two processes) exactly one creates it.
      await link(tmp, final);
      created = true;
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST') {
        // A copy of the wrong size is damaged beyond doubt: replace it, since we hold verified bytes.
        if ((await stat(final)).size !== size) {
          await rename(tmp, final);
          if (this.#durable) await syncDir(shard);
        } else await this.touch(id);
        created = false;
      } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EMLINK') {
        // A filesystem without hard links: rename is still atomic (it may replace an identical copy).
        created = (await this.sizeOf(id)) === null;
        await rename(tmp, final);
      } else {
        throw err;
      }
    }
    if (created && this.#durable) await syncDir(shard);
    return created;
  }

  /** The file's mtime is the blob's age for gc: a re-store refreshes it. */
  protected override async touch(id: BlobId): Promise<void> {
    const now = new Date();
    await utimes(this.pathOf(id), now, now).catch(() => undefined);
  }

  protected async remove(id: BlobId): Promise<number | null> {
    const path = this.pathOf(id);
    let size: number;
    try {
      size = (await stat(path)).size;
      await unlink(path);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      throw err;
    }
    if (this.#durable) await syncDir(dirname(path));
    return size;
  }

  protected async listPage(after: BlobId | undefined, limit: number): Promise<{ ids: BlobId[]; more: boolean }> {
    // The shards are the id's first hex digits, so walking them in order enumerates ids in order.
    const hex = after?.slice(7);
    const a1 = hex?.slice(0, 2) ?? '';
    const a2 = hex?.slice(2, 4) ?? '';
    const ids: BlobId[] = [];
    for (const d1 of await sortedEntries(this.#blobsDir, (n) => HEX2.test(n) && n >= a1)) {
      const p1 = join(this.#blobsDir, d1);
      for (const d2 of await sortedEntries(p1, (n) => HEX2.test(n) && (d1 > a1 || n >= a2))) {
        const files = await sortedEntries(join(p1, d2), (n) => isBlobId(n) && (after === undefined || n > after));
        for (const name of files) {
          if (ids.length === limit) return { ids, more: true };
          ids.push(name as BlobId);
        }
      }
    }
    return { ids, more: false };
  }

  protected override async closeBackend(): Promise<void> {
    liveTokens.delete(this.#token);
  }
}
