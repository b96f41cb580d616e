// Child process of blobs.http_get: the anchor, a bare node:http server streaming the file given as
// argv[3] with fs.createReadStream for any GET; prints {"url"} on stdout, exits on SIGTERM or EOF.

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';

const file = process.argv[3];
if (!file) throw new Error('usage: blobs-http-file-server.ts DIR FILE');
const size = statSync(file).size;

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n');
});

const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop).resume();
