// The attachment bytes a multipart answer streams after its documents: read from the node's blob
// store, and all checked present before the answer starts.

import { RefugeError } from '../errors/index.ts';
import type { ServerContext } from './context.ts';
import { followedDigests, type BlobSource } from './multipart.ts';

/** The node's blob store, as multipart answers read attachments' bytes from it. */
export const blobSource = (ctx: ServerContext): BlobSource => async (digest) => ctx.node.blobs.get(digest as never);

/**
 * Checks that the bytes to follow these documents are all in the blob store before an answer
 * starts: once streaming, a missing one could only cut a 200 short.
 */
export async function checkFollowed(ctx: ServerContext, docs: readonly unknown[]): Promise<void> {
  for (const doc of docs) {
    for (const digest of followedDigests(doc)) {
      if (!(await ctx.node.blobs.has(digest as never))) throw new RefugeError('internal', `the bytes of attachment ${digest} are missing from the blob store`);
    }
  }
}
