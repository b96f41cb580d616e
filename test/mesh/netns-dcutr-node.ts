// A mesh node run as a child process (inside a network namespace) for netns-dcutr.test.ts: it reports
// its addresses and every connection opened or closed as JSON lines, and takes commands on stdin.

import type { Connection } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { openNode } from '../../src/node/index.ts';
import { MemoryTrustStore, MeshNode } from '../../src/mesh/index.ts';
import { say, serveCommands } from './netns-child.ts';

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

await serveCommands(mesh, node, trust, (c) => {
  switch (c.cmd) {
    case 'map': {
      // What @libp2p/upnp-nat does once the router's IGD has opened the port, with autoConfirmAddress:
      // AutoNAT cannot confirm it here (the hub's dial-back reuses A's own connection and is rejected).
      const { addressManager } = libp2p.components;
      addressManager.addPublicAddressMapping(c.internal!, c.port!, c.external!, c.port!, 'tcp');
      addressManager.confirmObservedAddr(multiaddr(`/ip4/${c.external!}/tcp/${c.port!}`));
      return Promise.resolve(null);
    }
    case 'connections':
      return Promise.resolve(libp2p.getConnections().filter((x) => String(x.remotePeer) === c.peer).map(describe));
    default:
      return undefined;
  }
});
