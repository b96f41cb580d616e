// Child process of mesh.replicate: the source node, in its own process as a peer on another machine
// would be. Loads the workload into `bench`, lets the peer named on the command line read it, serves
// it over HTTP and over the mesh, prints {"url","invite"} and stays up until SIGTERM or EOF.

import { startServer } from '../src/http/index.ts';
import { addPeer, MeshNode, MemoryTrustStore, setGrant } from '../src/mesh/index.ts';
import { openNode } from '../src/node/index.ts';
import { makeDocs } from './workload.ts';

const [dataDir, count, reader] = process.argv.slice(2);
if (!dataDir || !count || !reader) throw new Error('usage: mesh-source-child.ts DATA_DIR DOCS READER_PEER_ID');
const n = Number(count);
const BATCH = 1000;

const node = await openNode({ dataDir, engine: 'leveldb', durability: 'fast' });
const db = await node.createDb('bench');
for (let i = 0; i < n; i += BATCH) await db.bulkDocs(makeDocs(Math.min(BATCH, n - i), 42, i));
if ((await db.info()).docCount !== n) throw new Error('source did not take every document');
const server = await startServer({ node, host: '127.0.0.1', port: 0, replicator: false });
const trust = new MemoryTrustStore();
await trust.update((s) => setGrant(addPeer(s, { id: reader }), 'bench', 'read', `peer:${reader}`, true));
const mesh = await MeshNode.start({ key: node.key, trust, node, keepTrustedConnected: false, listen: ['/ip4/127.0.0.1/tcp/0'] });
process.stdout.write(JSON.stringify({ url: server.url, invite: mesh.invite() }) + '\n');

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await mesh.stop();
    await server.close();
    await node.close();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop()).resume();
