// A mesh node run as a child process (inside a network namespace) for netns.test.ts: it reports its
// events as JSON lines on stdout and takes commands as JSON lines on stdin.

import { createInterface } from 'node:readline';
import { openNode } from '../../src/node/index.ts';
import { MemoryTrustStore, MeshNode, addPeer, setGrant } from '../../src/mesh/index.ts';
import { replicate } from '../../src/replication/index.ts';

interface Config {
  listen: string[];
  hub?: boolean;
  hubs?: string[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const say = (message: object) => process.stdout.write(JSON.stringify(message) + '\n');

const node = await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
const trust = new MemoryTrustStore();
// mDNS is left to its default (on: these addresses are not loopback); UPnP/AutoNAT stay off in tests.
const mesh = await MeshNode.start({ key: node.key, trust, node, listen: config.listen, hub: config.hub ?? false, hubs: config.hubs ?? [], nat: false, mdns: { intervalMs: 1_000 } });
for (const type of ['peer:discovered', 'peer:up', 'peer:down', 'hub:registered'] as const) {
  mesh.on(type, (event) => say({ type, ...event }));
}
say({ type: 'ready', peerId: mesh.peerId, addrs: mesh.addresses() });

type Command = { id: number; cmd: string; peer?: string; db?: string; count?: number; target?: string };

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'trust':
      await trust.update((s) => setGrant(addPeer(s, { id: c.peer! }), c.db!, 'read', `peer:${c.peer}`, true));
      await mesh.syncTrust();
      return null;
    case 'put': {
      const db = await node.createDb(c.db!);
      for (let i = 0; i < c.count!; i++) await db.put({ _id: `doc-${i}`, i });
      return null;
    }
    case 'connect':
      return mesh.connect(c.target!, { signal: AbortSignal.timeout(20_000) });
    case 'replicate': {
      const target = await node.createDb(c.db!);
      const result = await replicate(mesh.peer(c.peer!, c.db!), target).done;
      return { status: result.status, docCount: (await target.info()).docCount };
    }
    case 'relayed': {
      const conns = (mesh as unknown as { libp2p: { getConnections(): Array<{ remotePeer: object; remoteAddr: object }> } }).libp2p.getConnections();
      return conns.filter((x) => String(x.remotePeer) === c.peer).map((x) => String(x.remoteAddr));
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
