// Requests pipelined on one connection are answered in order and run in order: a GET sent right
// behind a PUT sees what the PUT wrote.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pausedAfter } from '../helpers/paused-reader.ts';
import { request, startTestServer } from './server.ts';

test('a GET pipelined right behind a PUT sees the PUT', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/pipe`, { method: 'PUT' })).status, 201);
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  t.after(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const rounds = 5;
  let wire = '';
  for (let i = 0; i < rounds; i++) {
    const body = JSON.stringify({ i });
    wire += `PUT /pipe/k${i} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    wire += `GET /pipe/k${i} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`;
  }
  let text = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length === rounds * 2 && /\}\s*$/.test(text)) resolve();
    });
  });
  socket.write(wire);
  await answered;
  const statuses = (text.match(/HTTP\/1\.1 (\d{3})/g) ?? []).map((s) => s.slice(9));
  assert.deepEqual(statuses, Array.from({ length: rounds }, () => ['201', '200']).flat());
});

test('close() cuts connections that never sent a request at once (it waited for them 10 s)', async () => {
  const server = await startTestServer();
  const url = new URL(server.url);
  const sockets = await Promise.all(
    Array.from({ length: 10 }, (_, i) => {
      const socket = connect(Number(url.port), url.hostname);
      // Cut by the server: a reset is the expected end.
      socket.on('error', () => undefined);
      return new Promise<ReturnType<typeof connect>>((resolve) =>
        socket.once('connect', () => {
          // Half of them start a request and stop mid-headers.
          if (i % 2 === 1) socket.write(`GET /_up HTTP/1.1\r\nHost: ${url.host}\r\n`);
          resolve(socket);
        }),
      );
    }),
  );
  const gone = Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve))));
  let guard: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    server.close().then(() => 'closed'),
    new Promise((resolve) => (guard = setTimeout(() => resolve('still waiting after 5 s'), 5000))),
  ]);
  clearTimeout(guard);
  assert.equal(outcome, 'closed');
  await gone;
});

test('close() lets an answer under way finish, then closes its connection at once (it waited 10 s)', async () => {
  const server = await startTestServer();
  assert.equal((await request(`${server.url}/big`, { method: 'PUT' })).status, 201);
  const db = await server.node.db('big');
  await db.bulkDocs(Array.from({ length: 200 }, (_, i) => ({ _id: `d${i}`, pad: 'p'.repeat(20_000) })));
  // 4 MB streamed: more than the sockets hold, so the answer is still being sent when close begins.
  const socket = await pausedAfter(new URL(`${server.url}/big/_all_docs?include_docs=true`), 1_000_000);
  socket.on('error', () => undefined);
  let tail = '';
  socket.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('latin1')).slice(-16)));
  const gone = new Promise((resolve) => socket.once('close', resolve));
  const closing = server.close().then(() => 'closed');
  socket.resume();
  let guard: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([closing, new Promise((resolve) => (guard = setTimeout(() => resolve('still waiting after 5 s'), 5000)))]);
  clearTimeout(guard);
  assert.equal(outcome, 'closed');
  await gone;
  // The whole answer came, its last chunk included.
  assert.ok(tail.endsWith(']}\r\n0\r\n\r\n'), JSON.stringify(tail));
});

test("requests Node would answer itself with an empty body get CouchDB's JSON: no Host is served, an unknown Expect is 417", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const url = new URL(server.url);
  const ask = async (raw: string): Promise<string> => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end(raw);
    await ended;
    return text;
  };
  const noHost = await ask('GET /_up HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.match(noHost, /^HTTP\/1\.1 200 /);
  assert.match(noHost, /"status":"ok"/);
  const expect = await ask(`GET /_up HTTP/1.1\r\nHost: ${url.host}\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n`);
  assert.match(expect, /^HTTP\/1\.1 417 /);
  assert.match(expect, /"error":"expectation_failed"/);
});

test('bytes that fail to parse behind pipelined writes wait for their answers: each write is answered, then the 400', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/pipe`, { method: 'PUT' })).status, 201);
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const put = (id: string) => `PUT /pipe/${id} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  // A body longer than its Content-Length: the rest is read as a request, and is none.
  socket.write(put('a') + put('b') + 'NOT HTTP\r\n\r\n');
  await closed;
  const statuses = (text.match(/HTTP\/1\.1 (\d{3})/g) ?? []).map((s) => s.slice(9));
  assert.deepEqual(statuses, ['201', '201', '400'], text);
  assert.match(text, /\{"error":"bad_request","reason":"Malformed HTTP request"\}$/);
  assert.equal((await request(`${server.url}/pipe/b`)).status, 200);
});
