// The mesh identity is the node's own Ed25519 key (src/refs/keys.ts): the libp2p private key and
// PeerId are derived from the same seed, so the peer id and the signer of the node's refs are one key.

import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { RefugeError } from '../errors/index.ts';
import type { NodeKey } from '../refs/keys.ts';

/** The libp2p private key of a node key (the same Ed25519 key pair, seen by libp2p). */
export async function meshPrivateKey(key: NodeKey): Promise<Ed25519PrivateKey> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', key.secretKey);
  // A seed that expanded to another public key would mean two identities for one node.
  if (!bytesEqual(privateKey.publicKey.raw, key.publicKey)) throw new RefugeError('internal', 'the mesh key does not match the node key');
  return privateKey;
}

/** A node's peer id (`12D3KooW…`), computed from its public key alone. */
export function peerIdOf(publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString();
}

/** Parses and normalises a peer id; bad_request for anything else. */
export function parsePeerId(text: unknown): PeerId {
  if (typeof text !== 'string' || text.length === 0 || text.length > 128) throw new RefugeError('bad_request', 'a peer id is a non-empty string');
  let id: PeerId;
  try {
    id = peerIdFromString(text);
  } catch (err) {
    throw new RefugeError('bad_request', `not a peer id: ${JSON.stringify(text)}`, { cause: err });
  }
  // URL "peer ids" name HTTP gateways, not keys: nothing a Noise handshake could authenticate.
  if (id.type === 'url') throw new RefugeError('bad_request', `not a key-based peer id: ${JSON.stringify(text)}`);
  // Refuge peers sign queries and HTTP requests with Ed25519 keys: another key type could be
  // trusted but never verified (an RSA `Qm…` id, a CID).
  if (id.type !== 'Ed25519') throw new RefugeError('bad_request', `not a Refuge peer id (Ed25519, 12D3KooW…): ${JSON.stringify(text)}`);
  return id;
}

/** True for a well-formed peer id (whatever key type it names). */
export function isPeerId(text: unknown): text is string {
  try {
    parsePeerId(text);
    return true;
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
