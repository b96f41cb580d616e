// `<dataDir>/mesh-listen.json`: the ports a node's mesh was given for listen addresses asking for
// any port (`/tcp/0`), so the next start listens on the same ones. Peers remember a node by the
// addresses of its invite: without this, two peers that both restart never find each other again
// on a network without mDNS, hubs or a DHT to tell them the new ports.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LISTEN_FILE = 'mesh-listen.json';

/** `/ip4/127.0.0.1/tcp/0` or `/ip6/::1/tcp/0/ws`: an address that asks for any port. */
const ANY_PORT = /^(\/(?:ip4|ip6|dns4|dns6)\/[^/]+\/tcp\/)0(\/ws)?$/;

/** The listen addresses with the ports remembered for them (those asking for any port only). */
export async function rememberedListen(dataDir: string, listen: readonly string[]): Promise<string[]> {
  let saved: Record<string, unknown> = {};
  try {
    const body = JSON.parse(await readFile(join(dataDir, LISTEN_FILE), 'utf8')) as unknown;
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) saved = body as Record<string, unknown>;
  } catch {
    // None yet, or damaged: any port, as asked.
  }
  return listen.map((addr) => {
    const port = saved[addr];
    const m = ANY_PORT.exec(addr);
    return m && typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? `${m[1]}${port}${m[2] ?? ''}` : addr;
  });
}

/** Records the port each any-port address of `listen` got, read from the node's `actual` addresses. */
export async function rememberListen(dataDir: string, listen: readonly string[], actual: readonly string[]): Promise<void> {
  const ports: Record<string, number> = {};
  for (const addr of listen) {
    const m = ANY_PORT.exec(addr);
    if (!m) continue;
    for (const a of actual) {
      const got = new RegExp(`^${escapeRegex(m[1]!)}(\\d+)${escapeRegex(m[2] ?? '')}(?:/p2p/[^/]+)?$`).exec(a);
      if (got) {
        ports[addr] = Number(got[1]);
        break;
      }
    }
  }
  const temp = join(dataDir, `.${LISTEN_FILE}.${process.pid}`);
  await writeFile(temp, JSON.stringify(ports, null, 2) + '\n');
  await rename(temp, join(dataDir, LISTEN_FILE));
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
