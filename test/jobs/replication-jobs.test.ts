// Replication jobs on a node: POST /_replicate (one-shot, continuous, cancel), `_active_tasks`,
// `_replicator` documents that restart with the node and resume from their checkpoints, and the
// scheduler's view of them (`_scheduler/docs`, `_scheduler/jobs`).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Database } from '../../src/documents/index.ts';
import { startServer } from '../../src/http/index.ts';
import { describeEndpoint, parseSpec, refusedReplicatorDoc, ReplicationJobs } from '../../src/jobs/index.ts';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';

/** Resolves once `id` is readable in `db`, driven by the changes feed (no polling). */
async function waitForDoc(db: Database, id: string): Promise<void> {
  const ac = new AbortController();
  try {
    for await (const batch of db.subscribe({ signal: ac.signal, docIds: [id] })) {
      if (batch.some((r) => r.id === id)) return;
    }
  } finally {
    ac.abort();
  }
}

/** The first version of `id` in `db` that satisfies `ok`, driven by the changes feed (no polling). */
async function docWith(db: Database, id: string, ok: (doc: Record<string, any>) => boolean): Promise<Record<string, any>> {
  const ac = new AbortController();
  try {
    for await (const batch of db.subscribe({ signal: ac.signal, docIds: [id], includeDocs: true })) {
      for (const row of batch) if (row.doc && ok(row.doc)) return row.doc;
    }
  } finally {
    ac.abort();
  }
  throw new Error(`the feed of ${id} ended`);
}

/** Listens on a free loopback port until the test ends (connections cut then). */
async function onLoopback(t: TestContext, server: ReturnType<typeof createServer>): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
}

/** A source database `slow` whose changes feed never answers; `asked` resolves once it is read. */
async function stalledSource(t: TestContext): Promise<{ url: string; asked: Promise<void> }> {
  let changesAsked!: () => void;
  const asked = new Promise<void>((resolve) => (changesAsked = resolve));
  const stalled = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0]!;
    res.setHeader('content-type', 'application/json');
    if (path === '/slow') return void res.end(JSON.stringify({ db_name: 'slow', update_seq: 3, doc_count: 3, instance_start_time: '0' }));
    if (path === '/slow/_changes') return void changesAsked();
    res.statusCode = 404;
    res.end(JSON.stringify({ error: 'not_found', reason: 'missing' }));
  });
  await onLoopback(t, stalled);
  return { url: `http://127.0.0.1:${(stalled.address() as { port: number }).port}/slow`, asked };
}

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** A memory node behind its HTTP server (replication jobs on), both closed after the test. */
async function memoryNodeServer(t: TestContext) {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  return { node, srv };
}

const json = (url: string, method: string, body?: unknown) =>
  fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

test('POST /_replicate one-shot, continuous, _active_tasks and cancel', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const a = await node.createDb('a');
  await a.bulkDocs([{ _id: 'x', v: 1 }, { _id: 'y', v: 2 }]);
  const one = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'b', create_target: true });
  assert.equal(one.status, 200);
  const report = (await one.json()) as { ok: boolean; docs_written: number; session_id: string; history: Array<{ session_id: string; start_time: string }> };
  assert.equal(report.ok, true);
  assert.equal(report.docs_written, 2);
  assert.equal((await (await node.db('b')).info()).docCount, 2);
  const firstSession = report;
  // Checkpoint times as CouchDB writes them (RFC 1123).
  assert.match(firstSession.history[0]!.start_time, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  const nothing = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'b' });
  const nothingBody = (await nothing.json()) as { ok: boolean; no_changes?: boolean; session_id: string; history: Array<{ session_id: string }> };
  assert.equal(nothingBody.no_changes, true, 'nothing new: CouchDB answers no_changes');
  // With the checkpoint it resumed from: the first session's.
  assert.equal(nothingBody.session_id, firstSession.session_id);
  assert.equal(nothingBody.history[0]!.session_id, firstSession.session_id);
  await node.createDb('empty-src');
  assert.deepEqual(await (await json(srv.url + '/_replicate', 'POST', { source: 'empty-src', target: 'empty-dst', create_target: true })).json(), { ok: true, no_changes: true });
  // use_checkpoints: false writes none, and says so.
  const unchecked = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'unchecked', create_target: true, use_checkpoints: false });
  assert.deepEqual(await unchecked.json(), { ok: true, use_checkpoints: false });
  assert.equal((await (await node.db('unchecked')).info()).docCount, 2);
  assert.deepEqual((await (await node.db('unchecked')).localDocs({})).map((r) => r.id).filter((id) => id !== '_local/refuge-replication-identity'), [], 'no checkpoint');

  const cont = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/a', target: 'c', create_target: true, continuous: true });
  assert.equal(cont.status, 202);
  // The id answered is the job's (CouchDB's `<id>+continuous+create_target`), the same on a repeated
  // request, and the one _active_tasks shows.
  const localId = ((await cont.json()) as { _local_id: string })._local_id;
  assert.match(localId, /^[0-9a-f]{32}\+continuous\+create_target$/);
  const repeat = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/a', target: 'c', create_target: true, continuous: true });
  assert.equal(((await repeat.json()) as { _local_id: string })._local_id, localId);
  const tasks = (await (await fetch(srv.url + '/_active_tasks')).json()) as Array<{ type: string; continuous: boolean; replication_id: string; through_seq: unknown; checkpoint_interval: unknown; user: unknown }>;
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.user, null, "the server admin's job");
  assert.equal(tasks[0]!.continuous, true);
  assert.equal(tasks[0]!.replication_id, localId);
  // What CouchDB's clients wait on: every change up to through_seq is written.
  assert.equal(typeof tasks[0]!.through_seq, 'number');
  assert.equal(typeof tasks[0]!.checkpoint_interval, 'number');
  const c = await node.db('c');
  await a.put({ _id: 'later' });
  await waitForDoc(c, 'later');
  // Cancelling names the same replication: without continuous it is another one (404).
  const other = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/a', target: 'c', cancel: true });
  assert.equal(other.status, 404);
  const cancel = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/a', target: 'c', continuous: true, cancel: true });
  assert.equal(cancel.status, 200);
  assert.deepEqual(await cancel.json(), { ok: true, _local_id: localId });
  assert.deepEqual(await (await fetch(srv.url + '/_active_tasks')).json(), []);
  const again = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/a', target: 'c', continuous: true, cancel: true });
  assert.equal(again.status, 404);
  // By the id answered, too.
  const byId = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'd', create_target: true, continuous: true });
  const dId = ((await byId.json()) as { _local_id: string })._local_id;
  const cancelById = await json(srv.url + '/_replicate', 'POST', { replication_id: dId, cancel: true });
  assert.deepEqual(await cancelById.json(), { ok: true, _local_id: dId });
  assert.deepEqual(await (await fetch(srv.url + '/_active_tasks')).json(), []);
  // And under CouchDB's two other names for it: the `_local_id` the start answered, and `id`.
  for (const key of ['_local_id', 'id']) {
    const started = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'd', continuous: true });
    const startedId = ((await started.json()) as { _local_id: string })._local_id;
    const cancelled = await json(srv.url + '/_replicate', 'POST', { [key]: startedId, cancel: true });
    assert.deepEqual([cancelled.status, await cancelled.json()], [200, { ok: true, _local_id: startedId }], key);
    assert.deepEqual(await (await fetch(srv.url + '/_active_tasks')).json(), [], key);
  }
  // A continuous replication from a missing database fails the request, as a one-shot does.
  const missingContinuous = await json(srv.url + '/_replicate', 'POST', { source: 'nope', target: 'c', continuous: true });
  assert.equal(missingContinuous.status, 404);
  const bad = await json(srv.url + '/_replicate', 'POST', { source: 42, target: 'c' });
  assert.equal(bad.status, 400);
  const missing = await json(srv.url + '/_replicate', 'POST', { source: 'nope', target: 'c' });
  assert.equal(missing.status, 404);
  const missingBody = (await missing.json()) as { error: string; reason: string };
  assert.equal(missingBody.error, 'db_not_found', missingBody.reason);
  const remoteMissing = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/nope', target: 'c' });
  const remoteBody = (await remoteMissing.json()) as { error: string; reason: string };
  assert.equal(remoteBody.error, 'db_not_found', remoteBody.reason);
  assert.equal((await fetch(srv.url + '/_replicate')).status, 405);
  // doc_ids are unquoted, as CouchDB does.
  await a.put({ _id: '_design/q' });
  const byIds = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'ids', create_target: true, doc_ids: ['_design%2Fq', 'x'] });
  const byIdsBody = (await byIds.json()) as { docs_written: number; start_time: string; end_time: string };
  assert.equal(byIdsBody.docs_written, 2);
  // CouchDB names when a replication by doc_ids ran.
  assert.match(byIdsBody.start_time, / GMT$/);
  assert.match(byIdsBody.end_time, / GMT$/);
  assert.deepEqual((await (await node.db('ids')).allDocs()).rows.map((r) => r.id), ['_design/q', 'x']);
});

test('_replicator jobs restart with the node and resume from their checkpoint', async (t) => {
  const dir = await tempDir('refuge-jobs-');
  t.after(dir.cleanup);
  let node = await openNode({ dataDir: dir.path });
  let srv = await startServer({ node, port: 0 });
  const src = await node.createDb('src');
  await src.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}` })));
  const dstDb = await node.createDb('dst');
  const put = await json(srv.url + '/_replicator/mirror', 'PUT', { source: 'src', target: 'dst', create_target: true, continuous: true });
  assert.equal(put.status, 201);
  await waitForDoc(dstDb, 'd49');
  await srv.close();
  await node.close();

  // While the node is down, the source changes.
  node = await openNode({ dataDir: dir.path });
  await (await node.db('src')).put({ _id: 'while-down' });
  srv = await startServer({ node, port: 0 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  const dst = await node.db('dst');
  await waitForDoc(dst, 'while-down');
  assert.equal((await dst.info()).docCount, 51);
  // The job resumed from its checkpoint: it read only the one change made while it was down.
  const tasks = (await (await fetch(srv.url + '/_active_tasks')).json()) as Array<{ doc_id: string; docs_read: number }>;
  assert.equal(tasks[0]!.doc_id, 'mirror');
  assert.equal(tasks[0]!.docs_read, 1);
});

test('_scheduler/docs and _scheduler/jobs: running, completed and failed _replicator documents', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  const src = await node.createDb('src');
  await src.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}` })));
  const guard = AbortSignal.timeout(30_000); // against a hang only: every wait ends on a state change
  assert.equal((await json(srv.url + '/_replicator/live', 'PUT', { source: 'src', target: 'live-dst', create_target: true, continuous: true })).status, 201);
  assert.equal((await json(srv.url + '/_replicator/once', 'PUT', { source: 'src', target: 'once-dst', create_target: true })).status, 201);
  // A document no one could run is refused when written (CouchDB 3.3's before_doc_update), and not stored.
  for (const bad of [{ source: 42, target: 'x' }, { target: 'x' }, { source: 'src', target: 'x', continuous: 'yes' }, { source: 'src', target: 'x', doc_ids: 'a' }]) {
    const refused = await json(srv.url + '/_replicator/bad', 'PUT', bad);
    assert.deepEqual([refused.status, ((await refused.json()) as { error: string }).error], [403, 'forbidden'], JSON.stringify(bad));
    assert.equal((await fetch(srv.url + '/_replicator/bad')).status, 404);
  }
  await jobs.whenDoc('live', 'running', guard);
  // One that can run fails when it starts: the same replication as `live`.
  const twin = { source: 'src', target: 'live-dst', create_target: true, continuous: true };
  assert.equal((await json(srv.url + '/_replicator/broken', 'PUT', twin)).status, 201);
  await Promise.all([jobs.whenDoc('once', 'completed', guard), jobs.whenDoc('broken', 'failed', guard)]);
  // As CouchDB, the outcome is also written into the documents (a running job's is not).
  const repl = await node.db('_replicator');
  const once = await docWith(repl, 'once', (d) => d._replication_state === 'completed');
  assert.match(once._replication_state_time, ISO_SECONDS);
  assert.equal(once._replication_stats.docs_written, 20);
  assert.equal(once._replication_stats.missing_revisions_found, 20);
  assert.match(once._replication_stats.start_time, ISO_SECONDS);
  const broken = await docWith(repl, 'broken', (d) => d._replication_state === 'failed');
  assert.match(broken._replication_state_reason, /already started/);
  assert.equal((await repl.get('live'))._replication_state, undefined);

  const docs = (await (await fetch(srv.url + '/_scheduler/docs')).json()) as { total_rows: number; docs: Array<Record<string, any>> };
  assert.equal(docs.total_rows, 3);
  assert.deepEqual(docs.docs.map((d) => [d.doc_id, d.state, d.database]), [['broken', 'failed', '_replicator'], ['live', 'running', '_replicator'], ['once', 'completed', '_replicator']]);
  assert.match(String(docs.docs[0]!.info.error), /already started/);
  assert.equal(docs.docs[1]!.source, 'src');
  assert.match(docs.docs[1]!.last_updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const one = await (await fetch(srv.url + '/_scheduler/docs/_replicator/live')).json() as Record<string, any>;
  assert.equal(one.state, 'running');
  assert.equal(typeof one.info.docs_written, 'number');
  assert.equal((await fetch(srv.url + '/_scheduler/docs/_replicator/nope')).status, 404);

  const running = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { total_rows: number; jobs: Array<Record<string, any>> };
  assert.equal(running.total_rows, 1);
  assert.equal(running.jobs[0]!.doc_id, 'live');
  assert.equal(running.jobs[0]!.database, '_replicator');
  assert.equal((await (await fetch(srv.url + '/_scheduler/docs?limit=1&skip=2')).json() as { docs: Array<{ doc_id: string }> }).docs[0]!.doc_id, 'once');
  // states= filters, as CouchDB's scheduler does; one job by its id.
  const filtered = (await (await fetch(srv.url + '/_scheduler/docs?states=running,failed')).json()) as { docs: Array<{ doc_id: string }> };
  assert.deepEqual(filtered.docs.map((d) => d.doc_id), ['broken', 'live']);
  assert.equal((await fetch(srv.url + '/_scheduler/docs?states=bogus')).status, 400);
  // Ids are CouchDB's, suffixes included; a job is found by it or by the bare replication id.
  assert.match(running.jobs[0]!.id, /^[0-9a-f]{32}\+continuous\+create_target$/);
  assert.deepEqual(running.jobs[0]!.history.map((h: { type: string }) => h.type), ['started', 'added']);
  for (const id of [running.jobs[0]!.id, running.jobs[0]!.id.split('+')[0]]) {
    const job = await fetch(`${srv.url}/_scheduler/jobs/${encodeURIComponent(id)}`);
    assert.equal(job.status, 200);
    assert.equal(((await job.json()) as { doc_id: string }).doc_id, 'live');
  }
  // A completed document shows its stats, a failed one its error and count.
  const completed = (await (await fetch(srv.url + '/_scheduler/docs/_replicator/once')).json()) as Record<string, any>;
  assert.equal(completed.info.docs_written, 20);
  assert.equal(completed.info.start_time, undefined);
  const failed = (await (await fetch(srv.url + '/_scheduler/docs/_replicator/broken')).json()) as Record<string, any>;
  assert.equal(failed.error_count, 1);
  assert.equal((await fetch(`${srv.url}/_scheduler/jobs/nope`)).status, 404);
});

test('endpoints as objects: {url, auth: {basic}} and {url, headers} reach a server that needs an admin', async (t) => {
  const remote = await openNode({ engine: 'memory' });
  const remoteSrv = await startServer({ node: remote, port: 0, admin: 'admin:secret', replicator: false });
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0 });
  t.after(async () => {
    await srv.close();
    await node.close();
    await remoteSrv.close();
    await remote.close();
  });
  const local = await node.createDb('here');
  await local.bulkDocs([{ _id: 'p' }, { _id: 'q' }]);
  const url = `${remoteSrv.url}/there`;
  const refused = await json(srv.url + '/_replicate', 'POST', { source: 'here', target: url, create_target: true });
  assert.equal(refused.status, 401, 'without credentials the remote refuses');
  const basic = await json(srv.url + '/_replicate', 'POST', { source: 'here', target: { url, auth: { basic: { username: 'admin', password: 'secret' } } }, create_target: true });
  assert.equal(basic.status, 200);
  assert.equal(((await basic.json()) as { docs_written: number }).docs_written, 2);
  assert.equal((await (await remote.db('there')).info()).docCount, 2);
  await local.put({ _id: 'r' });
  const token = `Basic ${Buffer.from('admin:secret').toString('base64')}`;
  const headers = await json(srv.url + '/_replicate', 'POST', { source: 'here', target: { url, headers: { Authorization: token } } });
  assert.equal(headers.status, 200);
  assert.equal((await (await remote.db('there')).info()).docCount, 3);
  // Headers no request could carry, and a URL with a query string (each request's path would land
  // after it: a _revs_diff posted to the database as a document), are refused at once, not retried.
  const badTargets = [
    { url, auth: { basic: { username: 'admin' } } }, { url, auth: 'x' }, { url, headers: { a: 1 } },
    { url, headers: { 'X\r\nEvil': 'v' } }, { url, headers: { 'x-a': 'one\r\nSet-Cookie: x=1' } }, { url, headers: { '': 'v' } },
    { url, headers: { 'Transfer-Encoding': 'gzip' } }, { url: `${url}?x=1` }, `${url}?x=1`,
  ];
  for (const target of badTargets) {
    const bad = await json(srv.url + '/_replicate', 'POST', { source: 'here', target: target as never });
    assert.equal(bad.status, 400, JSON.stringify(target));
    // A _replicator document asking it is refused when written, as any no one could run.
    const doc = await json(srv.url + '/_replicator/bad', 'PUT', { source: 'here', target: target as never });
    assert.equal(doc.status, 403, JSON.stringify(target));
  }
  assert.equal((await (await remote.db('there')).info()).docCount, 3, 'nothing was written');
});

test('a replication refused for its source or its filter creates no target, remote or here, as CouchDB reads them first', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const src = await node.createDb('src');
  await src.put({ _id: '_design/d', filters: { yes: 'function (doc) { return true; }' } });
  await src.put({ _id: 'a' });
  for (const target of [`${srv.url}/made`, 'made']) {
    for (const [source, filter] of [['src', 'd/nope'], ['src', 'nope/f'], ['nosuch', undefined], [`${srv.url}/nosuch`, undefined]] as const) {
      const refused = await json(srv.url + '/_replicate', 'POST', { source, target, create_target: true, ...(filter && { filter }) });
      assert.equal(refused.status, 404, `${source} ${filter} -> ${target}`);
      assert.equal(await node.exists('made'), false, `${source} ${filter} -> ${target}: the target was not created`);
    }
  }
  const ran = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: `${srv.url}/made`, create_target: true, filter: 'd/yes' });
  assert.equal(ran.status, 200);
  assert.equal(((await ran.json()) as { docs_written: number }).docs_written, 2);
});

test('retries_per_request: a one-shot _replicate to a peer that does not answer fails after that many retries, as CouchDB answers it', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  await node.createDb('src');
  // A port nothing listens on: every request is refused at once.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise((resolve) => closed.close(resolve));
  const refused = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: `http://127.0.0.1:${port}/x`, retries_per_request: 0 });
  const answer = (await refused.json()) as { error: string; reason: string };
  assert.equal(refused.status, 503, JSON.stringify(answer));
  assert.match(answer.reason, /ECONNREFUSED|refused/);
  for (const bad of [-1, 'x', 1.5]) {
    const r = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: 'x', retries_per_request: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
});

test('CouchDB replication options: since_seq, worker_batch_size, worker_processes, checkpoint_interval, connection_timeout', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const a = await node.createDb('src');
  await a.bulkDocs([{ _id: 'first' }, { _id: 'second' }, { _id: 'third' }]);
  const since = await json(srv.url + '/_replicate', 'POST', { source: srv.url + '/src', target: 'late', create_target: true, since_seq: 1 });
  assert.equal(since.status, 200);
  const late = await node.db('late');
  assert.deepEqual((await late.allDocs()).rows.map((r) => r.id), ['second', 'third']);
  // "now", as CouchDB's _changes takes it, from a URL source and from a local one alike.
  for (const source of [srv.url + '/src', 'src']) {
    const now = await json(srv.url + '/_replicate', 'POST', { source, target: 'from-now', create_target: true, since_seq: 'now' });
    assert.equal(now.status, 200, source);
    assert.equal((await (await node.db('from-now')).info()).docCount, 0);
  }
  const tuned = await json(srv.url + '/_replicate', 'POST', {
    source: srv.url + '/src', target: 'tuned', create_target: true,
    worker_batch_size: 1, worker_processes: 1, checkpoint_interval: 0, connection_timeout: 5000,
  });
  assert.equal(tuned.status, 200);
  assert.equal(((await tuned.json()) as { docs_written: number }).docs_written, 3);
  const bads = [
    { worker_batch_size: 0 }, { worker_processes: 'x' }, { since_seq: -1 }, { connection_timeout: 1.5 }, { since_seq: {} },
    // CouchDB's own checks of the options.
    { continuous: 'true' }, { create_target: 1 }, { cancel: 'yes' }, { selector: [] }, { doc_ids: 'first' }, { doc_ids: ['first'], selector: {} },
    { filter: 'd/f', selector: { a: 1 } },
  ];
  for (const bad of bads) {
    const r = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: 'x', ...bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
  const exclusive = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: 'x', doc_ids: ['first'], selector: {} });
  assert.equal(((await exclusive.json()) as { reason: string }).reason, '`doc_ids`,`filter`,`selector` are mutually exclusive');
  // doc_ids: null stands for none.
  const nullIds = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: 'all', create_target: true, doc_ids: null });
  assert.equal(((await nullIds.json()) as { docs_written: number }).docs_written, 3);
});

test("winning_revs_only replicates each document's winning revision and no conflict", async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const src = await node.createDb('conflicted');
  await src.bulkDocs(
    [
      { _id: 'c', _rev: '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', v: 'a', _revisions: { start: 1, ids: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] } },
      { _id: 'c', _rev: '1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', v: 'b', _revisions: { start: 1, ids: ['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'] } },
    ],
    { newEdits: false },
  );
  for (const [source, target] of [['conflicted', 'winners'], [`${srv.url}/conflicted`, 'winners-http']]) {
    const res = await json(srv.url + '/_replicate', 'POST', { source, target, create_target: true, winning_revs_only: true });
    assert.equal(res.status, 200);
    const doc = await (await node.db(target)).get('c', { conflicts: true });
    assert.equal(doc._rev, '1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    assert.equal(doc._conflicts, undefined, target);
  }
  // Without it, the conflict travels too.
  await json(srv.url + '/_replicate', 'POST', { source: 'conflicted', target: 'everything', create_target: true });
  assert.deepEqual((await (await node.db('everything')).get('c', { conflicts: true }))._conflicts, ['1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']);
});

test('two _replicator documents describing the same replication run it once; the later one fails and says why', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  await node.createDb('src');
  const guard = AbortSignal.timeout(30_000); // against a hang only: every wait ends on a state change
  const spec = { source: 'src', target: 'twin-dst', create_target: true, continuous: true };
  assert.equal((await json(srv.url + '/_replicator/first', 'PUT', spec)).status, 201);
  await jobs.whenDoc('first', 'running', guard);
  assert.equal((await json(srv.url + '/_replicator/second', 'PUT', spec)).status, 201);
  await jobs.whenDoc('second', 'failed', guard);
  const second = (await (await fetch(srv.url + '/_scheduler/docs/_replicator/second')).json()) as { info: { error: string } };
  assert.match(second.info.error, /already started, triggered by document `first`/);
  const recorded = await docWith(await node.db('_replicator'), 'second', (d) => d._replication_state === 'failed');
  assert.match(recorded._replication_state_reason, /already started, triggered by document `first`/);
  const running = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { total_rows: number };
  assert.equal(running.total_rows, 1);
});

test('a completed _replicator job stays completed across restarts; an edit without the state runs it anew', async (t) => {
  const dir = await tempDir('refuge-jobs-done-');
  t.after(dir.cleanup);
  let node = await openNode({ dataDir: dir.path });
  let srv = await startServer({ node, port: 0 });
  const close = async () => {
    await srv.close();
    await node.close();
  };
  t.after(close);
  await (await node.createDb('src')).bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
  assert.equal((await json(srv.url + '/_replicator/once', 'PUT', { source: 'src', target: 'dst', create_target: true })).status, 201);
  const done = await docWith(await node.db('_replicator'), 'once', (d) => d._replication_state === 'completed');
  assert.equal(done._replication_stats.docs_written, 3);
  await node.deleteDb('dst');
  await close();

  node = await openNode({ dataDir: dir.path });
  srv = await startServer({ node, port: 0 });
  const guard = AbortSignal.timeout(30_000); // against a hang only
  await srv.context.jobs!.whenDoc('once', 'completed', guard);
  // Had it run again, it would have created dst before completing.
  assert.equal(await node.exists('dst'), false);
  const { _replication_state: _s, _replication_state_time: _t, _replication_stats: _st, ...spec } = done;
  assert.equal((await json(srv.url + '/_replicator/once', 'PUT', spec)).status, 201);
  const again = await docWith(await node.db('_replicator'), 'once', (d) => d._replication_state === 'completed' && d._rev !== done._rev);
  assert.equal(again._replication_stats.docs_written, 3);
  assert.equal((await (await node.db('dst')).info()).docCount, 3);
});

test('a _replicator job that cannot run yet is crashing and tried again until it can, as CouchDB retries', async (t) => {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicatorRetryMs: 20 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only: every wait ends on a state change
  assert.equal((await json(srv.url + '/_replicator/later', 'PUT', { source: 'not-yet', target: 'later-dst', create_target: true })).status, 201);
  const crashing = await jobs.whenDoc('later', 'crashing', guard);
  assert.match(crashing.error ?? '', /does not exist/i);
  assert.ok(crashing.errorCount >= 1);
  const shown = (await (await fetch(srv.url + '/_scheduler/docs/_replicator/later')).json()) as Record<string, any>;
  assert.equal(shown.state, 'crashing');
  // The source appears: a later try runs the job.
  await (await node.createDb('not-yet')).put({ _id: 'arrived' });
  await jobs.whenDoc('later', 'completed', guard);
  assert.equal((await (await node.db('later-dst')).get('arrived'))._id, 'arrived');
});

test('a continuous _replicator job that crashed until its source appeared counts no errors once it caught up', async (t) => {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicatorRetryMs: 20 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only
  assert.equal((await json(srv.url + '/_replicator/live', 'PUT', { source: 'live-src', target: 'live-dst', create_target: true, continuous: true })).status, 201);
  assert.ok((await jobs.whenDoc('live', 'crashing', guard)).errorCount >= 1);
  await (await node.createDb('live-src')).put({ _id: 'arrived' });
  await jobs.whenDoc('live', (d) => d.state === 'running' && d.errorCount === 0, guard);
  const shown = (await (await fetch(srv.url + '/_scheduler/docs/_replicator/live')).json()) as Record<string, any>;
  assert.deepEqual([shown.state, shown.error_count], ['running', 0]);
  assert.equal((await (await node.db('live-dst')).get('arrived'))._id, 'arrived');
});

// A regression would leave the job failed and the second changes request never made: fail, not hang.
test('a continuous job shows its failures while it retries them; a garbled answer is retried, not fatal; last_error goes once it recovers', { timeout: 60_000 }, async (t) => {
  let changesCalls = 0;
  let healed = false;
  let secondCall!: () => void;
  const retried = new Promise<void>((resolve) => (secondCall = resolve));
  // A source that says it is a database, then answers its changes feed with something not JSON.
  const fake = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0]!;
    res.setHeader('content-type', 'application/json');
    if (path === '/src') return void res.end(JSON.stringify({ db_name: 'src', update_seq: 3, doc_count: 3, instance_start_time: '0' }));
    if (path === '/src/_changes') {
      if (++changesCalls === 2) secondCall();
      // Garbled until the test lets it heal; then an empty feed (a longpoll answered at its timeout).
      if (!healed) return void res.end('{"results":[{"seq":1,"id":"a"');
      return void setTimeout(() => res.end('{"results":[],"last_seq":0,"pending":0}'), 50);
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: 'not_found', reason: 'missing' }));
  });
  await onLoopback(t, fake);
  const { srv } = await memoryNodeServer(t);
  const source = `http://127.0.0.1:${(fake.address() as { port: number }).port}/src`;
  const started = await json(srv.url + '/_replicate', 'POST', { source, target: 'copy', create_target: true, continuous: true });
  assert.equal(started.status, 202);
  await retried;
  const jobs = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { jobs: Array<{ history: Array<{ type: string; reason?: string }> }> };
  assert.equal(jobs.jobs.length, 1, 'still listed: retried, not failed');
  const crashed = jobs.jobs[0]!.history.find((h) => h.type === 'crashed');
  assert.match(crashed?.reason ?? '', /not JSON/);
  const tasks = (await (await fetch(srv.url + '/_active_tasks')).json()) as Array<{ last_error?: string }>;
  assert.match(tasks[0]!.last_error ?? '', /not JSON/);
  // Once the source answers properly, the job replicates again: its error is history, not its state.
  healed = true;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const now = (await (await fetch(srv.url + '/_active_tasks')).json()) as Array<{ last_error?: string }>;
    if (now[0]!.last_error === undefined) break;
    assert.ok(Date.now() < deadline, 'last_error still set after the source healed');
    await new Promise((r) => setTimeout(r, 50));
  }
  const history = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { jobs: Array<{ history: Array<{ type: string }> }> };
  assert.ok(history.jobs[0]!.history.some((h) => h.type === 'crashed'), 'the crash is still in the history');
  const cancel = await json(srv.url + '/_replicate', 'POST', { source, target: 'copy', create_target: true, continuous: true, cancel: true });
  assert.equal(cancel.status, 200);
});

test('a continuous _replicate that cannot start fails and leaves no job; a cancelled one-shot answers an error, not a report', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  await node.createDb('src');
  const spec = { source: 'src', target: 'out', create_target: true, filter: 'd/nope', continuous: true };
  const bad = await json(srv.url + '/_replicate', 'POST', spec);
  assert.equal(bad.status, 404);
  assert.deepEqual(await (await fetch(srv.url + '/_active_tasks')).json(), []);
  const cancelBad = await json(srv.url + '/_replicate', 'POST', { ...spec, cancel: true });
  assert.equal(cancelBad.status, 404, 'nothing left to cancel');

  // A one-shot whose source's changes feed never answers: cancelled while the request waits.
  const { url: slowUrl, asked } = await stalledSource(t);
  const oneShot = { source: slowUrl, target: 'copy', create_target: true };
  const waiting = json(srv.url + '/_replicate', 'POST', oneShot);
  await asked;
  const cancel = await json(srv.url + '/_replicate', 'POST', { ...oneShot, cancel: true });
  assert.equal(cancel.status, 200);
  const answer = await waiting;
  assert.equal(answer.status, 503);
  assert.equal(((await answer.json()) as { error: string }).error, 'unavailable');
});

test('the same one-shot replication asked again while it runs joins it, as CouchDB does: one job, one answer for both', { timeout: 30_000 }, async (t) => {
  const node = await openNode({ engine: 'memory' });
  t.after(() => node.close());
  const { url: slowUrl, asked } = await stalledSource(t);
  const jobs = new ReplicationJobs(node);
  const spec = parseSpec({ source: slowUrl, target: 'copy', create_target: true });
  const first = jobs.replicate(spec);
  await asked;
  const second = jobs.replicate(spec);
  // One job listed (a second one would have taken the first's place, in the list and in a user's count).
  assert.equal(jobs.runningJobs().length, 1);
  assert.notEqual(jobs.cancel({ spec }), undefined);
  for (const answer of await Promise.all([first, second])) assert.equal(!answer.continuous && answer.report.status, 'cancelled');
  assert.equal(jobs.runningJobs().length, 0);
});

test('a continuous _replicate whose source does not answer is named at once, as CouchDB answers, and keeps trying until cancelled by that id', { timeout: 30_000 }, async (t) => {
  // A port nobody listens on: each connection is refused at once, and retried.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const { srv } = await memoryNodeServer(t);
  const spec = { source: `http://127.0.0.1:${port}/gone`, target: 'copy', create_target: true, continuous: true };
  const started = await json(srv.url + '/_replicate', 'POST', spec);
  assert.equal(started.status, 202);
  const id = ((await started.json()) as { _local_id: string | null })._local_id;
  assert.match(id ?? '', /^[0-9a-f]{32}\+continuous\+create_target$/);
  // The same id everywhere: the running job, then the cancel that names it.
  const jobs = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { jobs: Array<{ id: string }> };
  assert.deepEqual(jobs.jobs.map((j) => j.id), [id]);
  const cancel = await json(srv.url + '/_replicate', 'POST', { replication_id: id, cancel: true });
  assert.deepEqual([cancel.status, await cancel.json()], [200, { ok: true, _local_id: id }]);
});

test('a continuous _replicate whose target is deleted under it says the database does not exist, not that it is closed', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const a = await node.createDb('a');
  const b = await node.createDb('b');
  await a.put({ _id: 'x' });
  const started = await json(srv.url + '/_replicate', 'POST', { source: 'a', target: 'b', continuous: true });
  assert.equal(started.status, 202);
  await waitForDoc(b, 'x');
  await node.deleteDb('b');
  await a.put({ _id: 'y' });
  const crashes = async () => {
    const jobs = (await (await fetch(srv.url + '/_scheduler/jobs')).json()) as { jobs: Array<{ history: Array<{ type: string; reason?: string }> }> };
    return jobs.jobs.flatMap((j) => j.history).filter((h) => h.type === 'crashed').map((h) => h.reason);
  };
  // The crash is the job's, in its own time: asked until it is there.
  let reasons: Array<string | undefined> = [];
  for (const deadline = Date.now() + 10_000; reasons.length === 0; reasons = await crashes()) assert.ok(Date.now() < deadline, 'no crash recorded');
  assert.deepEqual(reasons, ['Database does not exist.']);
  assert.equal(await node.exists('b'), false, 'the replication did not make the deleted target again');
});

test('an endpoint is described without its credentials, a password holding @ included', () => {
  assert.equal(describeEndpoint('http://u:p@ss@127.0.0.1:1/x'), 'http://127.0.0.1:1/x');
  assert.equal(describeEndpoint('https://bob:secret@host.example/db?a=b@c'), 'https://host.example/db?a=b@c');
  assert.equal(describeEndpoint({ url: 'http://only-user@h/db' }), 'http://h/db');
  assert.equal(describeEndpoint('http://h/db/with@sign'), 'http://h/db/with@sign');
  assert.equal(describeEndpoint('local-db'), 'local-db');
});

test('a one-shot _replicator job cut short by the node stopping is not recorded completed: it runs again when the node starts', async (t) => {
  const dir = await tempDir('refuge-jobs-stop-');
  t.after(dir.cleanup);
  const stalled = await stalledSource(t);
  let node = await openNode({ dataDir: dir.path });
  let srv = await startServer({ node, port: 0 });
  assert.equal((await json(srv.url + '/_replicator/once', 'PUT', { source: stalled.url, target: 'copy', create_target: true })).status, 201);
  await stalled.asked;
  await srv.close();
  await node.close();
  node = await openNode({ dataDir: dir.path });
  const doc = await (await node.db('_replicator')).get('once');
  assert.equal((doc as Record<string, unknown>)._replication_state, undefined, JSON.stringify(doc));
  srv = await startServer({ node, port: 0 });
  t.after(async () => {
    await srv.close();
    await node.close();
  });
  const state = await srv.context.jobs!.whenDoc('once', 'running', AbortSignal.timeout(20_000));
  assert.equal(state.state, 'running');
});

test('deleting _replicator stops its jobs; one created again is followed: its documents run', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only
  const src = await node.createDb('src');
  await src.put({ _id: 'a' });
  assert.equal((await json(srv.url + '/_replicator/live', 'PUT', { source: 'src', target: 'out', create_target: true, continuous: true })).status, 201);
  await jobs.whenDoc('live', 'running', guard);
  await waitForDoc(await node.db('out'), 'a');
  assert.equal((await json(srv.url + '/_replicator', 'DELETE')).status, 200);
  // Its job goes with it (waited for through the scheduler's list, which the deletion empties).
  for (let i = 0; i < 2000 && (jobs.runningJobs().length > 0 || jobs.replicatorDocs().length > 0); i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(jobs.runningJobs(), []);
  assert.deepEqual(jobs.replicatorDocs(), []);
  assert.equal((await json(srv.url + '/_replicator', 'PUT')).status, 201);
  assert.equal((await json(srv.url + '/_replicator/again', 'PUT', { source: 'src', target: 'out2', create_target: true })).status, 201);
  const done = await jobs.whenDoc('again', 'completed', guard);
  assert.equal(done.state, 'completed');
  assert.equal((await (await node.db('out2')).info()).docCount, 1);
});

test('_replicator documents with a selector no source can run, or a URL no client can reach, are refused when written; with and without create_target they are two jobs', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only
  await node.createDb('src');
  await node.createDb('out');
  const refusals: Array<[string, unknown, RegExp]> = [
    ['badsel', { source: 'src', target: 'out', selector: { $bogus: 1 } }, /selector.*Invalid operator/],
    ['badurl', { source: 'http://[::1', target: 'out' }, /not a valid URL/],
  ];
  for (const [id, body, reason] of refusals) {
    const res = await json(`${srv.url}/_replicator/${id}`, 'PUT', body);
    const answer = (await res.json()) as { error: string; reason: string };
    assert.deepEqual([res.status, answer.error], [403, 'forbidden'], id);
    assert.match(answer.reason, reason, id);
    assert.equal((await fetch(`${srv.url}/_replicator/${id}`)).status, 404, `${id}: not stored`);
  }
  await json(srv.url + '/_replicator/plain', 'PUT', { source: 'src', target: 'out', continuous: true });
  await jobs.whenDoc('plain', 'running', guard);
  await json(srv.url + '/_replicator/creating', 'PUT', { source: 'src', target: 'out', continuous: true, create_target: true });
  assert.equal((await jobs.whenDoc('creating', (d) => d.state !== 'crashing', guard)).state, 'running');
  const bad = await json(srv.url + '/_replicate', 'POST', { source: 'src', target: 'out', selector: { $bogus: 1 } });
  assert.equal(bad.status, 400);
});

test('a URL whose password holds a raw % is refused: 400 from _replicate, 403 for a _replicator document', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  await node.createDb('local');
  const raw = 'http://u:50%off@127.0.0.1:9/db';
  for (const body of [{ source: raw, target: 'local' }, { source: 'local', target: raw }, { source: { url: raw }, target: 'local' }]) {
    const res = await json(srv.url + '/_replicate', 'POST', body);
    const answer = (await res.json()) as { error: string; reason: string };
    assert.equal(res.status, 400, JSON.stringify(answer));
    assert.equal(answer.error, 'bad_request');
    assert.match(answer.reason, /password is not percent-encoded/);
    assert.doesNotMatch(answer.reason, /50%off/, 'no secret in the answer');
  }
  // Credentials given apart (`auth`) replace the URL's, which are then never decoded.
  assert.doesNotThrow(() => parseSpec({ source: { url: raw, auth: { basic: { username: 'u', password: '50%off' } } }, target: 'local' }));
  // A _replicator document asking it is refused when written (403), its secret left out too.
  const res = await json(srv.url + '/_replicator/rawpct', 'PUT', { source: raw, target: 'local' });
  const answer = (await res.json()) as { error: string; reason: string };
  assert.deepEqual([res.status, answer.error], [403, 'forbidden']);
  assert.match(answer.reason, /password is not percent-encoded/);
  assert.doesNotMatch(answer.reason, /50%off/, 'no secret in the answer');
  assert.equal((await fetch(srv.url + '/_replicator/rawpct')).status, 404);
});

test('an edit of a _replicator document that changes no option leaves its job running; one that does restarts it', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only
  await node.createDb('src');
  const spec = { source: 'src', target: 'out', create_target: true, continuous: true };
  const put = await json(srv.url + '/_replicator/live', 'PUT', spec);
  const first = await jobs.whenDoc('live', 'running', guard);
  const rev = ((await put.json()) as { rev: string }).rev;
  const noted = await json(srv.url + '/_replicator/live', 'PUT', { ...spec, _rev: rev, comment: 'mirrors src' });
  assert.equal(noted.status, 201);
  // The edit is seen once the feed delivers it: a later document's state says it has been.
  await json(srv.url + '/_replicator/marker', 'PUT', { source: 'src', target: 'out-marker', create_target: true, continuous: true });
  await jobs.whenDoc('marker', 'running', guard);
  assert.equal(jobs.replicatorDocs().find((d) => d.docId === 'live')!.job, first.job, 'the same job runs');
  const moved = await json(srv.url + '/_replicator/live', 'PUT', { ...spec, target: 'elsewhere', _rev: ((await noted.json()) as { rev: string }).rev });
  assert.equal(moved.status, 201);
  const restarted = await jobs.whenDoc('live', (d) => d.state === 'running' && d.job !== first.job, guard);
  assert.equal(describeEndpoint(restarted.spec!.target), 'elsewhere');
});

test('documents of _replicator created and deleted leave nothing behind in the scheduler', async (t) => {
  const { node, srv } = await memoryNodeServer(t);
  const jobs = srv.context.jobs!;
  const guard = AbortSignal.timeout(30_000); // against a hang only
  await node.createDb('src');
  for (let i = 0; i < 20; i++) {
    const put = await json(`${srv.url}/_replicator/job${i}`, 'PUT', { source: 'src', target: `out${i}`, create_target: true });
    assert.equal(put.status, 201);
    await jobs.whenDoc(`job${i}`, 'completed', guard);
    const rev = ((await (await fetch(`${srv.url}/_replicator/job${i}`)).json()) as { _rev: string })._rev;
    assert.equal((await json(`${srv.url}/_replicator/job${i}?rev=${rev}`, 'DELETE')).status, 200);
  }
  for (let i = 0; i < 2000 && jobs.replicatorDocs().length > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(jobs.replicatorDocs(), []);
  // What tells a launch an edit overtook it is kept per live document only (was one entry per id ever seen).
  assert.equal((jobs as unknown as { docs: { generations: Map<string, number> } }).docs.generations.size, 0);
});

test('a _replicator document is refused when no one could run it, unless deleted or already marked failed (as one replicated in from a CouchDB)', () => {
  assert.equal(refusedReplicatorDoc({ _id: 'ok', source: 'a', target: 'b' }), undefined);
  assert.equal(refusedReplicatorDoc({ _id: 'gone', _deleted: true }), undefined);
  assert.equal(refusedReplicatorDoc({ _id: 'old', source: 42, _replication_state: 'failed' }), undefined);
  for (const doc of [{ _id: 'x', source: 42, target: 'b', _replication_state: 'completed' }, { _id: 'y', target: 'b' }, { _id: 'z', source: 'a', target: 'b', create_target: 1 }]) {
    const refused = refusedReplicatorDoc(doc);
    assert.equal(refused?.code, 'forbidden', JSON.stringify(doc));
    assert.equal(refused?.status, 403, JSON.stringify(doc));
  }
});
