// HttpPeer on the wire: the conformance suite against a minimal CouchDB-style endpoint (always) and
// against Refuge's own HTTP server once src/http exists; plus URL, auth, error and fallback details.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError, type Doc } from '../../src/core.ts';
import { HttpPeer, docPath, isRetryable, replicate, sync } from '../../src/replication/index.ts';
import { freshDb, tempDir } from '../helpers/db.ts';
import { peerConformance, type PeerFixture } from './peer-conformance.ts';
import { answerJson, startMiniCouch } from './helpers/mini-couch.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { nextEvent } from './helpers/events.ts';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { startTestServer } from '../http/server.ts';

let dbCounter = 0;

/** A fixture over any CouchDB-compatible server: creates a database over HTTP, writes over HTTP. */
async function httpFixture(serverUrl: string, close: () => Promise<void>, peerOptions = {}): Promise<PeerFixture> {
  const name = `conf${++dbCounter}`;
  const peer = new HttpPeer(`${serverUrl}/${name}`, peerOptions);
  await peer.createDatabase();
  return {
    peer,
    put: async (doc) => {
      const res = await fetch(`${serverUrl}/${name}/${docPath(doc._id!)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      const body = (await res.json()) as { rev: string };
      assert.ok(res.ok, JSON.stringify(body));
      return body.rev;
    },
    cleanup: close,
  };
}

peerConformance('HttpPeer (mini CouchDB endpoint)', async () => {
  const server = await startMiniCouch();
  return httpFixture(server.url, () => server.close());
});

peerConformance('HttpPeer (mini CouchDB endpoint without _bulk_get)', async () => {
  const server = await startMiniCouch({ noBulkGet: true });
  return httpFixture(server.url, () => server.close());
});

// ---- Refuge's own HTTP server --------------------------------------------------------------------
{
  peerConformance('HttpPeer (Refuge HTTP server)', async () => {
    const dir = await tempDir();
    const node = await openNode({ dataDir: dir.path, engine: 'memory' });
    const server = await startServer({ node, host: '127.0.0.1', port: 0 });
    return httpFixture(server.url.replace(/\/$/, ''), async () => {
      await server.close();
      await node.close();
      await dir.cleanup();
    });
  });

  test('sync through Refuge’s HTTP server: conflicts, deletions, design docs, continuous pick-up', async (t) => {
    const dir = await tempDir();
    const node = await openNode({ dataDir: dir.path, engine: 'memory' });
    const server = await startServer({ node, host: '127.0.0.1', port: 0 });
    const a = await freshDb('memory');
    const c = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await node.close();
      await a.cleanup();
      await c.cleanup();
      await dir.cleanup();
    });
    const remote = new HttpPeer(`${server.url}/hub`);
    const base = await a.db.put({ _id: 'doc', v: 0 });
    await a.db.put({ _id: '_design/app', views: {} });
    const gone = await a.db.put({ _id: 'gone/1' });
    await a.db.remove('gone/1', gone.rev);
    await replicate(a.db, remote, { createTarget: true }).done;
    await replicate(remote, c.db).done;
    await a.db.put({ _id: 'doc', _rev: base.rev, v: 'a' });
    await c.db.put({ _id: 'doc', _rev: base.rev, v: 'c' });
    for (const db of [a.db, c.db]) await sync(db, remote, { batchSize: 1 }).done;
    await sync(a.db, remote).done;
    await assertSameTrees(a.db, c.db);
    assert.equal(((await a.db.get('doc', { conflicts: true }))._conflicts as string[]).length, 1);

    const rep = replicate(remote, c.db, { continuous: true });
    const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d) => d._id === 'late'));
    await a.db.put({ _id: 'late' });
    await replicate(a.db, remote).done;
    await arrived;
    rep.cancel();
    assert.equal((await rep.done).status, 'cancelled');
    await assertSameTrees(a.db, c.db);
  });
}
// pouchdb-server as a peer: test/http/pouchdb-server.test.ts.

// ---- details -------------------------------------------------------------------------------------

describe('HttpPeer details', () => {
  test('doc ids are encoded per segment; _design/ and _local/ keep their slash', () => {
    assert.equal(docPath('a/b c'), 'a%2Fb%20c');
    assert.equal(docPath('_design/x/y'), '_design/x%2Fy');
    assert.equal(docPath('_local/cp'), '_local/cp');
    assert.equal(docPath('é?#'), '%C3%A9%3F%23');
  });

  test('credentials in the URL become a Basic header and leave the URL', async (t) => {
    const server = await startMiniCouch();
    t.after(() => server.close());
    await server.createDb('db');
    const base = new URL(server.url);
    const peer = new HttpPeer(`http://al%40ice:p%3Ass@${base.host}/db/`);
    assert.equal(peer.client.url, `${server.url}/db`);
    assert.equal(await peer.identity(), `${server.url}/db`, 'no secret in the replication id');
    await peer.info();
    const last = server.requests.at(-1)!;
    assert.equal(last.authorization, `Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`);
    assert.equal(last.url, '/db');
  });

  test('server errors map to RefugeError codes; 5xx and network failures are retryable', async (t) => {
    let failWith = 0;
    const server = await startMiniCouch({
      intercept: (_req, res) => {
        if (!failWith) return false;
        return answerJson(res, failWith, { error: failWith === 403 ? 'forbidden' : 'oops', reason: 'said the server' });
      },
    });
    const peer = new HttpPeer(`${server.url}/missing`);
    await assert.rejects(peer.info(), (err) => isRefugeError(err, 'not_found') && !isRetryable(err));
    failWith = 403;
    await assert.rejects(peer.info(), (err) => isRefugeError(err, 'forbidden') && /said the server/.test(err.reason));
    failWith = 502;
    await assert.rejects(peer.info(), (err) => isRefugeError(err, 'unavailable') && err.status === 502 && isRetryable(err));
    await server.close();
    await assert.rejects(peer.info(), (err) => isRefugeError(err, 'unavailable') && isRetryable(err));
  });

  test('a server without _bulk_get is asked once, then read document by document', async (t) => {
    const server = await startMiniCouch({ noBulkGet: true });
    t.after(() => server.close());
    const db = await server.createDb('db');
    const a = await db.put({ _id: 'a' });
    await db.put({ _id: 'b/c' });
    const peer = new HttpPeer(`${server.url}/db`);
    assert.equal(peer.capabilities.bulkGet, true);
    const first = await peer.bulkGet([{ id: 'a', rev: a.rev }, { id: 'b/c' }], { revs: true, latest: true });
    assert.deepEqual(first.results.map((r) => ('ok' in r.docs[0]! ? r.docs[0].ok._id : 'error')), ['a', 'b/c']);
    assert.equal(peer.capabilities.bulkGet, false);
    await peer.bulkGet([{ id: 'a', rev: a.rev }], { revs: true, latest: true });
    assert.equal(server.requests.filter((r) => r.url.startsWith('/db/_bulk_get')).length, 1);
  });

  test('404s from a source that has the revisions never let a checkpoint pass them by', async (t) => {
    // A burst of 404s (a proxy in trouble, a database being recreated): first _bulk_get, then the
    // open_revs reads the replicator falls back to. A server lacking revisions answers 200.
    let notFound = 0;
    const server = await startMiniCouch({
      intercept: (req, res) => {
        const path = req.url!.split('?')[0]!;
        const read = path === '/src/_bulk_get' || (req.method === 'GET' && /^\/src\/d\d+$/.test(path));
        if (!read || notFound <= 0) return false;
        notFound--;
        return answerJson(res, 404, { error: 'not_found', reason: 'Database does not exist.' });
      },
    });
    const target = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await target.cleanup();
    });
    const src = await server.createDb('src');
    await src.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}`, n: i })));
    notFound = 1 + 20;
    const first = await replicate(new HttpPeer(`${server.url}/src`), target.db, { batchSize: 5 }).done.catch((err: Error) => err);
    const written = (await target.db.info()).docCount;
    if (!(first instanceof Error)) assert.equal(written, 20, 'a run that ends well wrote everything it passed');
    // The link is well again: a second run brings everything the first did not.
    notFound = 0;
    await replicate(new HttpPeer(`${server.url}/src`), target.db, { batchSize: 5 }).done;
    assert.equal((await target.db.info()).docCount, 20);
    await assertSameTrees(src, target.db);
  });

  test('replication local → HTTP (created target) → local gives identical trees', async (t) => {
    const server = await startMiniCouch({ noBulkGet: true });
    const a = await freshDb('memory');
    const c = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await a.cleanup();
      await c.cleanup();
    });
    const r1 = await a.db.put({ _id: 'x/1', v: 1 });
    await a.db.put({ _id: 'x/1', _rev: r1.rev, v: 2 });
    await a.db.put({ _id: '_design/app', views: {} });
    const gone = await a.db.put({ _id: 'gone' });
    await a.db.remove('gone', gone.rev);
    const remote = new HttpPeer(`${server.url}/middle`);
    const push = await replicate(a.db, remote, { createTarget: true, batchSize: 2 }).done;
    assert.equal(push.docsWritten, 3);
    const pull = await replicate(remote, c.db).done;
    assert.equal(pull.docsWritten, 3);
    await assertSameTrees(a.db, c.db);
    await assertSameTrees(a.db, server.dbs.get('middle')!);
    const checkpoint = (await remote.getLocal(`_local/${push.replicationId}`)) as Doc;
    assert.equal(checkpoint.session_id, push.sessionId);
  });

  test('documents with large attachments go as multipart/related PUTs, past the target\'s body limit', async (t) => {
    const dir = await tempDir();
    const node = await openNode({ dataDir: dir.path, engine: 'memory' });
    const server = await startServer({ node, host: '127.0.0.1', port: 0, bodyLimit: 1024 * 1024 });
    const url = server.url.replace(/\/$/, '');
    const a = await freshDb('memory');
    const back = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await node.close();
      await dir.cleanup();
      await a.cleanup();
      await back.cleanup();
    });
    const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 10)) & 255));
    const big = bytes(3 * 1024 * 1024, 7);
    const mid = bytes(300 * 1024, 3);
    await a.db.put({ _id: 'big', kind: 'video', _attachments: { 'v.bin': { content_type: 'video/mp4', data: big.toString('base64') }, 'n.txt': { content_type: 'text/plain', data: btoa('note') } } });
    const first = await a.db.put({ _id: 'mid', _attachments: { 'm.bin': { content_type: 'application/octet-stream', data: mid.toString('base64') } } });
    // A second revision that keeps the attachment: replicated, it carries its bytes again.
    await a.db.put({ _id: 'mid', _rev: first.rev, edited: true, _attachments: { 'm.bin': { stub: true } } });
    await a.db.put({ _id: 'refused', reject: true, _attachments: { 'r.bin': { content_type: 'application/octet-stream', data: mid.toString('base64') } } });
    await a.db.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `small${i}`, _attachments: { 's.txt': { content_type: 'text/plain', data: btoa(`small ${i}`) } } })));
    await fetch(`${url}/target`, { method: 'PUT' });
    // A validation function on the target refuses one document: its PUT is that document's failure.
    const vdu = await fetch(`${url}/target/_design/guard`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ validate_doc_update: 'function (doc) { if (doc.reject) throw({ forbidden: "no thanks" }); }' }),
    });
    assert.equal(vdu.status, 201, 'the validation function is written');
    const sent: string[] = [];
    const recording: typeof fetch = (input, init) => {
      const type = new Headers(init?.headers).get('content-type') ?? '';
      sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname} ${type.split(';')[0]}`);
      return fetch(input, init);
    };
    const report = await replicate(a.db, new HttpPeer(`${url}/target`, { fetch: recording })).done;
    assert.equal(report.docWriteFailures, 1, `one refusal: ${JSON.stringify(report)}`);
    assert.equal(report.docsWritten, 7, 'big, mid and the 5 small ones');
    assert.deepEqual(sent.filter((line) => line.startsWith('PUT /target/') && !line.includes('/_local/')).sort(), ['PUT /target/big multipart/related', 'PUT /target/mid multipart/related', 'PUT /target/refused multipart/related']);
    assert.ok(sent.some((line) => line === 'POST /target/_bulk_docs application/json'), 'small documents go together');
    const target = await node.db('target');
    await assert.rejects(target.get('refused'), (err) => isRefugeError(err, 'not_found'), 'the refused document is not there');
    const readFrom = async (db: typeof target, id: string, name: string) => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of (await db.getAttachment(id, name)).read) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    const read = (id: string, name: string) => readFrom(target, id, name);
    assert.ok((await read('big', 'v.bin')).equals(big), 'the large attachment arrives byte for byte');
    assert.equal((await read('big', 'n.txt')).toString(), 'note', 'and its small sibling');
    assert.ok((await read('mid', 'm.bin')).equals(mid), 'an attachment kept by a later revision');
    assert.equal(((await target.get('big'))._attachments as Record<string, { content_type: string }>)['v.bin']!.content_type, 'video/mp4', 'the type travels in the JSON part');

    // Node's own transport streams the bytes from the source's blob store (the fetch above is
    // handed the body whole).
    const streamed = await replicate(a.db, `${url}/target2`, { createTarget: true }).done;
    assert.equal(streamed.docWriteFailures, 0, JSON.stringify(streamed));
    const target2 = await node.db('target2');
    await assertSameTrees(a.db, target2);
    assert.ok((await readFrom(target2, 'big', 'v.bin')).equals(big), 'streamed byte for byte');

    // Back from the target: the same trees.
    const pulled = await replicate(`${url}/target`, back.db).done;
    assert.equal(pulled.docWriteFailures, 0, JSON.stringify(pulled));
    await assertSameTrees(target, back.db);
    assert.equal((await back.db.get('mid')).edited, true, 'the second revision came back');
  });

  test('from a server, large attachments are read one by one as they are written, small ones inline', async (t) => {
    const server = await startTestServer();
    const { node } = server;
    const url = server.url.replace(/\/$/, '');
    const local = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await local.cleanup();
    });
    const src = await node.createDb('src');
    const big = Buffer.from(Array.from({ length: 2 * 1024 * 1024 }, (_, i) => (i * 11 + (i >> 11)) & 255));
    await src.put({ _id: 'big', _attachments: { 'v/1.bin': { content_type: 'video/mp4', data: big.toString('base64') }, 'n.txt': { content_type: 'text/plain', data: btoa('note') } } });
    await src.put({ _id: 'small', _attachments: { 's.txt': { content_type: 'text/plain', data: btoa('small one') } } });
    await src.put({ _id: 'plain', n: 1 });
    const sent: string[] = [];
    const recording: typeof fetch = (input, init) => {
      const u = new URL(String(input));
      sent.push(`${init?.method ?? 'GET'} ${decodeURIComponent(u.pathname)}${u.searchParams.has('attachments') ? ' with data' : ''}`);
      return fetch(input, init);
    };
    const report = await replicate(new HttpPeer(`${url}/src`, { fetch: recording }), local.db).done;
    assert.equal(report.docsWritten, 3, JSON.stringify(report));
    await assertSameTrees(src, local.db);
    const read = async (db: typeof src, id: string, name: string) => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of (await db.getAttachment(id, name)).read) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    assert.ok((await read(local.db, 'big', 'v/1.bin')).equals(big), 'the large attachment, byte for byte');
    assert.equal((await read(local.db, 'small', 's.txt')).toString(), 'small one');
    const reads = sent.filter((line) => line.includes('_bulk_get') || line.startsWith('GET /src/big/'));
    assert.deepEqual(reads.sort(), ['GET /src/big/n.txt', 'GET /src/big/v/1.bin', 'POST /src/_bulk_get', 'POST /src/_bulk_get with data'], 'stubs first; the small document again with data; the large one attachment by attachment');

    // Server to server: each large attachment streams from one to the other, in a multipart PUT.
    sent.length = 0;
    const copy = await replicate(new HttpPeer(`${url}/src`, { fetch: recording }), new HttpPeer(`${url}/copy`, { fetch: recording }), { createTarget: true }).done;
    assert.equal(copy.docsWritten, 3, JSON.stringify(copy));
    assert.deepEqual(sent.filter((line) => line.startsWith('GET /src/big/') || line.startsWith('PUT /copy/big')).sort(), ['GET /src/big/n.txt', 'GET /src/big/v/1.bin', 'PUT /copy/big']);
    await assertSameTrees(src, await node.db('copy'));

    // Into a database whose store holds the blobs already: still read, never named by hash alone.
    sent.length = 0;
    const held = await node.createDb('held');
    const named = await replicate(new HttpPeer(`${url}/src`, { fetch: recording }), held).done;
    assert.equal(named.docsWritten, 3, JSON.stringify(named));
    assert.deepEqual(sent.filter((line) => line.startsWith('GET /src/big/')).sort(), ['GET /src/big/n.txt', 'GET /src/big/v/1.bin'], 'each attachment read from the source');
    assert.ok((await read(held, 'big', 'v/1.bin')).equals(big), 'the same bytes');
  });

  test('a server cannot attach bytes it does not send by naming their hash', async (t) => {
    const secret = Buffer.from(Array.from({ length: 1100 * 1024 }, (_, i) => (i * 17 + (i >> 10)) & 255));
    const local = await freshDb('memory');
    // The target holds a secret blob; the server knows its id (a SHA-256 of bytes it may guess).
    await local.db.put({ _id: 'secret', _attachments: { 's.bin': { content_type: 'application/octet-stream', data: secret.toString('base64') } } });
    const digest = ((await local.db.get('secret'))._attachments as Record<string, { digest: string }>)['s.bin']!.digest;
    let evilRev = '';
    const server = await startMiniCouch({
      intercept: (req, res) => {
        const path = new URL(req.url!, 'http://x').pathname;
        if (path === '/src/_bulk_get') {
          req.resume();
          const ok = { _id: 'evil', _rev: evilRev, _revisions: { start: 1, ids: [evilRev.slice(2)] }, _attachments: { 'x.bin': { stub: true, content_type: 'application/octet-stream', digest, length: secret.length, revpos: 1 } } };
          return answerJson(res, 200, { results: [{ id: 'evil', docs: [{ ok }] }] });
        }
        if (path === '/src/evil/x.bin') {
          return answerJson(res, 404, { error: 'not_found', reason: 'missing' });
        }
        return false;
      },
    });
    t.after(async () => {
      await server.close();
      await local.cleanup();
    });
    evilRev = (await (await server.createDb('src')).put({ _id: 'evil' })).rev;
    const report = await replicate(new HttpPeer(`${server.url}/src`), local.db).done;
    assert.equal(report.docWriteFailures, 1, JSON.stringify(report));
    await assert.rejects(local.db.get('evil'), (err) => isRefugeError(err, 'not_found'), 'not written with the secret attached');
  });

  test('a server that refuses multipart/related (415) gets those documents in _bulk_docs', async (t) => {
    let refused = 0;
    const server = await startMiniCouch({
      intercept: (req, res) => {
        if (req.method !== 'PUT' || !String(req.headers['content-type']).startsWith('multipart/related')) return false;
        refused++;
        req.resume();
        return answerJson(res, 415, { error: 'bad_content_type', reason: 'Content-Type must be application/json' });
      },
    });
    const a = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await a.cleanup();
    });
    const data = Buffer.alloc(400 * 1024, 9).toString('base64');
    for (let i = 0; i < 3; i++) await a.db.put({ _id: `big${i}`, _attachments: { 'b.bin': { content_type: 'application/octet-stream', data } } });
    const report = await replicate(a.db, new HttpPeer(`${server.url}/copy`), { createTarget: true }).done;
    assert.equal(report.docWriteFailures, 0, JSON.stringify(report));
    assert.equal(report.docsWritten, 3);
    assert.equal(refused, 1, 'asked once, then JSON only');
    await assertSameTrees(a.db, server.dbs.get('copy')!);
  });

  test('continuous over HTTP survives dropped connections and cancels a pending long-poll', async (t) => {
    let changesRequests = 0;
    const server = await startMiniCouch({
      intercept: (req) => {
        if (!req.url!.includes('/_changes') || ++changesRequests % 3 !== 0) return false;
        req.socket.destroy();
        return true;
      },
    });
    const local = await freshDb('memory');
    t.after(async () => {
      await server.close();
      await local.cleanup();
    });
    const remote = await server.createDb('db');
    const rep = replicate(new HttpPeer(`${server.url}/db`), local.db, {
      continuous: true,
      longpollTimeoutMs: 600_000,
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
    });
    let retries = 0;
    rep.on('retry', () => retries++);
    let caughtUp: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < 4; i++) {
      const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d) => d._id === `doc${i}`));
      if (i === 3) caughtUp = nextEvent(rep, 'paused', (p) => p.error === undefined && p.docsWritten === 4);
      await remote.put({ _id: `doc${i}`, i });
      await arrived;
    }
    assert.ok(retries >= 1, `retried ${retries} times`);
    // Caught up: the replicator now waits in a long-poll that only cancel can end.
    await caughtUp;
    rep.cancel();
    assert.equal((await rep.done).status, 'cancelled');
    await assertSameTrees(remote, local.db);
  });
});
