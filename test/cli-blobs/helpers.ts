// Helpers for the blobs/snapshot CLI tests: run `node bin/refuge.mjs` as a child process, start a
// node in-process on a free port, and build/compare folders (bytes, modes, mtimes).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../../src/http/index.ts';
import { openNode, type RefugeNode } from '../../src/node/index.ts';

const bin = fileURLToPath(new URL('../../bin/refuge.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  out: Buffer;
}

export function cli(args: string[], stdin?: Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, REFUGE_URL: '' } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const buf = Buffer.concat(out);
      resolve({ code, stdout: buf.toString('utf8'), stderr, out: buf });
    });
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

export interface TestNode {
  url: string;
  node: RefugeNode;
  server: RunningServer;
  close(): Promise<void>;
}

export async function startNode(dataDir: string, engine: 'memory' | 'leveldb' = 'leveldb', admin?: string): Promise<TestNode> {
  const node = await openNode({ dataDir, engine, durability: 'fast' });
  const server = await startServer({ node, port: 0, host: '127.0.0.1', replicator: false, ...(admin && { admin }) });
  return {
    url: server.url,
    node,
    server,
    close: async () => {
      await server.close();
      await node.close();
    },
  };
}

/** A folder with a few files of known bytes, modes and mtimes; returns the bytes by relative path. */
export async function makeTree(dir: string, seed: string, size = 600_000): Promise<void> {
  await mkdir(join(dir, 'sub', 'deep'), { recursive: true });
  await writeFile(join(dir, 'big.bin'), randomBytes(size));
  await writeFile(join(dir, 'note.txt'), `hello ${seed}\n`);
  await writeFile(join(dir, 'sub', 'script.sh'), `#!/bin/sh\necho ${seed}\n`);
  await chmod(join(dir, 'sub', 'script.sh'), 0o750);
  await writeFile(join(dir, 'sub', 'deep', 'empty'), '');
  await utimes(join(dir, 'note.txt'), 1_600_000_000, 1_600_000_000.5);
  await utimes(join(dir, 'sub'), 1_500_000_000, 1_500_000_000);
}

/** Asserts two folders hold the same names, bytes, modes and (file) mtimes. */
export async function assertSameTree(a: string, b: string): Promise<void> {
  const sa = await lstat(a);
  const sb = await lstat(b);
  assert.equal(sb.mode & 0o7777, sa.mode & 0o7777, `mode of ${b}`);
  assert.equal(Math.floor(sb.mtimeMs), Math.floor(sa.mtimeMs), `mtime of ${b}`);
  if (sa.isDirectory()) {
    const names = (await readdir(a)).sort();
    assert.deepEqual((await readdir(b)).sort(), names, `entries of ${b}`);
    for (const n of names) await assertSameTree(join(a, n), join(b, n));
  } else {
    assert.ok((await readFile(a)).equals(await readFile(b)), `bytes of ${b}`);
  }
}
