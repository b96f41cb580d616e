// Ed25519 signing through OpenSSL (Node only): the same deterministic RFC 8032 signature as the
// portable version, about 15x faster. Verification stays with @noble/curves everywhere (strict).
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const keys = new WeakMap<Uint8Array, KeyObject>();

export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  let key = keys.get(secretKey);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secretKey]), format: 'der', type: 'pkcs8' });
    keys.set(secretKey, key);
  }
  const sig = sign(null, message, key);
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.length);
}
