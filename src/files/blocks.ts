// UnixFS blocks as blobs: a block's CID (raw 0x55 or dag-pb 0x70, sha2-256) names the same digest as
// its `sha256-` blob id, so a tree lives in any BlobStore. Reads go through the store's verified reads.

import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { badRequest } from '../errors/index.ts';
import { DAG_PB_CODEC, RAW_CODEC, blobIdFromCid, blobIdFromDigest, digestOfBlobId, isBlobId, type BlobId } from '../blobs/id.ts';
import { collectBytes } from '../blobs/chunks.ts';
import type { BlobStore } from '../blobs/types.ts';

export { DAG_PB_CODEC, RAW_CODEC };
const SHA2_256 = 0x12;

/** The CIDv1 of a block whose sha256 digest is `digest`. */
export function cidOfDigest(digest: Uint8Array, codec: number): CID {
  return CID.createV1(codec, Digest.create(SHA2_256, digest));
}

export function cidOfBlobId(id: BlobId, codec: number): CID {
  return cidOfDigest(digestOfBlobId(id), codec);
}

/** The blob that holds the block named by `cid` (sha2-256 CIDs only). */
export function blobIdOfCid(cid: CID): BlobId {
  if (cid.multihash.code !== SHA2_256 || cid.multihash.digest.length !== 32) {
    throw badRequest(`CID ${cid.toString()} does not use sha2-256`);
  }
  return blobIdFromDigest(cid.multihash.digest);
}

/**
 * Parses a root given as a CID (any base, v0 or v1) or a `sha256-` blob id (read as a raw block: a
 * bare id carries no codec, so trees are always named by their CID).
 */
export function parseRoot(text: string | CID): CID {
  if (typeof text !== 'string') {
    const cid = CID.asCID(text);
    if (!cid) throw badRequest('not a CID');
    blobIdOfCid(cid);
    return cid;
  }
  if (isBlobId(text)) return cidOfBlobId(text, RAW_CODEC);
  const id = blobIdFromCid(text); // validates: bad_request on garbage
  const cid = CID.parse(text);
  if (cid.code !== RAW_CODEC && cid.code !== DAG_PB_CODEC) throw badRequest(`CID ${text} is neither raw nor dag-pb`);
  return cidOfBlobId(id, cid.code);
}

/** The bytes of one block, verified against its id by the store (wrong bytes are an error, never returned). */
export async function readBlock(store: BlobStore, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  const read = await store.get(blobIdOfCid(cid), signal ? { signal } : {});
  return collectBytes(read);
}
