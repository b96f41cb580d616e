// How a streamed `_all_docs`, `_local_docs` or `_changes` answer reads storage: from one snapshot whatever is
// written meanwhile, no further than the client takes (a paused client pauses the read, one that
// leaves ends it and frees the snapshot), and a failure once rows went out only cuts the answer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Database } from '../../src/documents/index.ts';
import { memoryEngine, type KvRange } from '../../src/storage/index.ts';
import { until } from '../helpers/until.ts';
import { newReadWatch, watchedEngine } from '../helpers/watched-engine.ts';
import { request, startTestServer, type TestServer } from './server.ts';

const watch = newReadWatch();
let server: TestServer;
let small: Database;
let big: Database;
const BIG = 20_000;

before(async () => {
  server = await startTestServer({ engine: watchedEngine(memoryEngine, watch) });
  for (const name of ['small', 'big']) assert.equal((await request(`${server.url}/${name}`, { method: 'PUT' })).status, 201);
  small = (await server.node.db('small')) as Database;
  big = (await server.node.db('big')) as Database;
  // More than one segment of the offset's counts (id-counts.ts) lies before the start key below.
  await small.bulkDocs(Array.from({ length: 1200 }, (_, i) => ({ _id: `n${String(i).padStart(4, '0')}`, n: i, pad: 'p'.repeat(100) })));
  // ~1 KB each: a 20 MB answer, more than the sockets between server and client hold.
  const pad = 'x'.repeat(1000);
  for (let i = 0; i < BIG; i += 2000) await big.bulkDocs(Array.from({ length: 2000 }, (_, k) => ({ _id: `b${String(i + k).padStart(5, '0')}`, pad })));
});
after(() => server.close());

/** The listing's own scan (its range ends at the snapshot's last entry), not a count's. */
const isListing = (range: KvRange) => range.lte !== undefined || range.lt === 'd"' || range.lt === 'l"';

/** Runs `write` once, between the 3rd and 4th chunk of the next listing scan of `keyspace`. */
function writeMidStream(keyspace: string, write: () => Promise<void>): { done: () => boolean } {
  let ran = false;
  watch.between = async (space, chunks, range) => {
    if (ran || space !== keyspace || chunks !== 3 || !isListing(range)) return;
    ran = true;
    await write();
  };
  return { done: () => ran };
}

test('writes landing between the chunks of a streamed _all_docs do not show: rows, offset and totals are the snapshot\'s', async () => {
  watch.chunk = 10;
  const options = { startkey: 'n0700', includeDocs: true } as const;
  const snapshot = await small.allDocs(options);
  const expected = JSON.stringify({ total_rows: snapshot.totalRows, offset: snapshot.offset, update_seq: snapshot.updateSeq, rows: snapshot.rows });
  const old = await small.get('n0900');
  const writes = writeMidStream('d', async () => {
    // Before the start key (the offset), in rows not read yet, and new ones.
    await small.bulkDocs([{ _id: 'a000' }, { _id: 'a001' }, { _id: 'n0050', _deleted: true, _rev: (await small.get('n0050'))._rev }, { ...old, pad: 'changed' }, { _id: 'n0950x' }]);
    await small.remove('n1000', (await small.get('n1000'))._rev!);
    await small.ensureFullCommit();
  });
  const res = await request(`${server.url}/small/_all_docs?startkey="n0700"&include_docs=true&update_seq=true`);
  watch.chunk = undefined;
  assert.ok(writes.done(), 'the writes ran during the answer');
  assert.equal(res.status, 200);
  assert.equal(res.text, expected);
  assert.equal((await small.allDocs(options)).offset, snapshot.offset + 1, 'the writes are there for the next read');
});

test("writes landing between the chunks of a streamed _local_docs do not show: rows are the snapshot's", async () => {
  for (let i = 0; i < 300; i++) await small.putLocal({ _id: `_local/c${String(i).padStart(3, '0')}`, n: i, pad: 'p'.repeat(200) });
  watch.chunk = 10;
  const expected = JSON.stringify({ total_rows: null, offset: null, rows: await small.localDocs({ includeDocs: true }) });
  const writes = writeMidStream('l', async () => {
    // One read already, one not read yet, a new one, one gone.
    await small.putLocal({ _id: '_local/c001', _rev: '0-1', n: 'changed' });
    await small.putLocal({ _id: '_local/c250', _rev: '0-1', n: 'changed' });
    await small.putLocal({ _id: '_local/c250x' });
    await small.removeLocal('_local/c280');
    await small.ensureFullCommit();
  });
  const res = await request(`${server.url}/small/_local_docs?include_docs=true`);
  watch.chunk = undefined;
  assert.ok(writes.done(), 'the writes ran during the answer');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), null, 'streamed');
  assert.equal(res.text, expected);
  assert.equal((await small.localDocs()).length, 300, 'the writes are there for the next read');
});

test('writes landing between the chunks of a streamed _changes do not show: rows, last_seq and pending are the snapshot\'s', async () => {
  watch.chunk = 10;
  const before = await small.changes({ limit: 300, includeDocs: true });
  const pending = await small.pendingAfter(before.lastSeq);
  const writes = writeMidStream('s', async () => {
    // A document read already, one not read yet (its change moves past the snapshot), new ones.
    await small.put({ ...(await small.get('n0001')), pad: 'changed' });
    await small.put({ ...(await small.get('n0360')), pad: 'changed' });
    await small.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `late${i}` })));
    await small.ensureFullCommit();
  });
  const res = await request(`${server.url}/small/_changes?limit=300&include_docs=true`);
  watch.chunk = undefined;
  assert.ok(writes.done(), 'the writes ran during the answer');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.text), JSON.parse(JSON.stringify({ results: before.results, last_seq: before.lastSeq, pending })));
  // n0001 moved past last_seq, n0360 stayed past it, and 20 are new.
  assert.equal(await small.pendingAfter(before.lastSeq), pending + 21, 'the writes are there for the next read');
});

/** A GET whose response the caller drives: `first` resolves with the first bytes of the body, the response paused. */
function pausedGet(url: string): { first: Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> } {
  const req = http.get(url, { headers: { accept: 'application/json' } });
  const first = new Promise<{ res: http.IncomingMessage; req: http.ClientRequest }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      res.once('data', (chunk: Buffer) => {
        res.pause();
        res.unshift(chunk);
        resolve({ res, req });
      });
    });
  });
  return { first };
}

/** Waits until the entries scanned of `keyspace` stay the same for a while: the server waits on the client. */
async function scanSettles(keyspace: string): Promise<number> {
  let last = -1;
  for (;;) {
    const now = watch.scanned[keyspace] ?? 0;
    if (now === last) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 300));
  }
}

for (const [path, keyspace] of [['_all_docs?include_docs=true', 'd'], ['_changes?include_docs=true', 's']] as const) {
  test(`a large ${path.split('?')[0]} answer is read no faster than the client takes it (memory bounded by chunks, not by the answer)`, async () => {
    const start = watch.scanned[keyspace] ?? 0;
    const { first } = pausedGet(`${server.url}/big/${path}`);
    const { res } = await first;
    assert.equal(res.headers['content-length'], undefined, 'streamed');
    const read = (await scanSettles(keyspace)) - start;
    // The client holds back after the first bytes: the server has read part of the rows and waits.
    assert.ok(read < BIG / 2, `read ${read} of ${BIG} rows while the client was not reading`);
    assert.equal(watch.openSnapshots, 1);
    res.resume();
    const parts: Buffer[] = [];
    for await (const chunk of res) parts.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    const rows = keyspace === 'd' ? body.rows : body.results;
    assert.equal(rows.length, BIG);
    assert.equal(rows[BIG - 1].doc._id, `b${BIG - 1}`);
    await until(() => watch.openSnapshots === 0 && watch.openScans === 0);
  });

  test(`a client leaving a streamed ${path.split('?')[0]} ends its read and frees its snapshot`, async () => {
    const start = watch.scanned[keyspace] ?? 0;
    const { first } = pausedGet(`${server.url}/big/${path}`);
    const { req } = await first;
    req.destroy();
    await until(() => watch.openSnapshots === 0 && watch.openScans === 0);
    const read = (watch.scanned[keyspace] ?? 0) - start;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((watch.scanned[keyspace] ?? 0) - start, read, 'no read after the snapshot was freed');
    assert.ok(read < BIG / 2, `read ${read} of ${BIG} rows for a client that left`);
    // The server goes on answering.
    assert.equal((await request(`${server.url}/big/_all_docs?limit=1`)).status, 200);
  });
}

test('HEAD on a listing answers its headers without reading a row, as CouchDB answers HEAD as GET without the body', async () => {
  await big.putLocal({ _id: '_local/one' });
  await small.bulkDocs([{ _id: '_design/a' }, { _id: '_design/b' }]);
  const etag = (await request(`${server.url}/big/_changes?limit=1`)).headers.get('etag');
  const paths = [
    ['big/_all_docs?include_docs=true', 'd'],
    ['small/_all_docs?startkey="n0100"', 'd'],
    ['big/_local_docs?include_docs=true', 'l'],
    ['big/_changes?include_docs=true', 's'],
    ['big/_changes?limit=1', 's'],
    ['small/_design_docs?startkey="_design/b"', 'd'],
  ] as const;
  for (const [path, keyspace] of paths) {
    const before = watch.scanned[keyspace] ?? 0;
    const res = await fetch(`${server.url}/${path}`, { method: 'HEAD' });
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, path);
    assert.equal(await res.text(), '', path);
    assert.equal(watch.scanned[keyspace] ?? 0, before, `${path}: no row read`);
    if (path === 'big/_changes?limit=1') assert.equal(res.headers.get('etag'), etag, 'the ETag a GET gets');
  }
  await until(() => watch.openSnapshots === 0);
  // What a GET would refuse, a HEAD is refused too (with no body).
  assert.equal((await fetch(`${server.url}/big/_all_docs?limit=-1`, { method: 'HEAD' })).status, 400);
  assert.equal((await fetch(`${server.url}/nodb/_local_docs`, { method: 'HEAD' })).status, 404);
});

test('a read failing after the first rows went out cuts the answer; the server goes on', async () => {
  let failed = false;
  watch.between = async (space, chunks, range) => {
    if (space !== 'd' || !isListing(range) || chunks !== 5) return;
    failed = true;
    throw new Error('storage failed mid-stream');
  };
  watch.chunk = 50;
  try {
    const res = await fetch(`${server.url}/big/_all_docs?include_docs=true`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  } finally {
    watch.between = undefined;
    watch.chunk = undefined;
  }
  assert.ok(failed);
  await until(() => watch.openSnapshots === 0 && watch.openScans === 0);
  const after = await request(`${server.url}/big/_all_docs?limit=2`);
  assert.equal(after.status, 200);
  assert.equal(after.body.rows.length, 2);
});

test('a read failing before any row went out is an error answer', async () => {
  watch.between = async (space, _chunks, range) => {
    if (space === 'd' && isListing(range)) throw new Error('storage failed at once');
  };
  try {
    const res = await request(`${server.url}/big/_all_docs?include_docs=true`);
    assert.equal(res.status, 500);
    assert.equal(typeof res.body.error, 'string');
  } finally {
    watch.between = undefined;
  }
  await until(() => watch.openSnapshots === 0 && watch.openScans === 0);
});
