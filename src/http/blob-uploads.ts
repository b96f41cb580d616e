// Staged resumable uploads (tus-like) for `/_blobs/_uploads`: each upload is an entry of the blob
// staging area (src/blobs/staging.ts) under a random name; bytes a PATCH received are fsynced when
// it ends, even when the client vanished mid-body, so the offset read back is what survives a crash.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RefugeError } from '../errors/index.ts';
import { BlobStaging, type AppendResult, type BlobId, type BlobStore, type PutResult, type StagedInfo } from '../blobs/index.ts';

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

const asUpload = (info: StagedInfo): UploadInfo => ({ upload: info.key, offset: info.offset, created: info.created, expires: info.expires });

/** Emits 'patched' (upload, PatchResult) after every PATCH has persisted what it received. */
export class BlobUploads extends EventEmitter {
  private constructor(private readonly staging: BlobStaging) {
    super();
    staging.on('appended', (upload: string, result: AppendResult) => this.emit('patched', upload, { offset: result.offset, aborted: result.aborted }));
  }

  static async open(options: UploadsOptions): Promise<BlobUploads> {
    return new BlobUploads(
      await BlobStaging.open({
        ...(options.dir !== undefined && { dir: options.dir }),
        ...(options.ttlMs !== undefined && { ttlMs: options.ttlMs }),
        maxSize: options.maxSize,
        label: 'upload',
      }),
    );
  }

  get dir(): string {
    return this.staging.dir;
  }

  get ttlMs(): number {
    return this.staging.ttlMs;
  }

  get maxSize(): number {
    return this.staging.maxSize;
  }

  /** Upload names are ours (random hex): anything else is unknown, whatever the staging area holds. */
  #name(upload: string): string {
    if (!UPLOAD_RE.test(upload)) throw new RefugeError('not_found', `upload ${JSON.stringify(upload.slice(0, 64))} not found (unknown, finished or expired)`);
    return upload;
  }

  /** The upload's state; not_found when unknown or expired (then it is removed). */
  async info(upload: string): Promise<UploadInfo> {
    return asUpload(await this.staging.info(this.#name(upload)));
  }

  async create(): Promise<UploadInfo> {
    return asUpload(await this.staging.create(randomBytes(16).toString('hex')));
  }

  /**
   * Appends `body` at `offset`, which must be the current size (conflict otherwise). Whatever arrives
   * is written and fsynced before this resolves, also when the body breaks off (then `aborted`).
   */
  async append(upload: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<PatchResult> {
    try {
      const result = await this.staging.append(this.#name(upload), offset, body);
      return { offset: result.offset, aborted: result.aborted };
    } catch (err) {
      if (!(err instanceof RefugeError && err.code === 'conflict')) throw err;
      const current = (await this.staging.info(upload)).offset;
      throw new RefugeError('conflict', `Upload-Offset ${offset} does not match the ${current} bytes the server has`, { cause: err });
    }
  }

  /** Verifies the staged bytes and stores them as a blob; the upload is then gone. A mismatch keeps it. */
  finish(upload: string, store: BlobStore, expectedId: BlobId | undefined): Promise<PutResult> {
    return this.staging.finish(this.#name(upload), store, expectedId !== undefined ? { expectedId } : {});
  }

  /** Discards an upload; false when it did not exist. */
  async discard(upload: string): Promise<boolean> {
    return this.staging.discard(this.#name(upload));
  }

  close(): Promise<void> {
    return this.staging.close();
  }
}
