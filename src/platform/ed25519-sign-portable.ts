// Ed25519 signing in plain JavaScript (@noble/curves, browsers); Node uses ed25519-sign-node.ts,
// chosen by package.json "imports".
import { ed25519 } from '@noble/curves/ed25519.js';

export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, secretKey);
}
