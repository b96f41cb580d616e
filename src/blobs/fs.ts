// The filesystem backend (Node only): one read-only file per blob at blobs/ab/cd/sha256-abcd…, written
// to tmp/ first, fsynced (durable), then hard-linked into place: never a partial blob under an id.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink, type FileHandle, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import { BaseBlobStore, type BaseStoreOptions } from './base.ts';
import { checkExpected, type Metered } from './chunks.ts';
import { blobNotFound, corruptBlob } from './errors.ts';
import { ShardDirs, checkFormat, cleanTemps, errno, liveTokens, sortedEntries, syncDir, writeNewFile, writeStream } from './fs-io.ts';
import { WriterThread } from './fs-writer.ts';
import { nodeSha256 } from './hash-node.ts';
import { blobIdFromDigest, isBlobId, parseBlobId, type BlobId } from './id.ts';
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

const READ_CHUNK = 1024 * 1024;
const HEX2 = /^[0-9a-f]{2}$/;
/** Puts waiting on the writer thread beyond which the next one is hashed here instead. */
const HASH_HERE_BACKLOG = 8;

export class FsBlobStore extends BaseBlobStore {
  readonly backend = 'fs';
  readonly capabilities: BlobCapabilities;
  readonly dir: string;
  readonly #blobsDir: string;
  readonly #tmpDir: string;
  readonly #durable: boolean;
  readonly #token = randomBytes(6).toString('hex');
  readonly #shards: ShardDirs;
  readonly #writer = new WriterThread();
  #tempCounter = 0;

  private constructor(options: FsBlobStoreOptions) {
    super({ ...options, hasher: options.hasher ?? nodeSha256 });
    this.dir = options.dir;
    this.#blobsDir = join(options.dir, 'blobs');
    this.#tmpDir = join(options.dir, 'tmp');
    this.#durable = (options.durability ?? 'durable') === 'durable';
    this.#shards = new ShardDirs(this.#blobsDir, this.#durable);
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
      await checkFormat(store.dir, store.#tempPath());
      await cleanTemps(store.#tmpDir, options.staleTempMs ?? 24 * 3600 * 1000);
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

  /** When blob `id`'s file was last written (ms since the epoch): its age for gc's grace period. */
  async modifiedAt(id: BlobId): Promise<number> {
    return (await stat(this.pathOf(id))).mtimeMs;
  }

  #tempPath(): string {
    return join(this.#tmpDir, `${process.pid}-${this.#token}-${this.#tempCounter++}.part`);
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
      if (bytesRead === 0) throw corruptBlob(`blob ${id} is shorter than expected (ends at ${position})`);
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
      await writeStream(fh, source, this.#durable);
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

  /**
   * In 'fast' durability a whole buffer goes to the writer thread, which hashes, writes and links it
   * in one go. Deletes go through that thread too (see remove), so the link needs no lock here: put
   * and delete of one blob are applied, and reported, in the thread's order. Durable puts stay on
   * the thread pool, where several fsyncs can wait at once.
   */
  protected override async putBytes(bytes: Uint8Array, expected: BlobId | undefined, options: PutOptions): Promise<PutResult> {
    if (this.#durable) return super.putBytes(bytes, expected, options);
    // Hashing is half the thread's work: when it falls behind (a slow disk), this thread takes that half.
    const hex = this.#writer.backlog >= HASH_HERE_BACKLOG ? this.#hex(bytes) : undefined;
    const written = await this.#writer.put(bytes, this.#blobsDir, this.#tempPath(), {
      probe: expected !== undefined || options.probe === true,
      ...(expected !== undefined ? { expected: expected.slice(7) } : {}),
      ...(hex !== undefined ? { hex } : {}),
    });
    const id: BlobId = `sha256-${written.hex}`;
    checkExpected(expected, id);
    if (written.created) this.feed.emit({ type: 'added', id, size: bytes.length });
    else this.renew(id);
    return { id, size: bytes.length, created: written.created === true };
  }

  #hex(bytes: Uint8Array): string {
    const hasher = this.hasher();
    hasher.update(bytes);
    return Buffer.from(hasher.digest()).toString('hex');
  }

  /**
   * A buffer this store has just hashed itself (durable puts): one write of a temp file (its shard
   * folder made meanwhile, once per store object), then the same install as a streamed put.
   */
  protected override async writeBytes(bytes: Uint8Array, id: BlobId, _options: PutOptions): Promise<PutResult> {
    const tmp = this.#tempPath();
    const shardReady = this.#shards.ensure(dirname(this.pathOf(id)));
    shardReady.catch(() => {}); // awaited by #install; a failed write must not leave it unhandled
    try {
      // Read-only from birth, like a streamed put's temp file.
      await writeNewFile(tmp, bytes, 0o444, this.#durable);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    try {
      return await this.commit(id, bytes.length, () => this.#install(tmp, id, bytes.length));
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  /** Moves a complete, verified temp file under its id; true when it was not there before. */
  async #install(tmp: string, id: BlobId, size: number): Promise<boolean> {
    const final = this.pathOf(id);
    const shard = dirname(final);
    await this.#shards.ensure(shard);
    let created: boolean;
    try {
      // link() never replaces: of two writers of one blob (even in two processes) exactly one creates it.
      await link(tmp, final).catch(async (err: unknown) => {
        if (errno(err) !== 'ENOENT') throw err;
        // The shard was removed behind our back since we cached it: make it again, once.
        this.#shards.forget(shard);
        await this.#shards.ensure(shard);
        await link(tmp, final);
      });
      created = true;
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST') {
        // A damaged copy (of the wrong size, or whose bytes are not its id's) is replaced: we hold verified bytes.
        if ((await stat(final)).size !== size || !(await this.#holdsItsId(final, id))) {
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

  /** Whether the file at `path` hashes to `id` (a copy found in place by a streamed put). */
  async #holdsItsId(path: string, id: BlobId): Promise<boolean> {
    const hasher = this.hasher();
    const fh = await open(path, 'r');
    try {
      for await (const chunk of fh.createReadStream({ autoClose: false })) hasher.update(chunk as Uint8Array);
    } finally {
      await fh.close();
    }
    return blobIdFromDigest(hasher.digest()) === id;
  }

  /** The file's mtime is the blob's age for gc: a re-store refreshes it. */
  protected override async touch(id: BlobId): Promise<void> {
    const now = new Date();
    await utimes(this.pathOf(id), now, now).catch(() => undefined);
  }

  protected async remove(id: BlobId): Promise<number | null> {
    const path = this.pathOf(id);
    if (!this.#durable) return this.#writer.remove(path);
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
    await this.#writer.close();
    liveTokens.delete(this.#token);
  }
}
