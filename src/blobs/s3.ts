// The S3-compatible backend (Node only; AWS, Ceph RGW, MinIO, Garage…): one object per blob at
// <prefix>blobs/<id>. A blob becomes visible only once uploaded whole and verified (see write()).

import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { RefugeError } from '../errors/index.ts';
import { BaseBlobStore, mapLimit, type BaseStoreOptions } from './base.ts';
import { copyObject, isNotFound, s3Failure, s3Send, uploadParts } from './s3-ops.ts';
import { checkExpected, fixedChunks, type Metered } from './chunks.ts';
import { blobNotFound, corruptBlob } from './errors.ts';
import { nodeSha256 } from './hash-node.ts';
import { isBlobId, parseBlobId, type BlobId } from './id.ts';
import type { BlobCapabilities, PutOptions, PutResult } from './types.ts';

export interface S3BlobStoreOptions extends BaseStoreOptions {
  bucket: string;
  /** Key prefix of this store inside the bucket, e.g. 'node-a/' (default ''). */
  prefix?: string;
  /** A client to use (left open on close); otherwise one is made from the fields below. */
  client?: S3Client;
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request, retries included (the SDK's default is 3). */
  maxAttempts?: number;
  /** Path-style URLs (bucket in the path), what most self-hosted servers want. Default true with an endpoint. */
  forcePathStyle?: boolean;
  /** Multipart part size, at least 5 MiB (S3's minimum); blobs up to one part go up in one PutObject. Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once (default 4); memory held is about (queueSize + 1) × partSize. */
  queueSize?: number;
  /** Create the bucket at open when it does not exist. */
  createBucket?: boolean;
  /** Temp objects (uploads of a crashed process) older than this are deleted at open; default 1 day. */
  staleTempMs?: number;
}

const MIN_PART = 5 * 1024 * 1024;

export class S3BlobStore extends BaseBlobStore {
  readonly backend = 's3';
  readonly capabilities: BlobCapabilities = { persistent: true, durable: true, ranges: true, atomicPut: true, exclusiveCreate: false };
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly #ownClient: boolean;
  readonly #partSize: number;
  readonly #queueSize: number;

  private constructor(options: S3BlobStoreOptions) {
    super({ ...options, hasher: options.hasher ?? nodeSha256 });
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.#partSize = options.partSize ?? 8 * 1024 * 1024;
    this.#queueSize = options.queueSize ?? 4;
    this.#ownClient = options.client === undefined;
    this.client = options.client ?? new S3Client(S3BlobStore.clientConfig(options));
  }

  /** The client settings used when none is given. */
  static clientConfig(options: S3BlobStoreOptions): S3ClientConfig {
    return {
      region: options.region ?? 'us-east-1',
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      // Only the checksums S3 requires: many S3-compatible servers do not understand the SDK's
      // default streaming (aws-chunked) checksum trailers, and every read is verified by SHA-256 anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  /** Connects (checking the bucket), and deletes stale temp objects of crashed uploads. */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    if (typeof options.bucket !== 'string' || options.bucket === '') throw new RefugeError('bad_request', 'the s3 blob store needs a bucket');
    const partSize = options.partSize ?? 8 * 1024 * 1024;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART) throw new RefugeError('bad_request', `partSize must be at least ${MIN_PART}`);
    const queueSize = options.queueSize ?? 4;
    if (!Number.isSafeInteger(queueSize) || queueSize < 1) throw new RefugeError('bad_request', 'queueSize must be a positive integer');
    const store = new S3BlobStore(options);
    try {
      await store.#ensureBucket(options.createBucket ?? false);
      await store.#cleanTemps(options.staleTempMs ?? 24 * 3600 * 1000);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** The object key of blob `id`. */
  keyOf(id: BlobId): string {
    return `${this.prefix}blobs/${parseBlobId(id)}`;
  }

  async #ensureBucket(create: boolean): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (isNotFound(err) && !create) {
        throw new RefugeError('unavailable', `S3 bucket ${this.bucket} does not exist (createBucket: true creates it)`, { cause: err });
      }
      if (!isNotFound(err)) throw s3Failure(err, `HeadBucket ${this.bucket}`);
      await s3Send('CreateBucket', () => this.client.send(new CreateBucketCommand({ Bucket: this.bucket })));
    }
  }

  async #cleanTemps(staleMs: number): Promise<void> {
    const prefix = `${this.prefix}tmp/`;
    const cutoff = Date.now() - staleMs;
    let startAfter: string | undefined;
    for (;;) {
      const res = await s3Send('ListObjectsV2', () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) })),
      );
      const stale = (res.Contents ?? []).filter((o) => o.Key && (o.LastModified?.getTime() ?? 0) <= cutoff);
      await mapLimit(stale, 8, (o) => s3Send('DeleteObject', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.Key! }))));
      startAfter = res.Contents?.at(-1)?.Key;
      if (!res.IsTruncated || startAfter === undefined) return;
    }
  }

  protected async sizeOf(id: BlobId): Promise<number | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(id) }));
      return res.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw s3Failure(err, `HeadObject ${id}`);
    }
  }

  protected async *readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    let body: AsyncIterable<Uint8Array> & { destroy?: () => void };
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(id), ...(end > start ? { Range: `bytes=${start}-${end - 1}` } : {}) }),
        signal ? { abortSignal: signal } : {},
      );
      body = res.Body as unknown as typeof body;
      // A server that ignores Range sends the whole object: never pass that off as the range.
      if (end > start && res.ContentLength !== undefined && res.ContentLength !== end - start) {
        body.destroy?.();
        throw new RefugeError('unavailable', `S3 GetObject ${id}: asked for ${end - start} bytes, the server sent ${res.ContentLength}`);
      }
    } catch (err) {
      if (isNotFound(err)) throw blobNotFound(id);
      throw s3Failure(err, `GetObject ${id}`);
    }
    let seen = 0;
    for await (const chunk of body) {
      seen += chunk.length;
      yield chunk;
    }
    if (end > start && seen < end - start) throw corruptBlob(`blob ${id} is shorter than expected (${start + seen} < ${end})`);
  }

  protected async write(source: Metered, expected: BlobId | undefined, options: PutOptions): Promise<PutResult> {
    const parts = fixedChunks(source, this.#partSize)[Symbol.asyncIterator]();
    const first = await parts.next();
    const second = first.done ? first : await parts.next();
    if (second.done) {
      // At most one part: every byte is here and hashed, so the final object is written directly.
      const bytes = first.done ? new Uint8Array(0) : first.value;
      const id = source.id();
      checkExpected(expected, id);
      return this.commit(id, source.size, async () => {
        if ((await this.sizeOf(id)) !== null) return false;
        await s3Send(`PutObject ${id}`, () =>
          this.client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(id), Body: bytes, ContentLength: bytes.length, ContentType: 'application/octet-stream' }),
            options.signal ? { abortSignal: options.signal } : {},
          ),
        );
        return true;
      });
    }
    // Multipart. With the id claimed up front the upload goes straight to the final key and is
    // completed only once the bytes verified (an incomplete upload is invisible); otherwise it goes to a
    // temp key, then is copied under the id it turned out to have.
    const key = expected !== undefined ? this.keyOf(expected) : `${this.prefix}tmp/${Date.now()}-${randomBytes(8).toString('hex')}`;
    const created = await s3Send('CreateMultipartUpload', () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' })),
    );
    const uploadId = created.UploadId!;
    let completed = false;
    const abort = () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {});
    try {
      const done = await uploadParts(this, key, uploadId, [first.value!, second.value], parts, this.#queueSize, options.signal);
      const id = source.id();
      checkExpected(expected, id);
      const complete = () =>
        s3Send('CompleteMultipartUpload', () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } })),
        );
      if (expected !== undefined) {
        return await this.commit(id, source.size, async () => {
          if ((await this.sizeOf(id)) !== null) return false;
          await complete();
          completed = true;
          return true;
        });
      }
      await complete();
      completed = true;
      try {
        return await this.commit(id, source.size, async () => {
          if ((await this.sizeOf(id)) !== null) return false;
          await copyObject(this, key, this.keyOf(id), source.size);
          return true;
        });
      } finally {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => {});
      }
    } finally {
      // Not every S3-compatible server implements abort; a bucket lifecycle rule reaps the rest.
      if (!completed) await abort();
    }
  }

  protected async remove(id: BlobId): Promise<number | null> {
    // S3's DeleteObject does not say whether the object existed: ask first (a race only blurs the answer).
    const size = await this.sizeOf(id);
    if (size === null) return null;
    await s3Send(`DeleteObject ${id}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(id) })));
    return size;
  }

  protected async listPage(after: BlobId | undefined, limit: number): Promise<{ ids: BlobId[]; more: boolean }> {
    const prefix = `${this.prefix}blobs/`;
    const ids: BlobId[] = [];
    let startAfter = after === undefined ? undefined : this.keyOf(after);
    for (;;) {
      const res = await s3Send('ListObjectsV2', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            MaxKeys: Math.min(1000, limit - ids.length),
            ...(startAfter !== undefined ? { StartAfter: startAfter } : {}),
          }),
        ),
      );
      for (const obj of res.Contents ?? []) {
        if (!obj.Key) continue;
        startAfter = obj.Key;
        // Anything else under blobs/ (written by hand) is not a blob of ours: skipped.
        const name = obj.Key.slice(prefix.length);
        if (isBlobId(name)) ids.push(name);
      }
      if (!res.IsTruncated) return { ids, more: false };
      if (ids.length >= limit) return { ids, more: true };
    }
  }

  protected override async closeBackend(): Promise<void> {
    if (this.#ownClient) this.client.destroy();
  }
}
