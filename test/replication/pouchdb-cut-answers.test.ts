// PouchDB (its http adapter, node-fetch 2) replicating with a Refuge server through a link that
// resets mid-answer or mid-upload: with retry it must notice the cut, retry and converge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../http/server.ts';
import { localPouch, PouchDB, revisionTrees, type Pouch } from '../http/pouchdb.ts';
import { resettingProxy, type CutRule, type ProxiedRequest, type ResettingProxy } from './helpers/resetting-proxy.ts';

const ATTACHMENT_BYTES = 200_000;
const DOCS = 6;
// PouchDB's retry waits grow to minutes; a short fixed wait keeps the test quick.
const BACK_OFF = () => 20;

interface Setup {
  server: TestServer;
  proxy: ResettingProxy;
  local: Pouch;
  /** The server's database, reached directly (not through the proxy). */
  direct: Pouch;
  /** The same database through the proxy. */
  proxied: Pouch;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<Setup> {
  const server = await startTestServer();
  const proxy = await resettingProxy(Number(new URL(server.url).port));
  const pouch = await localPouch();
  const local = new pouch.Local('local');
  t.after(async () => {
    await local.close();
    await proxy.close();
    await server.close();
    await pouch.cleanup();
  });
  const direct = new PouchDB(`${server.url}/db`);
  const proxied = new PouchDB(`http://127.0.0.1:${proxy.port}/db`);
  return { server, proxy, local, direct, proxied };
}

function docsWithAttachments(prefix: string): Array<Record<string, unknown>> {
  return Array.from({ length: DOCS }, (_, i) => ({
    _id: `${prefix}${i}`,
    n: i,
    _attachments: { 'blob.bin': { content_type: 'application/octet-stream', data: Buffer.alloc(ATTACHMENT_BYTES, i + 1).toString('base64') } },
  }));
}

/**
 * Waits for the replication to end (one-shot) or to pause caught up (live), failing with the
 * proxy's request log if it neither ends nor errors in time: a hang is the failure looked for.
 */
function settled(rep: Pouch, proxy: ResettingProxy, live: boolean, caughtUp: () => Promise<boolean>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const log = proxy.requests.map((r) => `${r.method} ${r.url} ${r.answered}${r.cut ? ' CUT' : ''}`).join('\n');
      reject(new Error(`replication neither ended nor failed in time; requests:\n${log}`));
      // Cancelling emits 'complete', which must not pass for an end.
      rep.cancel();
    }, 15_000);
    const done = (err?: unknown) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    rep.on('complete', () => done());
    rep.on('error', (err: unknown) => done(err));
    if (live) {
      // A live replication pauses without an error once caught up (with one after a failure).
      rep.on('paused', (err: unknown) => {
        if (err) return;
        void caughtUp().then((yes) => {
          if (!yes) return;
          rep.cancel();
          done();
        }, done);
      });
    }
  });
}

/** Attachment digests are left out: Refuge names an attachment by its SHA-256 (its blob id), PouchDB by MD5. */
const withoutDigests = (trees: Record<string, unknown>) =>
  JSON.parse(JSON.stringify(trees, (key, value: unknown) => (key === 'digest' ? undefined : value))) as Record<string, unknown>;

async function sameTrees(a: Pouch, b: Pouch): Promise<void> {
  const [ta, tb] = await Promise.all([revisionTrees(a), revisionTrees(b)]);
  assert.equal(Object.keys(ta).length, DOCS);
  assert.deepEqual(withoutDigests(ta), withoutDigests(tb));
  const bytes = await Promise.all([a, b].map((db) => db.getAttachment('d3', 'blob.bin')));
  for (const b of bytes) assert.deepEqual(Buffer.from(b as Buffer), Buffer.alloc(ATTACHMENT_BYTES, 4));
}

/** `again` tells the request that reads again what the cut one had not delivered. */
async function pullThroughCut(t: { after: (fn: () => Promise<void>) => void }, rule: CutRule, again: (r: ProxiedRequest) => boolean, live = false): Promise<Setup> {
  const s = await setup(t);
  await s.direct.bulkDocs(docsWithAttachments('d'));
  const cut = s.proxy.cut(rule);
  const rep = s.local.replicate.from(s.proxied, { retry: true, live, back_off_function: BACK_OFF });
  const caughtUp = async () => (await s.local.info()).doc_count === DOCS;
  await settled(rep, s.proxy, live, caughtUp);
  const cutRequest = await cut;
  assert.ok(cutRequest.answered > cutRequest.head!, 'the answer was cut after its head, mid-body');
  const after = s.proxy.requests.slice(s.proxy.requests.indexOf(cutRequest) + 1);
  assert.ok(after.some(again), 'what the cut answer held was asked again');
  await sameTrees(s.local, s.direct);
  return s;
}

const changesCut: CutRule = { match: (m, url) => m === 'GET' && url.includes('/_changes?'), afterBodyBytes: 40 };
const bulkGetCut: CutRule = { match: (m, url) => m === 'POST' && url.includes('/_bulk_get?'), afterBodyBytes: 100 };
const changesAgain = (r: ProxiedRequest) => r.url.includes('/_changes?');
// PouchDB takes any failed first _bulk_get for "not supported" and reads each document instead.
const docsAgain = (r: ProxiedRequest) => r.url.includes('/_bulk_get?') || r.url.includes('open_revs=');

test('PouchDB pull with retry: a _changes answer reset mid-body is retried, and the replicas converge', async (t) => {
  await pullThroughCut(t, changesCut, changesAgain);
});

test('PouchDB live pull with retry: a _changes answer reset mid-body is retried, and the replicas converge', async (t) => {
  await pullThroughCut(t, changesCut, changesAgain, true);
});

test('PouchDB pull with retry: a _bulk_get answer reset mid-body is retried, and the replicas converge', async (t) => {
  await pullThroughCut(t, bulkGetCut, docsAgain);
});

test('PouchDB pull with retry: after a cut _bulk_get, a document read by open_revs and reset mid-body is retried, and the replicas converge', async (t) => {
  const openRevsCut: CutRule = { match: (m, url) => m === 'GET' && url.includes('open_revs='), afterBodyBytes: 100 };
  // PouchDB reads documents one by one (open_revs) once a _bulk_get failed: the second cut lands there.
  const s = await pullThroughCut(t, { ...bulkGetCut, then: openRevsCut }, docsAgain);
  const cuts = s.proxy.requests.filter((r) => r.cut);
  assert.equal(cuts.length, 2);
  assert.match(cuts[1]!.url, /open_revs=/);
});

test('PouchDB push with retry: a _bulk_docs upload reset mid-body is retried, and the replicas converge', async (t) => {
  const s = await setup(t);
  await s.local.bulkDocs(docsWithAttachments('d'));
  // A second revision on one document and a conflict on another: trees, not just winners, must match.
  const d1 = await s.local.get('d1');
  await s.local.put({ ...d1, n: 'edited' });
  await s.local.bulkDocs([{ _id: 'd2', _rev: '1-00000000000000000000000000000000', n: 'branch' }], { new_edits: false });
  const cut = s.proxy.cut({ match: (m, url) => m === 'POST' && url.includes('/_bulk_docs'), afterRequestBytes: 300_000 });
  const rep = s.local.replicate.to(s.proxied, { retry: true, back_off_function: BACK_OFF });
  await settled(rep, s.proxy, false, async () => true);
  assert.equal((await cut).cut, true, 'the cut happened');
  await sameTrees(s.local, s.direct);
});
