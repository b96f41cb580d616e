// The node's key pair on disk (Node only): <dataDir>/identity.json, mode 0600, created on first use
// (written to a temp file, fsynced, hard-linked into place so two first starts agree on one key).

import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../platform/durable-file.ts';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RefugeError } from '../errors/index.ts';
import { generateNodeKey, nodeKeyFromSecret, ownerOf, type NodeKey } from './keys.ts';

export const IDENTITY_FILE = 'identity.json';

interface IdentityFile {
  type: 'ed25519';
  /** 32-byte seed, hex. */
  secretKey: string;
  /** 32-byte public key, hex (checked against the seed on load). */
  publicKey: string;
  created: string;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

async function load(path: string): Promise<NodeKey> {
  const text = await readFile(path, 'utf8');
  // Keep the secret private even if someone loosened the permissions.
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  try {
    const file = JSON.parse(text) as IdentityFile;
    if (file.type !== 'ed25519' || !/^[0-9a-f]{64}$/.test(file.secretKey)) throw new Error('not an ed25519 identity');
    const key = nodeKeyFromSecret(hexToBytes(file.secretKey));
    if (ownerOf(key.publicKey) !== file.publicKey) throw new Error('the public key does not match the secret key');
    return key;
  } catch (err) {
    throw new RefugeError('internal', `${path} is not a valid node identity: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The node's key pair from `<dataDir>/identity.json`, or undefined when the node has none yet. */
export async function readNodeKey(dataDir: string): Promise<NodeKey | undefined> {
  try {
    return await load(join(dataDir, IDENTITY_FILE));
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The node's key pair from `<dataDir>/identity.json`, created (0600) when missing. */
export async function loadOrCreateNodeKey(dataDir: string): Promise<NodeKey> {
  const path = join(dataDir, IDENTITY_FILE);
  try {
    return await load(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const key = generateNodeKey();
  const body: IdentityFile = { type: 'ed25519', secretKey: bytesToHex(key.secretKey), publicKey: ownerOf(key.publicKey), created: new Date().toISOString() };
  try {
    await writeFileDurably(path, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, replace: false });
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    // Another process created it first: use that one.
    return load(path);
  }
  return key;
}
