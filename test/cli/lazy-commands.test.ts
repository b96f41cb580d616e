// The CLI imports a command only when it runs: `refuge --help` and the help of light commands load
// no npm package at all (each `refuge` start once paid ~0.8 s loading libp2p, Fastify and the S3 client).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bin } from './run-cli.ts';

const logImports = fileURLToPath(new URL('./log-imports.mjs', import.meta.url));

/** The npm packages `refuge ...args` imports, from the hook's "import NAME" lines on stderr. */
async function packagesImported(args: string[]): Promise<{ code: number | null; stdout: string; packages: string[] }> {
  const child = spawn(process.execPath, ['--import', logImports, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const packages = stderr
    .split('\n')
    .filter((l) => l.startsWith('import '))
    .map((l) => l.slice('import '.length));
  return { code, stdout, packages };
}

// tsx (and its esbuild) load the TypeScript when the bundle is older than the sources.
const LOADER = /^(tsx|esbuild)(\/|$)/;

test('refuge --help, help replicate and demo --help load no npm package', async () => {
  for (const args of [['--help'], ['help', 'replicate'], ['demo', '--help']]) {
    const { code, stdout, packages } = await packagesImported(args);
    assert.equal(code, 0, args.join(' '));
    assert.match(stdout, /refuge/);
    assert.deepEqual(packages.filter((p) => !LOADER.test(p)), [], args.join(' '));
  }
});

test('a command loads its own dependencies only: peers --help has no Fastify, query and blobs --help no libp2p either', async () => {
  const peers = await packagesImported(['peers', '--help']);
  assert.equal(peers.code, 0);
  assert.ok(peers.packages.some((p) => p.startsWith('@libp2p/')), 'the hook sees the packages a command loads');
  assert.deepEqual(peers.packages.filter((p) => /^(fastify|@fastify\/|@aws-sdk\/|classic-level)/.test(p)), []);
  for (const command of ['query', 'blobs']) {
    const light = await packagesImported([command, '--help']);
    assert.equal(light.code, 0, command);
    assert.deepEqual(light.packages.filter((p) => /^(fastify|@fastify\/|@aws-sdk\/|@libp2p\/|classic-level)/.test(p)), [], command);
  }
});

test('refuge --version prints the package version and loads no npm package', async () => {
  const { version } = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  const { code, stdout, packages } = await packagesImported(['--version']);
  assert.equal(code, 0);
  assert.equal(stdout, `refuge ${version}\n`);
  assert.deepEqual(packages.filter((p) => !LOADER.test(p)), []);
});
