// Child process of the http suite: one Refuge node (LevelDB, durability 'fast') in the temp dir given
// as argv[2], served on 127.0.0.1:0; prints {"url"} on stdout, shuts down cleanly on SIGTERM or EOF.

import { startServer } from '../src/http/index.ts';
import { openNode } from '../src/node/index.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: http-refuge-server.ts DATA_DIR');

const node = await openNode({ dataDir, engine: 'leveldb', durability: 'fast' });
const server = await startServer({ node, host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ url: server.url }) + '\n');

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await server.close();
    await node.close();
  } finally {
    process.exit(0); // a normal exit, so --cpu-prof writes its profile
  }
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The parent holds our stdin: when it goes away (even killed), so do we.
process.stdin.on('end', () => void stop()).resume();
