// The node's Ed25519 key pair (portable, @noble/curves): generation, signing, strict RFC 8032
// verification, and the hex spelling of a public key used as a ref's `owner`.

import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ed25519Sign } from '#platform/ed25519-sign';
import { badRequest } from '../errors/index.ts';

export interface NodeKey {
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** 32-byte Ed25519 secret seed. */
  secretKey: Uint8Array;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function generateNodeKey(): NodeKey {
  const { secretKey, publicKey } = ed25519.keygen();
  return { secretKey, publicKey };
}

/** Rebuilds a key pair from its secret seed. */
export function nodeKeyFromSecret(secretKey: Uint8Array): NodeKey {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw badRequest('an Ed25519 secret key is 32 bytes');
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** A public key as a ref owner: 64 lowercase hex. */
export const ownerOf = (publicKey: Uint8Array): string => bytesToHex(publicKey);

export function isOwner(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

export function publicKeyOfOwner(owner: string): Uint8Array {
  if (!isOwner(owner)) throw badRequest('an owner is an Ed25519 public key in 64 lowercase hex');
  return hexToBytes(owner);
}

export function signBytes(key: NodeKey, message: Uint8Array): Uint8Array {
  return ed25519Sign(key.secretKey, message);
}

/** Strict verification (no ZIP-215 leniency): false for any malformed key or signature. */
export function verifyBytes(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
