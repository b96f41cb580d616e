// Test helper: a Refuge node (memory engine by default, LevelDB in a temp dir or another engine on request) behind
// its HTTP server on a free port; `close` stops the server, closes the node and removes the dir.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type CorsSettings, type RunningServer } from '../../src/http/index.ts';
import { openNode, type RefugeNode } from '../../src/node/index.ts';
import type { StorageEngine } from '../../src/storage/index.ts';

export interface TestServer {
  url: string;
  node: RefugeNode;
  server: RunningServer;
  close(): Promise<void>;
}

export interface TestServerOptions {
  engine?: 'memory' | 'leveldb' | StorageEngine;
  admin?: string;
  bodyLimit?: number;
  maxDocumentSize?: number;
  blobLimit?: number;
  sandbox?: { timeoutMs?: number; memoryBytes?: number };
  maxOpenDbs?: number;
  /** PBKDF2 iterations for new passwords (the node's default, 600,000, takes ~0.3 s per account). */
  passwordIterations?: number;
  cors?: CorsSettings;
  maxJobsPerUser?: number;
  bodyRate?: { graceMs?: number; minBytesPerSecond?: number };
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const engine = options.engine ?? 'memory';
  const dataDir = await mkdtemp(join(tmpdir(), 'refuge-http-'));
  const node = await openNode({
    dataDir,
    engine,
    durability: 'fast',
    ...(options.sandbox && { sandbox: options.sandbox }),
    ...(options.maxOpenDbs !== undefined && { maxOpenDbs: options.maxOpenDbs }),
    ...(options.passwordIterations !== undefined && { passwordIterations: options.passwordIterations }),
  });
  let server: RunningServer;
  try {
    server = await startServer({ node, port: 0, host: '127.0.0.1', admin: options.admin, bodyLimit: options.bodyLimit, maxDocumentSize: options.maxDocumentSize, blobLimit: options.blobLimit, ...(options.cors && { cors: options.cors }), ...(options.maxJobsPerUser !== undefined && { maxJobsPerUser: options.maxJobsPerUser }), ...(options.bodyRate && { bodyRate: options.bodyRate }) });
  } catch (err) {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    node,
    server,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await node.close();
        await rm(dataDir, { recursive: true, force: true });
      })()),
  };
}

/** JSON over fetch: status, headers and the parsed body (undefined when empty). */
export async function request(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; raw?: string | Uint8Array } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...init.headers };
  // A JSON client, as PouchDB and nano are: without it fetch sends */*, which CouchDB (and Refuge)
  // answer with multipart where a document has attachments or several revisions.
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'accept')) headers.accept = 'application/json';
  let body: string | Uint8Array | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
