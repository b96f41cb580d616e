// Blob ids: `sha256-<64 lowercase hex>`, the one spelling stores, keys and the wire use; the same
// digest also prints as a CIDv1 (raw codec, base32 `bafkrei…`) for IPFS tools.

import { bases } from 'multiformats/basics';
import type { MultibaseDecoder } from 'multiformats/bases/interface';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RefugeError } from '../errors/index.ts';

export type BlobId = `sha256-${string}`;

/** Multicodec codes used with blob ids. */
export const RAW_CODEC = 0x55;
export const DAG_PB_CODEC = 0x70;
const SHA2_256 = 0x12;

const ID_RE = /^sha256-[0-9a-f]{64}$/;
const PREFIX = 'sha256-';

/** True for a canonical blob id (lowercase hex only: one blob, one spelling, one key). */
export function isBlobId(value: unknown): value is BlobId {
  return typeof value === 'string' && value.length === 71 && ID_RE.test(value);
}

/** Returns the id unchanged when canonical; anything else is a bad_request. */
export function parseBlobId(value: unknown): BlobId {
  if (isBlobId(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value) : typeof value;
  throw new RefugeError('bad_request', `invalid blob id ${shown}: expected sha256-<64 lowercase hex>`);
}

export function blobIdFromDigest(digest: Uint8Array): BlobId {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new RefugeError('bad_request', 'a SHA-256 digest is 32 bytes');
  }
  return `${PREFIX}${bytesToHex(digest)}`;
}

export function digestOfBlobId(id: BlobId): Uint8Array {
  return hexToBytes(parseBlobId(id).slice(PREFIX.length));
}

/** The id as a CIDv1 string (base32). `codec` is raw for plain blobs, dag-pb for UnixFS nodes. */
export function blobIdToCid(id: BlobId, codec: number = RAW_CODEC): string {
  return CID.createV1(codec, Digest.create(SHA2_256, digestOfBlobId(id))).toString();
}

/** Every multibase multiformats knows (base32upper `B…`, base16 `f…`, base64 `m…`, ...), not only its default three. */
const BY_PREFIX = new Map<string, (text: string) => Uint8Array<ArrayBuffer>>(Object.values(bases).map((b) => [b.prefix, (text) => b.decoder.decode(text) as Uint8Array<ArrayBuffer>]));
const ANY_BASE: MultibaseDecoder<string> = {
  decode(text) {
    const decode = BY_PREFIX.get(String.fromCodePoint(text.codePointAt(0) ?? 0));
    if (!decode) throw new Error(`unknown multibase prefix of ${text.slice(0, 10)}`);
    return decode(text);
  },
};

/**
 * The blob id named by a CID (v1 in any multibase, or v0 `Qm…`). Any codec
 * is accepted — a dag-pb node is stored as the blob of its bytes — but the hash must be SHA-256.
 */
export function blobIdFromCid(text: string): BlobId {
  let cid: CID;
  try {
    cid = CID.parse(text, ANY_BASE);
  } catch (err) {
    throw new RefugeError('bad_request', `invalid CID ${JSON.stringify(text.slice(0, 100))}`, { cause: err });
  }
  if (cid.multihash.code !== SHA2_256 || cid.multihash.digest.length !== 32) {
    throw new RefugeError('bad_request', `CID ${text.slice(0, 100)} does not use sha2-256`);
  }
  return blobIdFromDigest(cid.multihash.digest);
}

/** Accepts either spelling (blob id or CID) and returns the canonical blob id. */
export function toBlobId(text: string): BlobId {
  if (typeof text !== 'string') return parseBlobId(text);
  return text.startsWith(PREFIX) ? parseBlobId(text) : blobIdFromCid(text);
}
