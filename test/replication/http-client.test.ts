// The HTTP client under a misbehaving peer: a garbled or cut-short answer is a retryable failure
// (the peer's, answered 502 if it lasts), and the timeout counts silence, not the whole transfer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isRefugeError } from '../../src/core.ts';
import { HttpClient } from '../../src/replication/http-client.ts';
import { isRetryable } from '../../src/replication/retry.ts';
import { sleep } from '../../src/platform/sleep.ts';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/db`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

test('an answer that is not JSON (garbled, or cut short without a length) is a retryable 502', async (t) => {
  const s = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // No Content-Length: the body simply ends where the connection does.
    res.end(req.url?.includes('cut') ? '{"results":[{"seq":1,"id":"a"' : '<html>proxy error</html>');
  });
  t.after(s.close);
  const client = new HttpClient(s.url, { timeoutMs: 5000 });
  for (const path of ['_changes?cut', '_changes']) {
    await assert.rejects(client.request({ path }), (err: unknown) => {
      assert.ok(isRefugeError(err, 'unavailable'), String(err));
      assert.equal(err.status, 502);
      assert.ok(isRetryable(err));
      assert.match(err.reason, /not JSON/);
      return true;
    });
  }
});

test('a success cut right after its headers (a body without a length, none of it arrived) is a retryable 502, not an empty answer', async (t) => {
  const s = await serve((req, res) => {
    // The connection closes before any of a body whose end only its close would tell.
    if (req.url?.includes('cut')) return void res.socket!.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
    res.end();
  });
  t.after(s.close);
  const client = new HttpClient(s.url, { timeoutMs: 5000 });
  for (const path of ['_revs_diff?cut', '_revs_diff']) {
    await assert.rejects(client.request({ method: 'POST', path, body: { a: ['1-a'] } }), (err: unknown) => {
      assert.ok(isRefugeError(err, 'unavailable'), `${path}: ${String(err)}`);
      assert.equal(err.status, 502);
      assert.ok(isRetryable(err));
      assert.match(err.reason, /the answer is empty/);
      return true;
    });
  }
});

test('the timeout counts silence: a slow answer that keeps coming completes, a silent one fails', async (t) => {
  const s = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.includes('silent')) return void res.write('{"ok":');
    // Sixteen chunks 100 ms apart: 1.5 s in all, over a 1 s timeout, never long without bytes.
    let n = 0;
    const timer = setInterval(() => {
      if (++n < 16) res.write(n === 1 ? '{"pad":"' : 'xxxxxxxx');
      else {
        clearInterval(timer);
        res.end('"}');
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  t.after(s.close);
  const client = new HttpClient(s.url, { timeoutMs: 1000 });
  const { body } = await client.request({ path: 'slow' });
  assert.equal((body as { pad: string }).pad.length, 14 * 8);
  await assert.rejects(client.request({ path: 'silent' }), (err: unknown) => isRefugeError(err, 'unavailable'));
});

test('a large body is given time to go out over a slow uplink before its answer is awaited; a small one is not', async () => {
  // A fetch over a 64 KiB/s uplink: the answer begins once the body has gone out.
  const slowUplink: typeof fetch = async (_url, init) => {
    const size = typeof init?.body === 'string' ? init.body.length : 0;
    await sleep((size / (64 * 1024)) * 1000, init?.signal ?? undefined);
    if (init?.signal?.aborted) throw init.signal.reason;
    return new Response(size > 1000 ? '{"ok":true}' : '{"ok":false}', { status: 201, headers: { 'content-type': 'application/json' } });
  };
  const client = new HttpClient('http://127.0.0.1:9/db', { fetch: slowUplink, timeoutMs: 200 });
  // About a second to send, five times the timeout: the answer still counts.
  const { body } = await client.request({ method: 'POST', path: '_bulk_docs', body: { docs: [{ _id: 'big', pad: 'x'.repeat(64 * 1024) }] } });
  assert.deepEqual(body, { ok: true });
  // A peer silent past the timeout after a small body is still given up.
  const never: typeof fetch = (_url, init) => new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
  const silent = new HttpClient('http://127.0.0.1:9/db', { fetch: never, timeoutMs: 200 });
  await assert.rejects(silent.request({ method: 'POST', path: '_revs_diff', body: { a: ['1-a'] } }), (err: unknown) => isRefugeError(err, 'unavailable') && /no answer within 2\d\d ms/.test(err.reason));
});

test('an answer whose body stalls ends when the request is cancelled or times out, even if the fetch never errors the body', async () => {
  // A fetch whose answer sends its headers and then nothing, and whose body ignores the signal:
  // the end of the wait must come from the client itself.
  const stalled: typeof fetch = async () =>
    new Response(new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => undefined) }), { status: 200, headers: { 'content-type': 'application/json' } });
  const client = new HttpClient('http://127.0.0.1:9/db', { fetch: stalled, timeoutMs: 200 });
  const ac = new AbortController();
  const cancelled = client.request({ path: '_local/checkpoint', signal: ac.signal });
  ac.abort(new Error('cancelled'));
  await assert.rejects(cancelled, /cancelled/);
  // Its own time up: a retryable failure, as for any peer that goes silent.
  await assert.rejects(client.request({ path: '_local/checkpoint' }), (err: unknown) => {
    assert.ok(isRefugeError(err, 'unavailable'), String(err));
    assert.ok(isRetryable(err));
    return true;
  });
});

test('an error answer that is not JSON (a proxy’s HTML page) is judged by its status', async (t) => {
  const s = await serve((req, res) => {
    const status = Number(req.url!.split('/').pop());
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(`<html><body><h1>${status}</h1><hr><center>nginx</center></body></html>`);
  });
  t.after(s.close);
  const client = new HttpClient(s.url, { timeoutMs: 5000 });
  const expected = [
    [413, 'too_large'],
    [404, 'not_found'],
    [405, 'method_not_allowed'],
    [400, 'bad_request'],
    [501, 'not_implemented'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
  ] as const;
  for (const [status, code] of expected) {
    await assert.rejects(client.request({ path: `x/${status}` }), (err: unknown) => {
      assert.ok(isRefugeError(err, code), `${status}: ${String(err)}`);
      assert.equal(err.status, status);
      assert.ok(!isRetryable(err), `${status} is not retried`);
      assert.match(err.reason, new RegExp(`HTTP ${status}, an answer not JSON`));
      return true;
    });
  }
  // Passing failures stay retryable, whatever their body.
  for (const status of [502, 503, 429]) {
    await assert.rejects(client.request({ path: `x/${status}` }), (err: unknown) => isRefugeError(err, 'unavailable') && isRetryable(err));
  }
});

test('credentials with a raw % in the URL are a bad request, without the secret in the reason', () => {
  assert.throws(() => new HttpClient('http://u:50%off@127.0.0.1:9/db'), (err: unknown) => {
    assert.ok(isRefugeError(err, 'bad_request'), String(err));
    assert.equal(err.status, 400);
    assert.match(err.reason, /password is not percent-encoded/);
    assert.doesNotMatch(err.reason, /50%off/);
    return true;
  });
  assert.throws(() => new HttpClient('http://b%ob:pw@127.0.0.1:9/db'), (err: unknown) => isRefugeError(err, 'bad_request') && /user name/.test(err.reason));
  // Encoded, or replaced by `auth`, they are fine.
  assert.equal(new HttpClient('http://u:50%25off@127.0.0.1:9/db').url, 'http://127.0.0.1:9/db');
  assert.equal(new HttpClient('http://u:50%off@127.0.0.1:9/db', { auth: { username: 'u', password: '50%off' } }).url, 'http://127.0.0.1:9/db');
});

test('headers no request can carry, and a database URL with a query string, are a bad request when the client is made', () => {
  const bad = (headers: Record<string, string>) => () => new HttpClient('http://127.0.0.1:9/db', { headers });
  const refused: Array<Record<string, string>> = [{ 'X\r\nEvil': 'v' }, { '': 'v' }, { 'x a': 'v' }, { 'x-a': 'one\r\ntwo' }, { 'x-a': 'nul\u0000' }, { 'x-a': '\u0100' }, { 'Transfer-Encoding': 'gzip' }, { connection: 'close' }];
  for (const headers of refused) {
    assert.throws(bad(headers), (err: unknown) => isRefugeError(err, 'bad_request'), JSON.stringify(headers));
  }
  assert.doesNotThrow(bad({ 'X-Token': 'a b\tc', Authorization: 'Bearer x' }));
  assert.throws(() => new HttpClient('http://127.0.0.1:9/db?x=1'), (err: unknown) => isRefugeError(err, 'bad_request') && /query string/.test(err.reason));
  // A fragment is never sent: dropped.
  assert.equal(new HttpClient('http://127.0.0.1:9/db#frag').url, 'http://127.0.0.1:9/db');
});

test('a timeout past what a timer holds (2^31 ms) waits, rather than firing at once', async (t) => {
  const s = await serve((_req, res) => {
    // Answered on a later turn, well after the 1 ms Node gives an overflowing timer.
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 50);
  });
  t.after(s.close);
  const client = new HttpClient(s.url, { timeoutMs: 2 ** 31 });
  assert.deepEqual((await client.request({ path: '' })).body, { ok: true });
});

test('redirects are followed as fetch follows them, and credentials stay with their origin', async (t) => {
  const seen: Array<{ url: string | undefined; method: string | undefined; auth: string | undefined }> = [];
  const other = await serve((req, res) => {
    seen.push({ url: req.url, method: req.method, auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"elsewhere":true}');
  });
  t.after(other.close);
  const s = await serve((req, res) => {
    seen.push({ url: req.url, method: req.method, auth: req.headers.authorization });
    if (req.url?.startsWith('/db/moved')) return void res.writeHead(307, { location: '/db/here' }).end();
    if (req.url?.startsWith('/db/away')) return void res.writeHead(302, { location: `${other.url}/there` }).end();
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ at: req.url, method: req.method }));
    });
  });
  t.after(s.close);
  const client = new HttpClient(s.url.replace('http://', 'http://u:p@'), { timeoutMs: 5000 });
  // 307 keeps the method and its body.
  const moved = await client.request({ method: 'POST', path: 'moved', body: { a: 1 } });
  assert.deepEqual(moved.body, { at: '/db/here', method: 'POST' });
  assert.equal(seen[1]!.auth, seen[0]!.auth);
  assert.ok(seen[0]!.auth?.startsWith('Basic '));
  seen.length = 0;
  const away = await client.request({ path: 'away' });
  assert.deepEqual(away.body, { elsewhere: true });
  assert.equal(seen[1]!.url, '/db/there');
  assert.equal(seen[1]!.auth, undefined, 'no credentials to another origin');
});
