// A request body that arrives too slowly is cut with a 408 (a trickling client held its connection
// and memory for as long as it liked); a slow but steady one, or one waiting its turn, is served.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request, startTestServer } from './server.ts';

/** Opens a raw connection and collects everything the server sends until it closes the socket. */
async function rawClient(url: string): Promise<{ socket: Socket; received: Promise<string> }> {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const received = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  return { socket, received };
}

const rate = { graceMs: 300, minBytesPerSecond: 2000 };

test('a body trickled below the minimum rate gets a 408 and the connection is cut; nothing is written', async (t) => {
  const server = await startTestServer({ bodyRate: rate });
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/slow`, { method: 'PUT' })).status, 201);
  const { socket, received } = await rawClient(server.url);
  const body = JSON.stringify({ pad: 'x'.repeat(10_000) });
  socket.write(`PUT /slow/doc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
  }, 20);
  t.after(() => clearInterval(trickle));
  const text = await received;
  clearInterval(trickle);
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /"error":"request_timeout"/);
  assert.ok(sent < body.length);
  assert.equal((await request(`${server.url}/slow/doc`)).status, 404);
  // The server goes on serving.
  assert.equal((await request(`${server.url}/slow`)).status, 200);
});

test('a body sent slowly but above the minimum rate, and a pipelined one waiting its turn, are served', async (t) => {
  const server = await startTestServer({ bodyRate: rate });
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/steady`, { method: 'PUT' })).status, 201);
  const { socket, received } = await rawClient(server.url);
  const body = JSON.stringify({ pad: 'y'.repeat(12_000) });
  const second = JSON.stringify({ small: true });
  // Paced at ~20 kB/s in 500-byte pieces: over a second in all, past the grace, well above the rate.
  // A second request is pipelined right behind it.
  socket.write(`PUT /steady/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pace = setInterval(() => {
      socket.write(body.slice(sent, sent + 500));
      sent += 500;
      if (sent >= body.length) {
        clearInterval(pace);
        resolve();
      }
    }, 25);
  });
  socket.end(`PUT /steady/b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${second.length}\r\nConnection: close\r\n\r\n${second}`);
  const text = await received;
  assert.deepEqual((text.match(/HTTP\/1\.1 (\d{3})/g) ?? []).map((s) => s.slice(9)), ['201', '201']);
  assert.equal(((await request(`${server.url}/steady/a`)).body as { pad: string }).pad.length, 12_000);
});

test('a body left unsent after an early answer, or trickled into a streamed attachment upload, is cut too', async (t) => {
  const server = await startTestServer({ bodyRate: rate, admin: 'admin:secret' });
  t.after(() => server.close());
  const admin = { authorization: 'Basic ' + Buffer.from('admin:secret').toString('base64') };
  assert.equal((await request(`${server.url}/up`, { method: 'PUT', headers: admin })).status, 201);
  const guard = async (received: Promise<string>) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const text = await Promise.race([received, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open after 5 s'), 5000)))]);
    clearTimeout(timer);
    return text;
  };

  // Anonymous: answered 401 at once, its declared body never comes.
  const early = await rawClient(server.url);
  early.socket.write(`PUT /up/doc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n`);
  const answered = await guard(early.received);
  assert.match(answered, /^HTTP\/1\.1 401 /);

  // An attachment (read as a stream by its route), trickled.
  const slow = await rawClient(server.url);
  slow.socket.write(`PUT /up/doc/a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${admin.authorization}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000\r\n\r\n`);
  const trickle = setInterval(() => !slow.socket.destroyed && slow.socket.write('x'), 20);
  t.after(() => clearInterval(trickle));
  const cut = await guard(slow.received);
  clearInterval(trickle);
  assert.match(cut, /^HTTP\/1\.1 408 /);
  assert.equal((await request(`${server.url}/up/doc`, { headers: admin })).status, 404);
});
