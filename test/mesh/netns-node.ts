// A mesh node run as a child process (inside a network namespace) for netns.test.ts: it reports its
// events as JSON lines on stdout and takes commands as JSON lines on stdin.

import { openNode } from '../../src/node/index.ts';
import { MemoryTrustStore, MeshNode } from '../../src/mesh/index.ts';
import { say, serveCommands } from './netns-child.ts';

interface Config {
  listen: string[];
  hub?: boolean;
  hubs?: string[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;

const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
const trust = new MemoryTrustStore();
// mDNS is left to its default (on: these addresses are not loopback); UPnP/AutoNAT stay off in tests.
const mesh = await MeshNode.start({ key: node.key, trust, node, listen: config.listen, hub: config.hub ?? false, hubs: config.hubs ?? [], nat: false, mdns: { intervalMs: 1_000 } });
for (const type of ['peer:discovered', 'peer:up', 'peer:down', 'hub:registered'] as const) {
  mesh.on(type, (event) => say({ type, ...event }));
}
say({ type: 'ready', peerId: mesh.peerId, addrs: mesh.addresses() });

await serveCommands(mesh, node, trust, (c) => {
  if (c.cmd !== 'relayed') return undefined;
  const conns = (mesh as unknown as { libp2p: { getConnections(): Array<{ remotePeer: object; remoteAddr: object }> } }).libp2p.getConnections();
  return Promise.resolve(conns.filter((x) => String(x.remotePeer) === c.peer).map((x) => String(x.remoteAddr)));
});
