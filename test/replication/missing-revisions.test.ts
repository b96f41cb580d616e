// Revisions a source lists in its changes but fails to return (a _bulk_get error entry, an open_revs
// `missing`, no entry at all) are read again and never skipped: a run that cannot get them fails,
// retryably, and its checkpoint stays before them, so the next run brings them.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRefugeError, type Database, type Doc } from '../../src/core.ts';
import { HttpPeer, LocalPeer, isRetryable, replicate, type ReplicationPeer } from '../../src/replication/index.ts';
import { MAX_RESTARTS } from '../../src/replication/replicator.ts';
import { freshDb } from '../helpers/db.ts';
import { startMiniCouch, type MiniCouch } from './helpers/mini-couch.ts';
import { nextEvent } from './helpers/events.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 };

interface Faults {
  /** _bulk_get answers d2 with an error entry. */
  bulkGetError: boolean;
  /** open_revs reads of d2 answer it `missing`. */
  openRevsMissing: boolean;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A source `src` holding d1, d2, d3 behind a server whose reads of d2 fail as `faults` say; a target. */
async function setup(t: TestContext, options: { noBulkGet?: boolean } = {}): Promise<{ server: MiniCouch; src: Database; target: Database; faults: Faults }> {
  const faults: Faults = { bulkGetError: false, openRevsMissing: false };
  let src!: Database;
  const server = await startMiniCouch({
    ...options,
    intercept: (req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (faults.bulkGetError && url.pathname === '/src/_bulk_get') {
        void (async () => {
          const { docs } = JSON.parse(await readBody(req)) as { docs: Array<{ id: string; rev?: string }> };
          const result = await src.bulkGet(docs, { revs: true, latest: true, attachments: true });
          for (const r of result.results) {
            if (r.id !== 'd2') continue;
            r.docs = r.docs.map((d) => ({ error: { id: 'd2', rev: 'ok' in d ? d.ok._rev : d.error.rev, error: 'internal_server_error', reason: 'timeout reading shard' } }));
          }
          answer(res, 200, result);
        })().catch(() => res.destroy());
        return true;
      }
      if (faults.openRevsMissing && url.pathname === '/src/d2' && url.searchParams.has('open_revs')) {
        const revs = JSON.parse(url.searchParams.get('open_revs')!) as string[];
        answer(res, 200, revs.map((rev) => ({ missing: rev })));
        return true;
      }
      return false;
    },
  });
  src = await server.createDb('src');
  const target = await freshDb('memory');
  t.after(async () => {
    await server.close();
    await target.cleanup();
  });
  await src.bulkDocs([{ _id: 'd1', v: 1 }, { _id: 'd2', v: 2 }, { _id: 'd3', v: 3 }]);
  return { server, src, target: target.db, faults };
}

async function ids(db: Database): Promise<string[]> {
  return (await db.allDocs()).rows.map((r) => String(r.id));
}

test('a _bulk_get error entry is read again with open_revs, and the document arrives', async (t) => {
  const { server, target, faults } = await setup(t);
  faults.bulkGetError = true;
  const source = new HttpPeer(`${server.url}/src`);
  const report = await replicate(source, target, { retry: FAST_RETRY }).done;
  assert.equal(report.docsWritten, 3);
  assert.deepEqual(await ids(target), ['d1', 'd2', 'd3']);
  assert.ok(server.requests.some((r) => r.url.startsWith('/src/d2?') && r.url.includes('open_revs')), 'd2 read on its own');
  assert.equal(source.capabilities.bulkGet, true, '_bulk_get still used for the rest');
});

for (const [name, noBulkGet] of [
  ['a _bulk_get error entry, then open_revs `missing`', false],
  ['an open_revs `missing` answer (no _bulk_get)', true],
] as const) {
  test(`a revision the source keeps failing to return (${name}) fails the run, retryably, and is not passed by`, async (t) => {
    const { server, src, target, faults } = await setup(t, { noBulkGet });
    faults.bulkGetError = faults.openRevsMissing = true;
    const peer = () => new HttpPeer(`${server.url}/src`);
    const first = replicate(peer(), target, { retry: FAST_RETRY, batchSize: 1 });
    let retries = 0;
    first.on('retry', (e) => void (/"d2"/.test(e.error.reason) && retries++));
    const err = await first.done.then(() => assert.fail('the run completed without d2'), (e: unknown) => e);
    assert.ok(isRefugeError(err, 'unavailable') && isRetryable(err), String(err));
    assert.match(err.reason, /"d2"/);
    assert.equal(retries, FAST_RETRY.maxAttempts - 1, 'asked again after a wait before failing');
    assert.ok(!(await ids(target)).includes('d2'));
    // The source answers again: the next run, from the checkpoint, brings d2.
    faults.bulkGetError = faults.openRevsMissing = false;
    const second = await replicate(peer(), target, { retry: FAST_RETRY, batchSize: 1 }).done;
    assert.ok(second.docsWritten >= 1);
    assert.deepEqual(await ids(target), ['d1', 'd2', 'd3']);
    assert.deepEqual((await target.get('d2'))._rev, (await src.get('d2'))._rev);
  });
}

/**
 * A continuous replication from a source that fails d2's reads until `recovered` (an event of the
 * replication) has come: then the source answers again, and d2 must arrive.
 */
async function bringsD2Once(t: TestContext, recovered: (rep: ReturnType<typeof replicate>) => Promise<unknown>): Promise<void> {
  const { server, target, faults } = await setup(t);
  faults.bulkGetError = faults.openRevsMissing = true;
  const rep = replicate(new HttpPeer(`${server.url}/src`), target, { continuous: true, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
  t.after(() => rep.cancel());
  await recovered(rep);
  const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d: Doc) => d._id === 'd2'));
  faults.bulkGetError = faults.openRevsMissing = false;
  await arrived;
  rep.cancel();
  assert.equal((await rep.done).status, 'cancelled');
  assert.deepEqual(await ids(target), ['d1', 'd2', 'd3']);
}

test('a continuous replication waits out a revision the source does not return, then brings it', { timeout: 30_000 }, (t) =>
  bringsD2Once(t, (rep) => nextEvent(rep, 'retry', (e) => e.attempt >= 3 && /"d2"/.test(e.error.reason))),
);

test('a document left out of a bulkGet answer altogether is asked for again, not skipped', async (t) => {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  await a.db.bulkDocs([{ _id: 'd1', att: 1 }, { _id: 'd2', att: 2 }]);
  const inner = new LocalPeer(a.db);
  let omit = 1;
  const source: ReplicationPeer = {
    ...wrapPeer(inner),
    // Changes without documents, so every revision goes through bulkGet.
    capabilities: { ...inner.capabilities, changesDocs: false },
    bulkGet: async (requests, options) => {
      const result = await inner.bulkGet(requests, options);
      if (omit-- > 0) result.results = result.results.filter((r) => r.id !== 'd2');
      return result;
    },
  };
  const report = await replicate(source, b.db, { retry: FAST_RETRY }).done;
  assert.equal(report.docsWritten, 2);
  assert.deepEqual(await ids(b.db), ['d1', 'd2']);
});

test('a continuous replication past a revision purged under it starts again from its checkpoint and goes on', { timeout: 30_000 }, async (t) => {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  await a.db.bulkDocs([{ _id: 'd1', v: 1 }, { _id: 'd2', v: 2 }, { _id: 'd3', v: 3 }]);
  const inner = new LocalPeer(a.db);
  let purged = false;
  const source: ReplicationPeer = {
    ...wrapPeer(inner),
    capabilities: { ...inner.capabilities, changesDocs: false },
    // d2 is purged on the source between the changes that list it and its read.
    bulkGet: async (requests, options) => {
      if (!purged && requests.some((r) => r.id === 'd2')) {
        purged = true;
        await a.db.purge({ d2: [(await a.db.get('d2'))._rev!] });
      }
      return inner.bulkGet(requests, options);
    },
  };
  const rep = replicate(source, b.db, { continuous: true, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
  t.after(() => rep.cancel());
  const restarted = nextEvent(rep, 'restart', (e) => isRefugeError(e.error, 'missing_doc'));
  await restarted;
  await nextEvent(rep, 'paused', () => true);
  assert.deepEqual(await ids(b.db), ['d1', 'd3']);
  // And it follows the source on.
  const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d: Doc) => d._id === 'd4'));
  await a.db.put({ _id: 'd4' });
  await arrived;
  rep.cancel();
  assert.equal((await rep.done).status, 'cancelled');
});

// Past the bound on restarts after checkpoint failures: these have none but the retry policy's.
test('a continuous replication goes on starting again, backing off, for as long as the source fails a revision', { timeout: 30_000 }, (t) =>
  bringsD2Once(t, (rep) => nextEvent(rep, 'restart', (e) => isRefugeError(e.error, 'missing_doc') && e.restarts > MAX_RESTARTS + 2)),
);

test('a continuous replication cancelled while it waits to start again ends as cancelled', { timeout: 30_000 }, async (t) => {
  const { server, target, faults } = await setup(t);
  faults.bulkGetError = faults.openRevsMissing = true;
  const rep = replicate(new HttpPeer(`${server.url}/src`), target, { continuous: true, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
  await nextEvent(rep, 'restart', (e) => isRefugeError(e.error, 'missing_doc'));
  // The next wait before a restart is under way as soon as the batch fails again.
  await nextEvent(rep, 'paused', (e) => e.error !== undefined && isRefugeError(e.error, 'missing_doc'));
  rep.cancel();
  assert.equal((await rep.done).status, 'cancelled');
});
