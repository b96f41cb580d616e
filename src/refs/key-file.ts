// The node's key pair on disk (Node only): <dataDir>/identity.json, mode 0600, created on first use
// (written to a temp file, fsynced, hard-linked into place so two first starts agree on one key).

import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
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
  const temp = join(dataDir, `.${IDENTITY_FILE}.${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(body, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    // Another process created it first: use that one.
    return load(path);
  } finally {
    await unlink(temp).catch(() => {});
  }
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return key;
}
