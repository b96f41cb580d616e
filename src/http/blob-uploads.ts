// Staged resumable uploads (tus-like) for `/_blobs/_uploads`: each upload is a data file that only
// grows, plus a small JSON record. Bytes a PATCH received are written and fsynced when it ends, even
// when the client vanished mid-body, so the offset a client reads back is what survives a crash.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncDir } from '../platform/durable-file.ts';
import { RefugeError } from '../errors/index.ts';
import { KeyedLock } from '../blobs/keyed-lock.ts';
import type { BlobId, BlobStore, PutResult } from '../blobs/index.ts';

export interface UploadInfo {
  upload: string;
  /** Bytes staged so far. */
  offset: number;
  /** When it was created (ms since the epoch); it expires `ttlMs` later. */
  created: number;
  expires: number;
}

export interface PatchResult {
  offset: number;
  /** The client went away before the end of its body (what arrived is kept). */
  aborted: boolean;
}

export interface UploadsOptions {
  /** Where uploads are staged; without it a temp dir is used and removed at close. */
  dir?: string;
  /** Uploads expire this long after creation (default 24 h); expired ones are removed at open and when touched. */
  ttlMs?: number;
  /** Largest upload accepted (too_large past it). */
  maxSize: number;
}

const UPLOAD_RE = /^[0-9a-f]{32}$/;
const WRITE_BATCH = 1024 * 1024;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;


function notFound(upload: string): RefugeError {
  return new RefugeError('not_found', `upload ${JSON.stringify(upload.slice(0, 64))} not found (unknown, finished or expired)`);
}

/** Emits 'patched' (upload, PatchResult) after every PATCH has persisted what it received. */
export class BlobUploads extends EventEmitter {
  readonly #locks = new KeyedLock();
  readonly ttlMs: number;

  private constructor(
    readonly dir: string,
    private readonly temporary: boolean,
    readonly maxSize: number,
    ttlMs: number,
  ) {
    super();
    this.ttlMs = ttlMs;
  }

  static async open(options: UploadsOptions): Promise<BlobUploads> {
    const temporary = options.dir === undefined;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'refuge-uploads-')));
    await mkdir(dir, { recursive: true });
    const uploads = new BlobUploads(dir, temporary, options.maxSize, options.ttlMs ?? 24 * 3600 * 1000);
    await uploads.#sweep();
    return uploads;
  }

  #paths(upload: string): { meta: string; data: string } {
    if (!UPLOAD_RE.test(upload)) throw notFound(upload);
    return { meta: join(this.dir, `${upload}.json`), data: join(this.dir, `${upload}.data`) };
  }

  /** Removes expired uploads and strays (data without a record, records of another format). */
  async #sweep(): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const name of await readdir(this.dir)) {
      const m = /^([0-9a-f]{32})\.(json|data)$/.exec(name);
      if (!m || seen.has(m[1]!)) continue;
      const upload = m[1]!;
      seen.add(upload);
      const created = await this.#created(upload);
      if (created === null || created + this.ttlMs <= now) await this.#remove(upload);
    }
  }

  async #created(upload: string): Promise<number | null> {
    try {
      const record = JSON.parse(await readFile(this.#paths(upload).meta, 'utf8')) as { created?: unknown };
      return typeof record.created === 'number' ? record.created : null;
    } catch (err) {
      if (errno(err) === 'ENOENT' || err instanceof SyntaxError) return null;
      throw err;
    }
  }

  async #remove(upload: string): Promise<void> {
    const { meta, data } = this.#paths(upload);
    await unlink(meta).catch(() => undefined);
    await unlink(data).catch(() => undefined);
  }

  /** The upload's state; not_found when unknown or expired (then it is removed). */
  async info(upload: string): Promise<UploadInfo> {
    const { data } = this.#paths(upload);
    const created = await this.#created(upload);
    if (created === null) throw notFound(upload);
    const expires = created + this.ttlMs;
    if (expires <= Date.now()) {
      await this.#remove(upload);
      throw notFound(upload);
    }
    let offset: number;
    try {
      offset = (await stat(data)).size;
    } catch (err) {
      if (errno(err) === 'ENOENT') throw notFound(upload);
      throw err;
    }
    return { upload, offset, created, expires };
  }

  async create(): Promise<UploadInfo> {
    const upload = randomBytes(16).toString('hex');
    const { meta, data } = this.#paths(upload);
    const created = Date.now();
    await writeFile(data, new Uint8Array(0), { flag: 'wx' });
    // The record goes last: an upload whose record exists always has its data file.
    await writeFile(meta, JSON.stringify({ created }) + '\n', { flag: 'wx', flush: true });
    // Both names on stable storage, so the bytes each PATCH fsyncs are findable after a crash.
    await syncDir(this.dir);
    return { upload, offset: 0, created, expires: created + this.ttlMs };
  }

  /**
   * Appends `body` at `offset`, which must be the current size (conflict otherwise). Whatever arrives
   * is written and fsynced before this resolves, also when the body breaks off (then `aborted`).
   */
  append(upload: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<PatchResult> {
    return this.#locks.run(upload, async () => {
      const current = (await this.info(upload)).offset;
      if (offset !== current) {
        throw new RefugeError('conflict', `Upload-Offset ${offset} does not match the ${current} bytes the server has`);
      }
      const fh = await open(this.#paths(upload).data, 'a');
      let size = current;
      let aborted = false;
      let failure: unknown;
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
          while (written < total) {
            // writev may write short: continue from where it stopped.
            const rest = sliceFrom(chunks, written);
            written += (await fh.writev(rest)).bytesWritten;
          }
          size += total;
        };
        try {
          for await (const chunk of body) {
            if (size + batched + chunk.length > this.maxSize) {
              throw new RefugeError('too_large', `the upload would exceed the ${this.maxSize}-byte blob limit`);
            }
            batch.push(chunk);
            batched += chunk.length;
            if (batched >= WRITE_BATCH) await flush();
          }
        } catch (err) {
          if (err instanceof RefugeError) failure = err;
          else aborted = true; // the client went away: keep what it sent
        }
        await flush();
        await fh.sync();
      } finally {
        await fh.close();
      }
      const result = { offset: size, aborted };
      this.emit('patched', upload, result);
      if (failure) throw failure;
      return result;
    });
  }

  /** Verifies the staged bytes and stores them as a blob; the upload is then gone. A mismatch keeps it. */
  finish(upload: string, store: BlobStore, expectedId: BlobId | undefined): Promise<PutResult> {
    return this.#locks.run(upload, async () => {
      await this.info(upload);
      const source = createReadStream(this.#paths(upload).data, { highWaterMark: WRITE_BATCH });
      const result = await store.put(source, { ...(expectedId !== undefined && { expectedId }), maxSize: this.maxSize });
      await this.#remove(upload);
      return result;
    });
  }

  /** Discards an upload; false when it did not exist. */
  discard(upload: string): Promise<boolean> {
    return this.#locks.run(upload, async () => {
      try {
        await this.info(upload);
      } catch (err) {
        if (err instanceof RefugeError && err.code === 'not_found') return false;
        throw err;
      }
      await this.#remove(upload);
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
