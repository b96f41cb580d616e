// The blob store's Node face: everything portable from core.ts, plus the filesystem and S3 backends
// and openBlobStore() to pick one. The S3 SDK (large) is loaded only when an S3 store is opened.

import { RefugeError } from '../errors/index.ts';
import { FsBlobStore, type FsBlobStoreOptions } from './fs.ts';
import { nodeSha256 } from './hash-node.ts';
import { MemoryBlobStore } from './memory.ts';
import type { S3BlobStoreOptions } from './s3.ts';
import type { BaseStoreOptions } from './base.ts';
import type { BlobStore } from './types.ts';

export * from './core.ts';
export { FsBlobStore, type FsBlobStoreOptions };
export type { S3BlobStore, S3BlobStoreOptions } from './s3.ts';
export { nodeSha256 } from './hash-node.ts';
export { BlobStaging } from './staging.ts';
/** Runs an async function over a list with bounded concurrency (used beyond blobs too). */
export { mapLimit } from './base.ts';

export type OpenBlobStoreOptions =
  | ({ backend: 'memory' } & BaseStoreOptions)
  | ({ backend: 'fs' } & FsBlobStoreOptions)
  | ({ backend: 's3' } & S3BlobStoreOptions);

export async function openBlobStore(options: OpenBlobStoreOptions): Promise<BlobStore> {
  switch (options?.backend) {
    case 'memory':
      // In Node the memory store may as well hash with OpenSSL.
      return new MemoryBlobStore({ ...options, hasher: options.hasher ?? nodeSha256 });
    case 'fs':
      return FsBlobStore.open(options);
    case 's3': {
      const { S3BlobStore } = await import('./s3.ts');
      return S3BlobStore.open(options);
    }
    default:
      throw new RefugeError('bad_request', `unknown blob store backend ${JSON.stringify((options as { backend?: unknown } | undefined)?.backend)}`);
  }
}

/** Opens an S3 store directly (for callers that want the S3BlobStore type, e.g. for its client). */
export async function openS3BlobStore(options: S3BlobStoreOptions) {
  const { S3BlobStore } = await import('./s3.ts');
  return S3BlobStore.open(options);
}
