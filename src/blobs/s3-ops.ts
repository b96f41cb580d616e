// S3 operations shared by the S3 backend beyond a single request: SDK failures mapped to RefugeError,
// a multipart upload with parts in flight while the next are hashed, and server-side copies.

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { RefugeError } from '../errors/index.ts';
import { mapLimit } from './base.ts';

/** The bucket an operation works in. */
export interface S3Target {
  readonly client: S3Client;
  readonly bucket: string;
}

/** S3's limit for one CopyObject; bigger blobs are copied in parts. */
const MAX_SINGLE_COPY = 5 * 1024 * 1024 * 1024;
const COPY_PART = 512 * 1024 * 1024;

type S3Err = { name?: string; $metadata?: { httpStatusCode?: number } };

const statusOf = (err: unknown) => (err as S3Err | null)?.$metadata?.httpStatusCode;

export function isNotFound(err: unknown): boolean {
  const name = (err as S3Err | null)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(err) === 404;
}

/** Maps an SDK failure to a RefugeError (the SDK error stays as `cause`). */
export function s3Failure(err: unknown, what: string): RefugeError {
  if (err instanceof RefugeError) return err;
  const name = (err as S3Err | null)?.name ?? 'Error';
  const status = statusOf(err);
  const reason = `S3 ${what} failed: ${name}${status ? ` (HTTP ${status})` : ''}${err instanceof Error && err.message && err.message !== name ? `: ${err.message}` : ''}`;
  if (name === 'AbortError') return new RefugeError('bad_request', `S3 ${what} aborted`, { cause: err });
  if (status === 401 || status === 403) return new RefugeError('forbidden', reason, { cause: err });
  if (status === undefined || status >= 500 || name === 'NoSuchBucket') return new RefugeError('unavailable', reason, { cause: err });
  return new RefugeError('internal', reason, { cause: err });
}

/** Runs one SDK call; its failure comes back as a RefugeError. */
export async function s3Send<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw s3Failure(err, what);
  }
}

/** Uploads parts with up to `queueSize` in flight while the next ones are read (and hashed). */
export async function uploadParts(
  target: S3Target,
  key: string,
  uploadId: string,
  head: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
  queueSize: number,
  signal: AbortSignal | undefined,
): Promise<CompletedPart[]> {
  const done: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let partNumber = 0;
  const start = (body: Uint8Array) => {
    const n = ++partNumber;
    const p = s3Send(`UploadPart ${n}`, () =>
      target.client.send(
        new UploadPartCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
        signal ? { abortSignal: signal } : {},
      ),
    ).then(
      (res) => void done.push({ PartNumber: n, ETag: res.ETag! }),
      (err: unknown) => void (failure ??= err),
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  try {
    const queue = [...head];
    for (;;) {
      const body = queue.shift() ?? (await rest.next().then((r) => (r.done ? undefined : r.value)));
      if (body === undefined) break;
      while (inFlight.size >= queueSize) await Promise.race(inFlight);
      if (failure) throw failure;
      start(body);
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure;
  return done.sort((a, b) => a.PartNumber! - b.PartNumber!);
}

/** A server-side copy, in parts past S3's 5 GiB limit for one CopyObject. */
export async function copyObject(target: S3Target, from: string, to: string, size: number): Promise<void> {
  const source = `${target.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
  if (size <= MAX_SINGLE_COPY) {
    await s3Send('CopyObject', () =>
      target.client.send(new CopyObjectCommand({ Bucket: target.bucket, Key: to, CopySource: source, ContentType: 'application/octet-stream' })),
    );
    return;
  }
  const { UploadId } = await s3Send('CreateMultipartUpload', () =>
    target.client.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: to, ContentType: 'application/octet-stream' })),
  );
  try {
    const ranges = Array.from({ length: Math.ceil(size / COPY_PART) }, (_, i) => i);
    const parts = await mapLimit(ranges, 4, async (i) => {
      const first = i * COPY_PART;
      const last = Math.min(size, first + COPY_PART) - 1;
      const res = await s3Send('UploadPartCopy', () =>
        target.client.send(
          new UploadPartCopyCommand({ Bucket: target.bucket, Key: to, UploadId, PartNumber: i + 1, CopySource: source, CopySourceRange: `bytes=${first}-${last}` }),
        ),
      );
      return { PartNumber: i + 1, ETag: res.CopyPartResult!.ETag! };
    });
    await s3Send('CompleteMultipartUpload', () =>
      target.client.send(new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } })),
    );
  } catch (err) {
    await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: to, UploadId })).catch(() => {});
    throw err;
  }
}
