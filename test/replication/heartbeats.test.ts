// Heartbeats told from pieces of the body: no cut of a real changes answer (CouchDB's, pouchdb-server's,
// Refuge's layouts) makes a client believe the server beats, and real beat sequences are still heard.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClient } from '../../src/replication/http-client.ts';
import { heartbeatVerdict } from '../../src/replication/heartbeats.ts';
import { HttpPeer } from '../../src/replication/index.ts';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';

const couchRow = (n: number) => `{"seq":"${n}-g1AAAABteJzLYWBgYMpgTmHgz8tPSTV0MDQy","id":"doc${n}","changes":[{"rev":"1-967a00dff5e02add41819138abb3284d"}]}`;
const couchEnd = (seq: string) => `\n],\n"last_seq":"${seq}","pending":0}\n`;
const pouchRow = (n: number) => `{"id":"doc${n}","changes":[{"rev":"1-a"}],"seq":${n}}`;

/** Answers without heartbeats, as servers lay them out (CouchDB from chttpd_db's changes_callback). */
const BEATLESS: Record<string, string> = {
  'couchdb normal, empty': '{"results":[\n' + couchEnd('5-g1A'),
  'couchdb normal, rows': '{"results":[\n' + [1, 2, 3].map(couchRow).join(',\r\n') + couchEnd('3-g1A'),
  // A long-poll writes a newline as it starts waiting, whether or not beats were asked for.
  'couchdb longpoll, waited, a row before any beat': '{"results":[\n\n' + couchRow(6) + couchEnd('6-g1A'),
  'couchdb longpoll without heartbeat, timed out': '{"results":[\n\n' + couchEnd('5-g1A'),
  'pouchdb-server compact, rows': `{"results":[${pouchRow(1)},${pouchRow(2)}],"last_seq":2}`,
  'pouchdb-server compact, empty': '{"results":[],"last_seq":0}',
  'pouchdb-server longpoll, waited': `{"results":[\n${pouchRow(3)}\n],\n"last_seq":3}\n`,
  'refuge normal, empty': '{"results":[\n\n],\n"last_seq":3,"pending":0}\n',
  'refuge longpoll, waited': `{"results":[\n${pouchRow(4)}\n],\n"last_seq":4,"pending":0}\n`,
  'pretty-printed': JSON.stringify({ results: [{ seq: 1, id: 'a', changes: [{ rev: '1-a' }] }], last_seq: 1 }, null, 2),
};

/** Answers with real beats (a newline written per heartbeat while the server waits). */
const BEATING: Record<string, string> = {
  'couchdb, one beat then a row': '{"results":[\n\n' + '\n' + couchRow(7) + couchEnd('7-g1A'),
  'couchdb, three beats then a row': '{"results":[\n\n' + '\n\n\n' + couchRow(7) + couchEnd('7-g1A'),
  'couchdb, still waiting after two beats': '{"results":[\n\n' + '\n\n',
  'refuge, two beats then a row': `{"results":[\n\n\n${pouchRow(4)}\n],\n"last_seq":4,"pending":0}\n`,
  'refuge, timed out after two beats': '{"results":[\n\n\n\n],\n"last_seq":3,"pending":0}\n',
  'pouchdb-server, a beat before it answered': `\n{"results":[${pouchRow(1)}],"last_seq":1}`,
  'pouchdb-server, two beats then a row': `{"results":[\n\n\n${pouchRow(3)}\n],\n"last_seq":3}\n`,
};

/** Every prefix is a possible "text so far" at the end of some piece: covers every split point. */
function verdicts(answer: string) {
  return Array.from({ length: answer.length + 1 }, (_, n) => heartbeatVerdict(answer.slice(0, n)));
}

test('no prefix of an answer without heartbeats is heard as beating', async (t) => {
  const refuge = await refugeAnswers();
  for (const [name, answer] of Object.entries({ ...BEATLESS, ...refuge })) {
    const all = verdicts(answer);
    const at = all.indexOf('heard');
    assert.equal(at, -1, `${name}: heard at ${at} of ${JSON.stringify(answer)}`);
    assert.equal(all.at(-1), 'none', name);
  }
  t.diagnostic(`layouts from Refuge's own server: ${Object.keys(refuge).length}`);
});

test('real beat sequences are heard, and a final verdict never changes as more text comes', () => {
  for (const [name, answer] of Object.entries({ ...BEATING, ...BEATLESS })) {
    const all = verdicts(answer);
    const final = all.findIndex((v) => v !== 'unknown');
    if (final >= 0) assert.ok(all.slice(final).every((v) => v === all[final]), `${name}: the verdict changed`);
    if (name in BEATING) assert.equal(all.at(-1), 'heard', name);
  }
});

test('the client learns no heartbeats from any piece of an answer, cut anywhere', async () => {
  for (const [name, answer] of Object.entries(BEATLESS)) {
    const cuts: string[][] = [[...answer]];
    // Each character alone between the rest: a lone "\n" of the body at every place it occurs.
    for (let i = 0; i < answer.length; i++) cuts.push([answer.slice(0, i), answer[i]!, answer.slice(i + 1)].filter((p) => p !== ''));
    for (const pieces of cuts) {
      const client = new HttpClient('http://peer.invalid/db', { fetch: piecesFetch(pieces) });
      const res = await client.request({ path: '_changes' });
      assert.equal(res.heartbeats, false, `${name} cut as ${JSON.stringify(pieces.slice(0, 3))}`);
    }
  }
  for (const [name, answer] of Object.entries(BEATING)) {
    if (!answer.trimEnd().endsWith('}')) continue;
    const client = new HttpClient('http://peer.invalid/db', { fetch: piecesFetch([...answer]) });
    assert.equal((await client.request({ path: '_changes' })).heartbeats, true, name);
  }
});

test('a long-poll given up after a silent wait has not shown heartbeats; one given up after beats has', async (t) => {
  const { url, close } = await serve((_req, res, hold) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // CouchDB's opening and its newline on starting to wait, then silence (or beats).
    res.write('{"results":[\n\n' + (_req.url?.includes('beats') ? '\n\n' : ''));
    hold(res);
  });
  t.after(close);
  const client = new HttpClient(url, { timeoutMs: 5_000 });
  const silent = await client.request({ path: '_changes', query: { feed: 'longpoll' }, waitMs: 100 });
  assert.deepEqual([silent.quiet, silent.heartbeats], [true, false]);
  const beating = await client.request({ path: '_changes', query: { feed: 'longpoll', beats: 1 }, waitMs: 100 });
  assert.deepEqual([beating.quiet, beating.heartbeats], [true, true]);
});

test('a long-poll answer written a byte at a time does not teach the peer heartbeats', { timeout: 20_000 }, async (t) => {
  let polls = 0;
  const { url, close } = await serve((req, res, hold) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.socket?.setNoDelay(true);
    if (polls++ === 0) return void writeBytes(res, '{"results":[\n\n' + couchRow(6) + couchEnd('6-g1A'));
    // The next long-poll waits silently: a peer that wrongly learnt beats cuts it as a dead link.
    res.write('{"results":[\n\n');
    hold(res);
  });
  t.after(close);
  // The loopback coalesces the server's one-byte writes as it likes; the peer's fetch hands the body
  // on a byte a chunk, so what is tested does not depend on it.
  const peer = new HttpPeer(url, { timeoutMs: 10_000, fetch: byteFetch });
  const first = await peer.changes({ feed: 'longpoll', style: 'all_docs', since: 0, limit: 10, timeoutMs: 300 });
  assert.equal(first.results.length, 1);
  const second = await peer.changes({ feed: 'longpoll', style: 'all_docs', since: first.lastSeq, limit: 10, timeoutMs: 300 });
  assert.deepEqual(second, { results: [], lastSeq: first.lastSeq });
});

/** Normal and long-poll answers from Refuge's own server, exactly as it writes them. */
async function refugeAnswers(): Promise<Record<string, string>> {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicator: false });
  try {
    const db = await node.createDb('db');
    const empty = await (await fetch(`${srv.url}/db/_changes`)).text();
    await db.put({ _id: 'a' });
    await db.put({ _id: 'b', x: [1, { y: '\n' }] });
    const rows = await (await fetch(`${srv.url}/db/_changes?include_docs=true`)).text();
    const polled = await (await fetch(`${srv.url}/db/_changes?feed=longpoll&since=1`)).text();
    return { 'refuge server, normal empty': empty, 'refuge server, rows': rows, 'refuge server, longpoll': polled };
  } finally {
    await srv.close();
    await node.close();
  }
}

function piecesFetch(pieces: string[]): typeof fetch {
  const bytes = pieces.map((p) => new TextEncoder().encode(p));
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const b of bytes) c.enqueue(b);
          c.close();
        },
      }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    );
}

/** The global fetch, its answer's body handed out a byte per chunk as a fragmenting link would. */
const byteFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const reader = res.body!.getReader();
  let held = new Uint8Array(0);
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (held.length === 0) {
        const { value, done } = await reader.read();
        if (done) return c.close();
        held = value;
      }
      c.enqueue(held.subarray(0, 1));
      held = held.subarray(1);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: res.status, headers: res.headers });
};

/** Writes `text` a byte per write, each once the previous one left. */
function writeBytes(res: ServerResponse, text: string): void {
  const bytes = Buffer.from(text);
  let i = 0;
  const next = () => (i < bytes.length ? res.write(bytes.subarray(i, ++i), next) : res.end());
  next();
}

type Handler = (req: IncomingMessage, res: ServerResponse, hold: (res: ServerResponse) => void) => void;

async function serve(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const held = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => handler(req, res, (r) => held.add(r)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/db`,
    close: () =>
      new Promise((resolve) => {
        for (const r of held) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
