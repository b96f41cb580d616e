// Feed durations past Node's timer limit (2^31-1 ms): a heartbeat or a longpoll timeout that large
// is as good as for ever, never a heartbeat every millisecond, a longpoll ended at once or a 500.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request, startTestServer } from './server.ts';

/** What a GET's connection received within `ms`, then cut. */
function received(port: number, path: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, ms);
  });
}

test('a heartbeat or longpoll timeout past 2^31-1 ms waits instead of firing every millisecond', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/beats`, { method: 'PUT' })).status, 201);
  const port = server.server.port;
  const huge = '99999999999';
  for (const path of [
    `/beats/_changes?feed=continuous&since=now&heartbeat=${huge}`,
    `/beats/_changes?feed=eventsource&since=now&heartbeat=${huge}`,
    `/_db_updates?feed=longpoll&since=now&heartbeat=${huge}`,
    `/_blobs/_changes?feed=continuous&since=now&heartbeat=${huge}`,
  ]) {
    const text = await received(port, path, 400);
    assert.match(text, /^HTTP\/1\.1 200 /, path);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    // Before: hundreds of heartbeat chunks in 400 ms.
    assert.ok(body.length < 100, `${path}: ${JSON.stringify(body.slice(0, 200))}`);
  }
  // A blob longpoll with nothing to say waits its timeout out: before, 3000000000 answered at once
  // and 99999999999 was a 500 (AbortSignal.timeout's range error).
  for (const timeout of ['3000000000', huge]) {
    const text = await received(port, `/_blobs/_changes?feed=longpoll&since=now&timeout=${timeout}`, 400);
    assert.equal(text, '', `timeout=${timeout}: ${text.slice(0, 200)}`);
  }
});
