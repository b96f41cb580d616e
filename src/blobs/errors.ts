// The few errors the blob store raises, built in one place so their codes and wording stay stable.

import { RefugeError } from '../errors/index.ts';
import type { BlobId } from './id.ts';

export const hashMismatch = (reason: string) => new RefugeError('hash_mismatch', reason);

export const blobNotFound = (id: BlobId) => new RefugeError('not_found', `blob ${id} not found`);

/**
 * An unsatisfiable byte range. The code stays `bad_request` (ErrorCode has no dedicated one yet) but
 * the status is HTTP's 416, so the HTTP layer answers "Range Not Satisfiable" without guessing.
 */
export const rangeNotSatisfiable = (reason: string) => new RefugeError('bad_request', reason, { status: 416 });

export const storeClosed = (backend: string) => new RefugeError('closed', `the ${backend} blob store is closed`);
