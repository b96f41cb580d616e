// `refuge start`: open the node's data directory and serve it over HTTP until Ctrl-C, then stop
// accepting, end open feeds and flush every database before exiting (no lost writes, no stale lock).

import { startServer, VERSION } from '../http/index.ts';
import { openNode } from '../node/index.ts';
import type { NodeSettings } from './config.ts';

export async function runStart(settings: NodeSettings, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const node = await openNode({ dataDir: settings.data, engine: settings.engine, durability: settings.durability });
  let server;
  try {
    server = await startServer({ node, host: settings.host, port: settings.port, admin: settings.admin, bodyLimit: settings.bodyLimit });
  } catch (err) {
    await node.close();
    throw err;
  }
  out.write(
    `Refuge ${VERSION} listening on ${server.url}\n` +
      `  data: ${settings.data} (${settings.engine}, ${settings.durability})${settings.admin ? ', admin required' : ''}\n` +
      `  try:  curl ${server.url}/   ·   curl -X PUT ${server.url}/mydb\n` +
      `  stop: Ctrl-C\n`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        out.write(`\n${signal} again: exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      out.write(`\n${signal}: shutting down…\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await server.close();
  await node.close();
  out.write('stopped cleanly\n');
  return 0;
}
