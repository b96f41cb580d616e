// scripts/with-jemalloc.sh, the launcher of `npm start`: it execs the command (same pid) with jemalloc
// preloaded when the system has it, never twice, and not at all with REFUGE_JEMALLOC=0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/db.ts';

const script = fileURLToPath(new URL('../../scripts/with-jemalloc.sh', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/refuge.mjs', import.meta.url));
const library = execFileSync('sh', [script, '--print-library'], { encoding: 'utf8' }).trim();
const noLibrary = library === '' ? 'no jemalloc on this system (Debian: libjemalloc2; scripts/ensure-system-packages.sh installs it)' : false;

function preloadOf(env: NodeJS.ProcessEnv): string {
  const code = 'process.stdout.write(JSON.stringify(process.env.LD_PRELOAD ?? null))';
  return JSON.parse(execFileSync('sh', [script, process.execPath, '-e', code], { env, encoding: 'utf8' })) as string;
}

test('REFUGE_JEMALLOC=0 runs the command as it is', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '0' };
  delete env.LD_PRELOAD;
  assert.equal(preloadOf(env), null);
  assert.equal(execFileSync('sh', [script, '--print-library'], { env, encoding: 'utf8' }), '');
});

test('jemalloc is preloaded once, ahead of what LD_PRELOAD held', { skip: noLibrary }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REFUGE_JEMALLOC: '1' };
  delete env.LD_PRELOAD;
  assert.equal(preloadOf(env), library);
  assert.equal(preloadOf({ ...env, LD_PRELOAD: library }), library);
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
