// `refuge` as a user mistypes it: every command's help, and bad usage refused with exit code 2, a
// reason, and nothing left behind (apart from start.test.ts: each spawns many commands).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';
import { run } from './run-cli.ts';

test('refuge --help, start --help and bad usage', async () => {
  const help = run(['--help']);
  const out: string[] = [];
  for await (const l of help.lines) out.push(l);
  assert.equal((await help.exit).code, 0);
  assert.ok(out.join('\n').includes('refuge start'));
  const startHelp = run(['start', '--help']);
  const out2: string[] = [];
  for await (const l of startHelp.lines) out2.push(l);
  assert.equal((await startHelp.exit).code, 0);
  for (const flag of ['--data', '--port', '--host', '--admin', 'REFUGE_PORT', '--config']) assert.ok(out2.join('\n').includes(flag), flag);
  const bad = run(['start', '--port', 'nope']);
  for await (const _ of bad.lines);
  const { code, stderr } = await bad.exit;
  assert.equal(code, 2);
  assert.match(stderr, /port must be a port number/);
  // A command's exit code, stderr and stdout.
  const usage = async (args: string[]) => {
    const c = run(args);
    const lines: string[] = [];
    for await (const l of c.lines) lines.push(l);
    return { ...(await c.exit), stdout: lines.join('\n') };
  };
  // Settings that cannot work are refused before the data directory is made, and a node that
  // cannot listen leaves none behind either.
  const fresh = await tempDir('refuge-cli-fresh-');
  const busy = createServer();
  try {
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = String((busy.address() as { port: number }).port);
    for (const [args, message, code] of [
      [['--host', '0.0.0.0', '--port', '0'], /without an admin/, 2],
      [['--host', '', '--port', '0'], /host to listen on must not be empty/, 2],
      [['--admin', 'nopassword', '--port', '0'], /admin must be given as user:password/, 2],
      [['--port', busyPort], /EADDRINUSE|address already in use/, 1],
      [['--port', '0', '--mesh', 'on', '--mesh-listen', 'garbage'], /not a multiaddr to listen on: garbage/, 2],
      [['--port', '0', '--mesh', 'on', '--mesh-hub', 'garbage'], /not a multiaddr of a hub \(--mesh-hub\): garbage/, 2],
    ] as const) {
      const data = `${fresh.path}/node`;
      const c = run(['start', '--data', data, '--mesh', 'off', ...args]);
      for await (const _ of c.lines);
      const r = await c.exit;
      assert.equal(r.code, code, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(existsSync(data), false, `${args.join(' ')} left ${data}`);
    }
    // A file where the data directory should be is the user's mistake: exit 2, said as such.
    writeFileSync(`${fresh.path}/afile`, 'x');
    for (const data of [`${fresh.path}/afile`, `${fresh.path}/afile/sub`]) {
      const onFile = await usage(['start', '--data', data, '--port', '0', '--mesh', 'off']);
      assert.equal(onFile.code, 2, onFile.stderr);
      assert.match(onFile.stderr, /is not a directory/);
    }
    const badName = await usage(['replicate', 'http://127.0.0.1:1/src', 'Bad Name!', '--create-target', '--data', `${fresh.path}/node`]);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /Name: 'Bad Name!'|illegal|Only lowercase/i);
    assert.equal(existsSync(`${fresh.path}/node`), false);
  } finally {
    busy.close();
    await fresh.cleanup();
  }

  // Each command takes its own options only, and says so; replicate has its own help; --version.
  for (const [args, message] of [
    [['start', '--continuous'], /refuge start takes no --continuous/],
    [['start', 'extra'], /takes no arguments/],
    [['replicate', 'a', 'b', '--port', '5'], /refuge replicate takes no --port/],
    [['replicate', 'a'], /usage: refuge replicate SOURCE TARGET/],
    [['replicate', 'http://u:secret@127.0.0.1:1/', 'http://127.0.0.1:1/x'], /^refuge: http:\/\/127\.0\.0\.1:1\/ names no database: add \/DBNAME to it\n$/],
    [['frobnicate'], /^refuge: unknown command frobnicate \(see refuge --help\)\n$/],
    [['frobnicate', '--help'], /^refuge: unknown command frobnicate \(see refuge --help\)\n$/],
    [['help', 'frobnicate'], /^refuge: unknown command frobnicate \(see refuge --help\)\n$/],
    [['start', '--bogus'], /^refuge: Unknown option '--bogus'.*\(see refuge --help\)\n$/],
  ] as const) {
    const got = await usage([...args]);
    assert.equal(got.code, 2, args.join(' '));
    assert.match(got.stderr, message);
  }
  // A database name the data directory does not hold is named in the error.
  const missingDir = await tempDir('refuge-cli-missing-');
  try {
    // A data directory that does not exist is not made by a command that then fails.
    const absent = `${missingDir.path}/absent`;
    const noDir = await usage(['replicate', 'nothere', 'other', '--data', absent]);
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /no database nothere in .*absent \(there is no such directory\)/);
    assert.equal(existsSync(absent), false);
    const missing = await usage(['replicate', 'nothere', 'other', '--data', missingDir.path]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no database nothere in /);
    const holder = await openNode({ dataDir: missingDir.path });
    await holder.createDb('src');
    await holder.close();
    const noTarget = await usage(['replicate', 'src', 'copy', '--data', missingDir.path]);
    assert.match(noTarget.stderr, /no database copy in .*--create-target creates it/);
    // With --json the failure is on stdout too, as JSON.
    const asJson = await usage(['replicate', 'src', 'copy', '--data', missingDir.path, '--json']);
    assert.equal(asJson.code, 2);
    assert.deepEqual(JSON.parse(asJson.stdout), { ok: false, error: 'not_found', reason: `no database copy in ${missingDir.path} (--create-target creates it)` });
  } finally {
    await missingDir.cleanup();
  }
  // Each command's own help, however it is asked for.
  for (const args of [['--help', 'blobs'], ['-h', 'query'], ['help', 'peers'], ['snapshot', '--help']]) {
    const got = await usage(args);
    assert.equal(got.code, 0, args.join(' '));
    assert.match(got.stdout, new RegExp(`^refuge ${args.find((a) => !a.startsWith('-') && a !== 'help')} `), args.join(' '));
  }
  const replicateHelp = await usage(['replicate', '--help']);
  assert.equal(replicateHelp.code, 0);
  for (const flag of ['--continuous', '--selector', '--doc-ids', '--create-target', '--data', '--json']) assert.ok(replicateHelp.stdout.includes(flag), flag);
  const version = await usage(['--version']);
  assert.match(version.stdout, /^refuge \d+\.\d+\.\d+/);
});
