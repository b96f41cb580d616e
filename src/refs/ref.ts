// Signed refs (portable): a mutable name pointing at a root id, signed by its owner's Ed25519 key over
// a canonical encoding of (name, root, seq, owner, timestamp); `seq` only grows.

import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RefugeError, badRequest } from '../errors/index.ts';
import { toBlobId } from '../blobs/id.ts';
import { isOwner, ownerOf, publicKeyOfOwner, signBytes, verifyBytes, type NodeKey } from './keys.ts';

export interface SignedRef {
  name: string;
  /** A CID (a tree root) or a `sha256-` blob id. */
  root: string;
  /** 1, 2, …: a value replaces another only with a greater seq. */
  seq: number;
  /** The signer's public key, 64 hex. */
  owner: string;
  /** Milliseconds since the epoch when it was signed. */
  timestamp: number;
  /** Ed25519 signature of `refSigningBytes`, 128 hex. */
  signature: string;
}

export type UnsignedRef = Omit<SignedRef, 'signature'>;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const SIG_RE = /^[0-9a-f]{128}$/;
export const MAX_REF_NAME = 200;
const DOMAIN = 'refuge-ref/1';

/** Ref names: segments of [A-Za-z0-9._-] separated by '/', no leading dot or dash, <= 200 chars, no '@'. */
export function isRefName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_REF_NAME && NAME_RE.test(value) && !/(^|\/)\.\.?(\/|$)/.test(value);
}

export function checkRefName(value: unknown): string {
  if (!isRefName(value)) throw badRequest(`invalid ref name ${JSON.stringify(String(value).slice(0, 100))}: segments of letters, digits, '.', '_', '-' separated by '/'`);
  return value;
}

/** The exact bytes the signature covers: a JSON array in fixed order, with a domain tag. */
export function refSigningBytes(ref: UnsignedRef): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([DOMAIN, ref.name, ref.root, ref.seq, ref.owner, ref.timestamp]));
}

/** Checks the shape (bad_request), not the signature; returns a copy with only the known fields. */
export function parseRef(value: unknown): SignedRef {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('a ref is a JSON object');
  const v = value as Record<string, unknown>;
  checkRefName(v.name);
  if (typeof v.root !== 'string') throw badRequest('a ref root is a CID or a sha256- blob id');
  toBlobId(v.root); // bad_request unless a sha256 CID or blob id
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) throw badRequest('a ref seq is a positive integer');
  if (!isOwner(v.owner)) throw badRequest('a ref owner is an Ed25519 public key in 64 lowercase hex');
  if (!Number.isSafeInteger(v.timestamp) || (v.timestamp as number) < 0) throw badRequest('a ref timestamp is a non-negative integer (ms)');
  if (typeof v.signature !== 'string' || !SIG_RE.test(v.signature)) throw badRequest('a ref signature is 128 lowercase hex');
  return { name: v.name as string, root: v.root, seq: v.seq as number, owner: v.owner, timestamp: v.timestamp as number, signature: v.signature };
}

export function signRef(key: NodeKey, fields: Omit<UnsignedRef, 'owner'>): SignedRef {
  const unsigned: UnsignedRef = { name: fields.name, root: fields.root, seq: fields.seq, owner: ownerOf(key.publicKey), timestamp: fields.timestamp };
  parseRef({ ...unsigned, signature: '0'.repeat(128) });
  return { ...unsigned, signature: bytesToHex(signBytes(key, refSigningBytes(unsigned))) };
}

/**
 * Checks shape and signature. A forged ref (wrong key, any field changed after signing) is refused
 * with `forbidden` (reason "bad signature…"); returns the parsed ref.
 */
export function verifyRef(value: unknown): SignedRef {
  const ref = parseRef(value);
  const ok = verifyBytes(publicKeyOfOwner(ref.owner), refSigningBytes(ref), hexToBytes(ref.signature));
  if (!ok) throw new RefugeError('forbidden', `bad signature on ref ${ref.name} (seq ${ref.seq}): not signed by ${ref.owner}`);
  return ref;
}

/**
 * Whether `incoming` may replace `current`: it must verify, come from the same owner (a name belongs
 * to the key that first wrote it: `forbidden`), and have a greater seq (a replay: `conflict`).
 */
export function checkSuccessor(current: SignedRef | null, incoming: unknown): SignedRef {
  const ref = verifyRef(incoming);
  if (current) {
    if (current.owner !== ref.owner) throw new RefugeError('forbidden', `ref ${ref.name} belongs to ${current.owner}, not to ${ref.owner}`);
    if (ref.seq <= current.seq) throw new RefugeError('conflict', `ref ${ref.name}: seq ${ref.seq} is not newer than the stored ${current.seq}`);
  }
  return ref;
}
