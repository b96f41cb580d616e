// scripts/with-allocator.sh, the launcher of `npm start`: it execs the command (same pid) with jemalloc
// preloaded when the system has it, never twice; without it (or with REFUGE_JEMALLOC=0), glibc gets a
// fixed mmap threshold unless one is set already. jemalloc gets a prompt page return unless MALLOC_CONF is set.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/db.ts';

const script = fileURLToPath(new URL('../../scripts/with-allocator.sh', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/refuge.mjs', import.meta.url));
const library = execFileSync('sh', [script, '--print-library'], { encoding: 'utf8' }).trim();
const noLibrary = library === '' ? 'no jemalloc on this system (Debian: libjemalloc2; scripts/ensure-system-packages.sh installs it)' : false;

function envOf(env: NodeJS.ProcessEnv, name: string): string | null {
  const code = `process.stdout.write(JSON.stringify(process.env.${name} ?? null))`;
  return JSON.parse(execFileSync('sh', [script, process.execPath, '-e', code], { env, encoding: 'utf8' })) as string | null;
}
const preloadOf = (env: NodeJS.ProcessEnv) => envOf(env, 'LD_PRELOAD');

test('without jemalloc (REFUGE_JEMALLOC=0), glibc gets a fixed mmap threshold, a chosen one is kept', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '0' };
  delete env.LD_PRELOAD;
  delete env.MALLOC_MMAP_THRESHOLD_;
  assert.equal(preloadOf(env), null);
  assert.equal(envOf(env, 'MALLOC_MMAP_THRESHOLD_'), '131072');
  assert.equal(envOf({ ...env, MALLOC_MMAP_THRESHOLD_: '65536' }, 'MALLOC_MMAP_THRESHOLD_'), '65536');
  assert.equal(execFileSync('sh', [script, '--print-library'], { env, encoding: 'utf8' }), '');
});

test('jemalloc is preloaded once, ahead of what LD_PRELOAD held', { skip: noLibrary }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '1' };
  delete env.LD_PRELOAD;
  delete env.MALLOC_MMAP_THRESHOLD_;
  assert.equal(preloadOf(env), library);
  assert.equal(preloadOf({ ...env, LD_PRELOAD: library }), library);
  assert.equal(envOf(env, 'MALLOC_MMAP_THRESHOLD_'), null);
});

test('with jemalloc, freed pages are returned within a second unless MALLOC_CONF says otherwise', { skip: noLibrary }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '1' };
  delete env.LD_PRELOAD;
  delete env.MALLOC_CONF;
  assert.equal(envOf(env, 'MALLOC_CONF'), 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0');
  assert.equal(envOf({ ...env, MALLOC_CONF: 'narenas:2' }, 'MALLOC_CONF'), 'narenas:2');
  assert.equal(envOf({ ...env, REFUGE_JEMALLOC: '0' }, 'MALLOC_CONF'), null);
});

test('npm start\'s node runs under jemalloc, in the launcher\'s own process', { skip: noLibrary }, async (t) => {
  const dir = await tempDir('refuge-jemalloc-');
  t.after(dir.cleanup);
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '1' };
  delete env.LD_PRELOAD;
  const child = spawn('sh', [script, process.execPath, bin, 'start', '--port', '0', '--data', dir.path, '--mesh', 'off'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.after(async () => {
    child.kill('SIGKILL');
    await exit;
  });
  const url = await new Promise<string>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    lines.on('close', () => resolve(''));
  });
  assert.ok(url, 'the node never said where it listens');
  assert.equal((await fetch(url + '/_up')).status, 200);
  // exec, not fork: the pid we spawned is the node, and the library is mapped into it.
  const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  assert.ok(maps.includes('libjemalloc'), 'jemalloc is not mapped into the node process');
  child.kill('SIGINT');
  assert.equal(await exit, 0);
});
