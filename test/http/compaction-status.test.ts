// A compaction under way shows: `compact_running` in `GET /{db}` and a `database_compaction` task
// in `_active_tasks`, until it ends (they were always false and empty).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer } from './server.ts';

test('compact_running and _active_tasks follow a compaction from start to end', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const u = server.url;
  assert.equal((await request(`${u}/comp`, { method: 'PUT' })).status, 201);
  const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, v: 1 }));
  await request(`${u}/comp/_bulk_docs`, { method: 'POST', body: { docs } });
  const db = await server.node.db('comp');
  assert.equal((await request(`${u}/comp`)).body.compact_running, false);

  // The writer is held, so the compaction waits at its first step while the answers are read.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held = db.runExclusive(() => gate);
  const json = { 'content-type': 'application/json' };
  assert.equal((await request(`${u}/comp/_compact`, { method: 'POST', headers: json })).status, 202);
  assert.equal((await request(`${u}/comp`)).body.compact_running, true);
  const tasks = (await request(`${u}/_active_tasks`)).body as Array<Record<string, unknown>>;
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.type, 'database_compaction');
  assert.equal(tasks[0]!.database, 'comp');
  assert.equal(tasks[0]!.total_changes, 300);
  assert.equal(tasks[0]!.changes_done, 0);
  assert.equal(tasks[0]!.progress, 0);
  // Asked again while it runs: the same compaction answers.
  assert.equal((await request(`${u}/comp/_compact`, { method: 'POST', headers: json })).status, 202);
  assert.equal(((await request(`${u}/_active_tasks`)).body as unknown[]).length, 1);

  open();
  await held;
  await db.compact(); // joins the one under way, if it has not ended yet
  assert.equal((await request(`${u}/comp`)).body.compact_running, false);
  assert.deepEqual((await request(`${u}/_active_tasks`)).body, []);
});
