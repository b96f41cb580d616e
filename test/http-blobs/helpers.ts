// Test helpers for the blob HTTP API: a node (fs blobs in a temp dir by default) behind a server on a
// free port, raw node:http requests with byte bodies, and reference hashing.

import { createHash, randomFillSync } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/http/index.ts';
import { openNode, type NodeBlobOptions, type OpenNodeOptions, type RefugeNode } from '../../src/node/index.ts';
import type { BlobHttp } from '../../src/http/routes-blobs.ts';
import type { BlobId } from '../../src/blobs/index.ts';

export const MiB = 1024 * 1024;

export interface BlobServer {
  url: string;
  port: number;
  node: RefugeNode;
  server: RunningServer;
  dataDir: string;
  blobs: BlobHttp;
  close(): Promise<void>;
  /** Stops the server and node but keeps the data directory (for a restart). */
  stop(): Promise<void>;
}

export interface BlobServerOptions {
  engine?: 'memory' | 'leveldb';
  blobs?: NodeBlobOptions;
  admin?: string;
  blobLimit?: number;
  uploadTtlMs?: number;
  changeLogSize?: number;
  dataDir?: string;
  blobGc?: OpenNodeOptions['blobGc'];
}

export async function startBlobServer(options: BlobServerOptions = {}): Promise<BlobServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'refuge-http-blobs-')));
  const node = await openNode({ dataDir, engine: options.engine ?? 'leveldb', durability: 'fast', ...(options.blobs && { blobs: options.blobs }), ...(options.blobGc !== undefined && { blobGc: options.blobGc }) });
  let server: RunningServer;
  try {
    server = await startServer({
      node,
      port: 0,
      host: '127.0.0.1',
      replicator: false,
      ...(options.admin !== undefined && { admin: options.admin }),
      ...(options.blobLimit !== undefined && { blobLimit: options.blobLimit }),
      ...(options.uploadTtlMs !== undefined && { uploadTtlMs: options.uploadTtlMs }),
      ...(options.changeLogSize !== undefined && { changeLogSize: options.changeLogSize }),
    });
  } catch (err) {
    await node.close();
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server.close();
      await node.close();
    })());
  return {
    url: server.url,
    port: server.port,
    node,
    server,
    dataDir,
    blobs: server.context.extras.blobs as BlobHttp,
    stop,
    close: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function idOf(...parts: Uint8Array[]): BlobId {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256-${h.digest('hex')}`;
}

export function randomBytesOf(n: number): Buffer {
  return randomFillSync(Buffer.alloc(n));
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

/** One request on its own connection, body sent as given (bytes, or chunks for chunked encoding). */
export function req(
  port: number,
  method: string,
  path: string,
  options: { body?: Uint8Array | string | Iterable<Uint8Array>; headers?: Record<string, string> } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    const b = options.body;
    if (b === undefined || typeof b === 'string' || b instanceof Uint8Array) r.end(b);
    else {
      for (const chunk of b) r.write(chunk);
      r.end();
    }
  });
}
