// Partial blobs staged on disk until complete: per key an append-only data file and a small JSON
// record, fsynced as each append ends, dropped `ttlMs` after creation. Resumable HTTP uploads and
// mesh transfers cut mid-blob stage here; staged bytes reach a store only through `finish`, verified.

import { EventEmitter } from 'node:events';
import type { AppendResult, BlobStagingOptions, StagedInfo, StagingArea } from './staging-area.ts';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncDir } from '../platform/durable-file.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { BlobId } from './id.ts';
import { KeyedLock } from './keyed-lock.ts';
import type { BlobStore, PutResult } from './types.ts';

export type { AppendResult, BlobStagingOptions, StagedInfo } from './staging-area.ts';

/** Keys are file names: ids and hex tokens only, so no key can walk out of the directory. */
const KEY_RE = /^[0-9a-z][0-9a-z-]{0,127}$/;
const FILE_RE = /^([0-9a-z][0-9a-z-]{0,127})\.(json|data)$/;
const WRITE_BATCH = 1024 * 1024;
/** A running node drops expired entries at most this often, when new ones are created. */
const SWEEP_EVERY_MS = 3600 * 1000;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/** Emits 'appended' (key, AppendResult) after every append has persisted what it received. */

/** A failed write of staged bytes: out of room says so, as the blob store does; the errno is kept as cause. */
function writeFailure(err: unknown): RefugeError {
  const code = (err as { code?: unknown } | null)?.code;
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  return new RefugeError('internal', full ? `the upload area is out of space (${code}): free some, then resume from the offset staged` : `the upload area failed to write (${String(code ?? err)})`, { cause: err });
}
export class BlobStaging extends EventEmitter implements StagingArea {
  readonly #locks = new KeyedLock();
  readonly ttlMs: number;
  readonly maxSize: number;
  readonly #label: string;
  readonly #now: () => number;
  #lastSweep = 0;

  private constructor(
    readonly dir: string,
    private readonly temporary: boolean,
    options: BlobStagingOptions,
  ) {
    super();
    this.ttlMs = options.ttlMs ?? 24 * 3600 * 1000;
    this.maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    this.#label = options.label ?? 'staged blob';
    this.#now = options.now ?? Date.now;
  }

  static async open(options: BlobStagingOptions = {}): Promise<BlobStaging> {
    const temporary = options.dir === undefined;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'refuge-staging-')));
    await mkdir(dir, { recursive: true });
    const staging = new BlobStaging(dir, temporary, options);
    await staging.sweep();
    return staging;
  }

  #notFound(key: string): RefugeError {
    return new RefugeError('not_found', `${this.#label} ${JSON.stringify(key.slice(0, 80))} not found (unknown, finished or expired)`);
  }

  #paths(key: string): { meta: string; data: string } {
    if (!KEY_RE.test(key)) throw this.#notFound(key);
    return { meta: join(this.dir, `${key}.json`), data: join(this.dir, `${key}.data`) };
  }

  /** Removes expired entries and strays (data without a record, records of another format). */
  async sweep(): Promise<void> {
    this.#lastSweep = this.#now();
    for (const key of await this.#keys()) {
      // Under the key's lock: an entry being created has its data file before its record.
      await this.#locks.run(key, async () => {
        const record = await this.#record(key);
        if (record === null || record.created + this.ttlMs <= this.#now()) await this.#remove(key);
      });
    }
  }

  /** The keys of the files in the directory (an entry's two files, or a stray one). */
  async #keys(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const name of await readdir(this.dir)) {
      const m = FILE_RE.exec(name);
      if (m) keys.add(m[1]!);
    }
    return keys;
  }

  async #record(key: string): Promise<{ created: number; meta: Record<string, unknown> } | null> {
    try {
      const record = JSON.parse(await readFile(this.#paths(key).meta, 'utf8')) as { created?: unknown; meta?: unknown };
      if (typeof record.created !== 'number') return null;
      const meta = record.meta !== null && typeof record.meta === 'object' ? (record.meta as Record<string, unknown>) : {};
      return { created: record.created, meta };
    } catch (err) {
      if (errno(err) === 'ENOENT' || err instanceof SyntaxError) return null;
      throw err;
    }
  }

  async #remove(key: string): Promise<void> {
    const { meta, data } = this.#paths(key);
    await unlink(meta).catch(() => undefined);
    await unlink(data).catch(() => undefined);
  }

  /** The entry's state, or null when there is none (an expired one is removed). */
  async find(key: string): Promise<StagedInfo | null> {
    const { data } = this.#paths(key);
    const record = await this.#record(key);
    if (record === null) return null;
    const expires = record.created + this.ttlMs;
    if (expires <= this.#now()) {
      await this.#remove(key);
      return null;
    }
    try {
      return { key, offset: (await stat(data)).size, created: record.created, expires, meta: record.meta };
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      throw err;
    }
  }

  /** Every entry that has not expired (expired ones found on the way are removed). */
  async list(): Promise<StagedInfo[]> {
    const out: StagedInfo[] = [];
    for (const key of await this.#keys()) {
      const info = await this.find(key);
      if (info) out.push(info);
    }
    return out;
  }

  /** The entry's state; not_found when unknown or expired. */
  async info(key: string): Promise<StagedInfo> {
    const found = await this.find(key);
    if (found === null) throw this.#notFound(key);
    return found;
  }

  /** A new, empty entry; conflict when `key` is staged already. */
  async create(key: string, meta: Record<string, unknown> = {}): Promise<StagedInfo> {
    if (this.#now() - this.#lastSweep >= Math.min(this.ttlMs, SWEEP_EVERY_MS)) await this.sweep();
    const { meta: metaPath, data } = this.#paths(key);
    return this.#locks.run(key, async () => {
      const created = this.#now();
      try {
        await writeFile(data, new Uint8Array(0), { flag: 'wx' });
      } catch (err) {
        if (errno(err) === 'EEXIST') throw new RefugeError('conflict', `${this.#label} ${key} exists already`, { cause: err });
        throw err;
      }
      // The record goes last: an entry whose record exists always has its data file.
      await writeFile(metaPath, JSON.stringify({ created, meta }) + '\n', { flag: 'w', flush: true });
      // Both names on stable storage, so the bytes each append fsyncs are findable after a crash.
      await syncDir(this.dir);
      return { key, offset: 0, created, expires: created + this.ttlMs, meta };
    });
  }

  /**
   * Appends `body` at `offset`, which must be the staged size (conflict otherwise). Whatever arrives
   * is written and fsynced before this resolves, also when the body breaks off (then `aborted`); a
   * RefugeError from the body (its source found it wrong) is thrown after that.
   */
  append(key: string, offset: number, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<AppendResult> {
    return this.#locks.run(key, async () => {
      const current = (await this.info(key)).offset;
      if (offset !== current) throw new RefugeError('conflict', `offset ${offset} does not match the ${current} bytes staged`);
      const fh = await open(this.#paths(key).data, 'a');
      let size = current;
      let result: AppendResult = { offset: current, aborted: false };
      let failure: unknown;
      let writeFailed = false;
      try {
        let batch: Uint8Array[] = [];
        let batched = 0;
        const flush = async () => {
          if (batched === 0) return;
          const chunks = batch;
          batch = [];
          batched = 0;
          let written = 0;
          const total = chunks.reduce((n, c) => n + c.length, 0);
          try {
            while (written < total) {
              // writev may write short: continue from where it stopped. `size` follows each write,
              // so after a failure it is what the file holds and a client resumes from there.
              const n = (await fh.writev(sliceFrom(chunks, written))).bytesWritten;
              written += n;
              size += n;
            }
          } catch (err) {
            // A RefugeError, so the loop below does not take it for a client that went away.
            writeFailed = true;
            throw writeFailure(err);
          }
        };
        try {
          for await (const chunk of body) {
            if (size + batched + chunk.length > this.maxSize) {
              throw new RefugeError('too_large', `the ${this.#label} would exceed the ${this.maxSize}-byte limit`);
            }
            batch.push(chunk);
            batched += chunk.length;
            if (batched >= WRITE_BATCH) await flush();
          }
        } catch (err) {
          if (isRefugeError(err)) failure = err;
          else result = { offset: current, aborted: true, cause: err }; // the source went away: keep what it sent
        }
        if (!writeFailed) await flush();
        await fh.sync().catch((err: unknown) => {
          // After a failed write, that failure is the one to report.
          if (!writeFailed) throw writeFailure(err);
        });
        result.offset = size;
      } finally {
        await fh.close();
      }
      this.emit('appended', key, result);
      if (failure) throw failure;
      return result;
    });
  }

  /**
   * Stores the staged bytes as a blob, verified against `expectedId` when given; the entry is then
   * gone. A mismatch keeps it (a client may still append) unless `discardOnMismatch`.
   */
  finish(key: string, store: BlobStore, options: { expectedId?: BlobId; discardOnMismatch?: boolean } = {}): Promise<PutResult> {
    return this.#locks.run(key, async () => {
      await this.info(key);
      const source = createReadStream(this.#paths(key).data, { highWaterMark: WRITE_BATCH });
      let result: PutResult;
      try {
        result = await store.put(source, { ...(options.expectedId !== undefined && { expectedId: options.expectedId }), maxSize: this.maxSize });
      } catch (err) {
        if (options.discardOnMismatch && isRefugeError(err, 'hash_mismatch')) await this.#remove(key);
        throw err;
      }
      await this.#remove(key);
      return result;
    });
  }

  /** Discards an entry; false when it did not exist. */
  discard(key: string): Promise<boolean> {
    return this.#locks.run(key, async () => {
      if ((await this.find(key)) === null) return false;
      await this.#remove(key);
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.temporary) await rm(this.dir, { recursive: true, force: true });
  }
}

/** The chunks from byte `offset` on (for finishing a short writev). */
function sliceFrom(chunks: Uint8Array[], offset: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (offset >= chunk.length) {
      offset -= chunk.length;
      continue;
    }
    out.push(offset > 0 ? chunk.subarray(offset) : chunk);
    offset = 0;
  }
  return out;
}
