// `refuge start` as a user runs it: a child process on a free port, reached over HTTP, stopped
// with SIGINT; the writes it acknowledged are there when the data directory is opened again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { request as httpRequest } from 'node:http';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';
import { bin, run } from './run-cli.ts';

test('refuge start serves the data directory and stops cleanly on SIGINT', async (t) => {
  const dir = await tempDir('refuge-cli-');
  t.after(dir.cleanup);
  const { child, lines, exit } = run(['start', '--port', '0', '--data', dir.path, '--cors', 'http://app.example']);
  // Breaking out of `for await` would close the reader: collect lines with events instead.
  const output: string[] = [];
  const url = await new Promise<string>((resolve) => {
    lines.on('line', (line) => {
      output.push(line);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    lines.on('close', () => resolve(''));
  });
  assert.ok(url, `no listening line in: ${output.join('\n')}`);
  const welcome = (await (await fetch(url + '/')).json()) as { couchdb: string; vendor: { name: string } };
  assert.equal(welcome.couchdb, 'Welcome');
  assert.equal(welcome.vendor.name, 'Refuge');
  // --cors: a page on that origin may call the node (its preflight is answered).
  const preflight = await fetch(url + '/notes', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'PUT' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example');
  assert.equal((await fetch(url + '/notes', { method: 'PUT' })).status, 201);
  const dashboard = await fetch(url + '/_utils/');
  assert.equal(dashboard.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(await dashboard.text(), /<title>Refuge<\/title>/);
  const put = await fetch(url + '/notes/n1', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"title":"kept"}' });
  assert.equal(put.status, 201);
  const closed = new Promise((resolve) => lines.once('close', resolve));
  child.kill('SIGINT');
  const { code } = await exit;
  await closed;
  const rest = output;
  assert.equal(code, 0);
  assert.ok(rest.some((l) => l.includes('stopped cleanly')), rest.join('\n'));
  assert.ok(rest.includes(`  dashboard: ${url}/_utils/`), rest.join('\n'));
  // No stale lock: the same data directory opens again, with the write in it.
  const node = await openNode({ dataDir: dir.path });
  t.after(() => node.close());
  assert.deepEqual(await node.allDbs(), ['_replicator', 'notes']);
  assert.equal((await (await node.db('notes')).get('n1')).title, 'kept');
});

test('refuge replicate copies a database between two running nodes, with a selector', async (t) => {
  const { openNode: open } = await import('../../src/node/index.ts');
  const { startServer } = await import('../../src/http/index.ts');
  const node = await open({ engine: 'memory' });
  const srv = await startServer({ node, port: 0 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  const src = await node.createDb('src');
  await src.bulkDocs([{ _id: 'a', keep: true }, { _id: 'b', keep: false }, { _id: 'c', keep: true }]);
  const r = run(['replicate', `${srv.url}/src`, `${srv.url}/dst`, '--create-target', '--selector', '{"keep":true}', '--json']);
  const out: string[] = [];
  for await (const l of r.lines) out.push(l);
  assert.equal((await r.exit).code, 0);
  const report = JSON.parse(out.at(-1)!);
  assert.equal(report.docsWritten, 2);
  assert.deepEqual((await (await node.db('dst')).allDocs()).rows.map((row) => row.id), ['a', 'c']);
  // A selector no source could run is refused by its option's name, before the target is made.
  const bad = run(['replicate', `${srv.url}/src`, `${srv.url}/typo`, '--create-target', '--selector', '{"keep":{"$regexx":"a"}}']);
  for await (const _ of bad.lines);
  const { code, stderr } = await bad.exit;
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--selector: .*\$regexx/);
  assert.equal(await node.exists('typo'), false, 'no target made');
  // A missing target says which option makes it.
  const absent = run(['replicate', `${srv.url}/src`, `${srv.url}/absent`]);
  for await (const _ of absent.lines);
  assert.match((await absent.exit).stderr, /--create-target/);
});

/** Starts `refuge start ARGS` and resolves with its output lines once one satisfies `until` (or it ends). */
async function started(args: string[], until: (line: string) => boolean) {
  const r = run(args);
  const output: string[] = [];
  await new Promise<void>((resolve) => {
    r.lines.on('line', (line) => {
      output.push(line);
      if (until(line)) resolve();
    });
    r.lines.on('close', () => resolve());
  });
  return { ...r, output };
}

test('refuge start listens on the same mesh ports after a restart, so peers that remember its invite find it again', async (t) => {
  const dir = await tempDir('refuge-cli-mesh-');
  t.after(dir.cleanup);
  const meshPorts = async () => {
    const node = await started(['start', '--port', '0', '--data', dir.path, '--mesh', 'on'], (line) => line.includes('mesh: peer'));
    const text = node.output.join('\n');
    const ports = [...text.matchAll(/\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/g)].map((m) => Number(m[1]));
    node.child.kill('SIGINT');
    const { code, stderr } = await node.exit;
    assert.equal(code, 0, stderr);
    return { ports, text };
  };
  const first = await meshPorts();
  assert.equal(first.ports.length, 2, first.text);
  const second = await meshPorts();
  assert.deepEqual(second.ports, first.ports, second.text);
});

test('Ctrl-C ends open feeds with their closing lines: a longpoll its whole answer, a continuous feed its last_seq', async (t) => {
  const dir = await tempDir('refuge-cli-feeds-');
  t.after(dir.cleanup);
  const node = await started(['start', '--port', '0', '--data', dir.path, '--mesh', 'off'], (line) => line.includes('listening on'));
  const url = /listening on (http:\/\/\S+)/.exec(node.output.join('\n'))![1]!;
  assert.equal((await fetch(`${url}/feeds`, { method: 'PUT' })).status, 201);
  const longpoll = await fetch(`${url}/feeds/_changes?feed=longpoll&since=now`);
  const continuous = await fetch(`${url}/feeds/_changes?feed=continuous&since=now&heartbeat=60000`);
  // Both answered their headers: the feeds are open and waiting.
  const bodies = Promise.all([longpoll.text(), continuous.text()]);
  node.child.kill('SIGINT');
  const [lp, cont] = await bodies;
  assert.equal((await node.exit).code, 0);
  assert.deepEqual(JSON.parse(lp), { results: [], last_seq: 0, pending: 0 });
  assert.deepEqual(cont.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)), [{ last_seq: 0, pending: 0 }]);
});

// Without the retry line, the child would wait for its peer for good: the timeout makes that a failure.
test('refuge replicate says why it waits when a peer does not answer, and never prints credentials', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir('refuge-cli-retry-');
  t.after(dir.cleanup);
  // A port nobody listens on: connections are refused at once.
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const r = run(['replicate', `http://bob:secret@127.0.0.1:${port}/src`, 'copy', '--data', dir.path, '--create-target', '--continuous']);
  t.after(() => r.child.kill('SIGKILL'));
  const output: string[] = [];
  r.lines.on('line', (l) => output.push(l));
  const stdoutDone = new Promise((resolve) => r.lines.once('close', resolve));
  let stderr = '';
  await new Promise<void>((resolve) => {
    r.child.stderr!.on('data', (d) => {
      stderr += d;
      if (/retrying in \d+ s \(attempt 1\)/.test(stderr)) resolve();
    });
    r.child.on('exit', () => resolve());
  });
  assert.match(stderr, /retrying in \d+ s \(attempt 1\)/);
  r.child.kill('SIGINT');
  await Promise.all([r.exit, stdoutDone]);
  // Cancelled, it reports what it did, naming the source without its password.
  const summary = output.join('\n');
  assert.match(summary, new RegExp(`replicated http://127\\.0\\.0\\.1:${port}/src -> copy: 0 read`));
  assert.ok(!`${summary}${stderr}`.includes('secret'), `${summary}\n${stderr}`);
});

test('a reader that went away (refuge start | head) does not crash the node: Ctrl-C still stops it cleanly', async (t) => {
  const dir = await tempDir('refuge-cli-epipe-');
  t.after(dir.cleanup);
  const node = await started(['start', '--port', '0', '--data', dir.path, '--mesh', 'off'], (line) => line.includes('listening on'));
  // The pipe is closed: what the node writes next (its shutdown lines) fails with EPIPE.
  node.lines.close();
  node.child.stdout!.destroy();
  node.child.kill('SIGINT');
  const { code, stderr } = await node.exit;
  assert.equal(code, 0, stderr);
});

test('a node bound to every address is shown with the loopback URL to reach it from this machine', async () => {
  const { reachableUrl } = await import('../../src/cli/start.ts');
  assert.equal(reachableUrl('http://0.0.0.0:6986'), 'http://127.0.0.1:6986');
  assert.equal(reachableUrl('http://[::]:6986'), 'http://[::1]:6986');
  assert.equal(reachableUrl('http://127.0.0.1:6986'), 'http://127.0.0.1:6986');
  assert.equal(reachableUrl('http://192.168.1.5:6986'), 'http://192.168.1.5:6986');
});

test('on a small heap the default body limit is a 32nd of it: a body it could not parse is a 413, not an out-of-memory death', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir('refuge-cli-heap-');
  t.after(dir.cleanup);
  const child = spawn(process.execPath, ['--max-old-space-size=128', bin, 'start', '--port', '0', '--data', dir.path, '--mesh', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.after(() => void child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => resolve(''));
  });
  assert.ok(url);
  assert.equal((await fetch(`${url}/db`, { method: 'PUT' })).status, 201);
  // A 9 MB body, announced and never sent: the answer comes from its length alone (a client still
  // sending when the server refuses may see its connection closed before the answer). Not a
  // document write: those read attachment data past the limit as it comes (streamed-json.ts).
  const { port } = new URL(url);
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/db/_revs_diff', headers: { 'content-type': 'application/json', 'content-length': String(9 * 1024 * 1024) } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  assert.equal(answer.status, 413);
  assert.equal((JSON.parse(answer.body) as { error: string }).error, 'too_large');
  child.kill('SIGINT');
  assert.equal(await exit, 0);
});
