// The few errors the blob store raises, built in one place so their codes and wording stay stable.

import { RefugeError } from '../errors/index.ts';
import type { BlobId } from './id.ts';

export const hashMismatch = (reason: string) => new RefugeError('hash_mismatch', reason);

/** A stored blob whose bytes are not its id's: the store's fault, not the reader's (a 500). */
export const corruptBlob = (reason: string) => new RefugeError('hash_mismatch', reason, { status: 500 });

export const blobNotFound = (id: BlobId) => new RefugeError('not_found', `blob ${id} not found`);

/** An unsatisfiable byte range: CouchDB's code for it, HTTP's 416. */
export const rangeNotSatisfiable = (reason: string) => new RefugeError('requested_range_not_satisfiable', reason);

export const storeClosed = (backend: string) => new RefugeError('closed', `the ${backend} blob store is closed`);
