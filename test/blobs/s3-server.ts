// Starts a real S3 server for the S3 blob tests: s3rver (an S3 REST API implementation over a
// directory, from npm) in a child process on a free 127.0.0.1 port with a temp data dir, or an
// external server named by BLOBS_S3_ENDPOINT (+ _BUCKET, _ACCESS_KEY, _SECRET_KEY, _REGION).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface S3Server {
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** What runs it, for the test log. */
  description: string;
  stop(): Promise<void>;
}

const CHILD = new URL('./s3rver-child.mjs', import.meta.url).pathname;

export async function startS3Server(): Promise<S3Server> {
  const external = process.env.BLOBS_S3_ENDPOINT;
  if (external) {
    return {
      endpoint: external,
      bucket: process.env.BLOBS_S3_BUCKET ?? 'refuge-test',
      region: process.env.BLOBS_S3_REGION ?? 'us-east-1',
      credentials: { accessKeyId: process.env.BLOBS_S3_ACCESS_KEY ?? '', secretAccessKey: process.env.BLOBS_S3_SECRET_KEY ?? '' },
      description: `external S3 at ${external}`,
      stop: async () => {},
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'refuge-s3rver-'));
  const bucket = 'refuge-test';
  // s3rver signs ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, dir, bucket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const line = await Promise.race([
      new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
      exited.then((code) => Promise.reject(new Error(`s3rver exited (${code}) before listening: ${stderr.trim()}`))),
    ]);
    const { port } = JSON.parse(line) as { port: number };
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      description: `s3rver (pid ${child.pid}) on 127.0.0.1:${port}`,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
