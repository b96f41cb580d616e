// Test helper: runs a fixture in a child process of its own with --expose-gc (heap measurements
// need full collections, and a process no other test has touched), and answers the JSON it prints.

import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

export async function runWithGc<T>(fixture: URL): Promise<T> {
  const path = fileURLToPath(fixture);
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `${path} ran`);
  return JSON.parse(out) as T;
}
