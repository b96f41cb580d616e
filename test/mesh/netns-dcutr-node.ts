// A mesh node run as a child process (inside a network namespace) for netns-dcutr.test.ts: it reports
// its addresses and every connection opened or closed as JSON lines, and takes commands on stdin.

import { createInterface } from 'node:readline';
import type { Connection } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { openNode } from '../../src/node/index.ts';
import { MemoryTrustStore, MeshNode, addPeer, setGrant } from '../../src/mesh/index.ts';
import { replicate } from '../../src/replication/index.ts';

interface Config {
  listen: string[];
  hub?: boolean;
  hubs?: string[];
}

/** The parts of the libp2p node this script looks into (MeshNode keeps it private). */
interface Libp2pInside {
  getConnections(): Connection[];
  addEventListener(type: 'connection:open' | 'connection:close', listener: (event: CustomEvent<Connection>) => void): void;
  components: {
    addressManager: {
      addPublicAddressMapping(internalIp: string, internalPort: number, externalIp: string, externalPort?: number, protocol?: 'tcp' | 'udp'): void;
      confirmObservedAddr(addr: ReturnType<typeof multiaddr>, options?: { ttl?: number }): void;
    };
  };
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const say = (message: object) => process.stdout.write(JSON.stringify(message) + '\n');

const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
const trust = new MemoryTrustStore();
// No mDNS (there is no shared LAN here) and no UPnP/AutoNAT: the `map` command stands in for them.
const mesh = await MeshNode.start({ key: node.key, trust, node, listen: config.listen, hub: config.hub ?? false, hubs: config.hubs ?? [], nat: false, mdns: false });
const libp2p = (mesh as unknown as { libp2p: Libp2pInside }).libp2p;
const describe = (c: Connection) => ({ peerId: String(c.remotePeer), remoteAddr: String(c.remoteAddr), direction: c.direction, limited: c.limits !== undefined });
for (const type of ['connection:open', 'connection:close'] as const) {
  libp2p.addEventListener(type, (event) => say({ type, ...describe(event.detail) }));
}
for (const type of ['peer:up', 'hub:registered', 'addresses'] as const) {
  mesh.on(type, (event) => say({ type, ...event }));
}
say({ type: 'ready', peerId: mesh.peerId, addrs: mesh.addresses() });

type Command = { id: number; cmd: string; peer?: string; db?: string; count?: number; target?: string; internal?: string; external?: string; port?: number };

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'map': {
      // What @libp2p/upnp-nat does once the router's IGD has opened the port, with autoConfirmAddress:
      // AutoNAT cannot confirm it here (the hub's dial-back reuses A's own connection and is rejected).
      const { addressManager } = libp2p.components;
      addressManager.addPublicAddressMapping(c.internal!, c.port!, c.external!, c.port!, 'tcp');
      addressManager.confirmObservedAddr(multiaddr(`/ip4/${c.external!}/tcp/${c.port!}`));
      return null;
    }
    case 'connect':
      return mesh.connect(c.target!, { signal: AbortSignal.timeout(20_000) });
    case 'connections':
      return libp2p.getConnections().filter((x) => String(x.remotePeer) === c.peer).map(describe);
    case 'put': {
      const db = await node.createDb(c.db!);
      for (let i = 0; i < c.count!; i++) await db.put({ _id: `doc-${i}`, i });
      return null;
    }
    case 'trust':
      await trust.update((s) => setGrant(addPeer(s, { id: c.peer! }), c.db!, 'read', `peer:${c.peer}`, true));
      await mesh.syncTrust();
      return null;
    case 'replicate': {
      const target = await node.createDb(c.db!);
      const result = await replicate(mesh.peer(c.peer!, c.db!), target).done;
      return { status: result.status, docCount: (await target.info()).docCount };
    }
    case 'stop':
      await mesh.stop();
      await node.close();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line) as Command;
  run(c).then(
    (result) => say({ type: 'result', id: c.id, result }),
    (err: unknown) => say({ type: 'result', id: c.id, error: (err as Error)?.message ?? String(err) }),
  );
}
await mesh.stop();
await node.close();
