// `<dataDir>/mesh-addresses.json`: where a running node's mesh listens, so `refuge id --invite` can
// print a full invite from the data directory alone while the node runs (removed on clean stop).

import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const ADDRESS_FILE = 'mesh-addresses.json';

export interface PublishedAddresses {
  peerId: string;
  addrs: string[];
  pid: number;
  updated: string;
}

export async function writeAddressFile(dataDir: string, peerId: string, addrs: string[]): Promise<void> {
  const body: PublishedAddresses = { peerId, addrs, pid: process.pid, updated: new Date().toISOString() };
  const temp = join(dataDir, `.${ADDRESS_FILE}.${process.pid}`);
  // Rewritten on every start; a reader must never see half a file, durability does not matter.
  await writeFile(temp, JSON.stringify(body, null, 2) + '\n');
  await rename(temp, join(dataDir, ADDRESS_FILE));
}

/** The addresses a node on `dataDir` published for `peerId`, or [] (none, stale owner, damaged). */
export async function readAddressFile(dataDir: string, peerId: string): Promise<string[]> {
  try {
    const body = JSON.parse(await readFile(join(dataDir, ADDRESS_FILE), 'utf8')) as Partial<PublishedAddresses>;
    if (body.peerId !== peerId || !Array.isArray(body.addrs)) return [];
    return body.addrs.filter((a): a is string => typeof a === 'string');
  } catch {
    return [];
  }
}

export async function removeAddressFile(dataDir: string): Promise<void> {
  await unlink(join(dataDir, ADDRESS_FILE)).catch(() => undefined);
}
