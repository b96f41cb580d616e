// Test helper: pouchdb-server's CouchDB-compatible app (express-pouchdb over in-memory PouchDB 7,
// the packages `npm i pouchdb-server` brings) started in-process on a free port.

import type { Server } from 'node:http';
import { createRequire } from 'node:module';

// Resolve through pouchdb-server so its own dependency versions are used wherever npm put them.
const require = createRequire(createRequire(import.meta.url).resolve('pouchdb-server/package.json'));

export interface PouchServer {
  url: string;
  close(): Promise<void>;
}

export async function startPouchServer(): Promise<PouchServer> {
  const PouchDB = require('pouchdb-core')
    .plugin(require('pouchdb-adapter-memory'))
    .plugin(require('pouchdb-adapter-http'))
    .plugin(require('pouchdb-replication'))
    .plugin(require('pouchdb-mapreduce'));
  // A fresh prefix per server: memdown stores are global per name within the process.
  const prefix = `ps${process.hrtime.bigint()}-`;
  const MemPouch = PouchDB.defaults({ adapter: 'memory', prefix });
  const express = require('express');
  const app = express();
  app.use('/', require('express-pouchdb')(MemPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true }));
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('pouchdb-server did not listen');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
