// Test helper: a server on the memory engine whose snapshot reads are watched and cut into small
// chunks (a few hundred rows span many of them), with one database made, for the tests of answers
// streamed as they are read.

import assert from 'node:assert/strict';
import type { Database } from '../../src/documents/index.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import { watchedEngine, type ReadWatch } from '../helpers/watched-engine.ts';
import { request, startTestServer, type TestServer } from './server.ts';

export async function startWatchedServer(watch: ReadWatch, dbName: string): Promise<{ server: TestServer; db: Database; base: string }> {
  watch.chunk = 7;
  const server = await startTestServer({ engine: watchedEngine(memoryEngine, watch) });
  const base = `${server.url}/${dbName}`;
  assert.equal((await request(base, { method: 'PUT' })).status, 201);
  return { server, db: (await server.node.db(dbName)) as Database, base };
}
