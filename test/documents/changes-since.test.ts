// A `since` past every sequence a database gave names none of its changes (the database was deleted
// and made again, or it is another's): the feed starts over from 0, as CouchDB's does for a sequence
// of another shard file, instead of skipping every change until the count passes it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';

test('changes after a since past the update sequence start over; at or below it, nothing changes', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
  const ids = (r: { results: Array<{ id: string }> }) => r.results.map((row) => row.id);

  const past = await db.changes({ since: 50 });
  assert.deepEqual([ids(past), past.lastSeq], [['a', 'b', 'c'], 3], 'a sequence this database never gave: from the start');
  const at = await db.changes({ since: 3 });
  assert.deepEqual([ids(at), at.lastSeq], [[], 3], 'the update sequence itself: caught up');
  const below = await db.changes({ since: 2 });
  assert.deepEqual(ids(below), ['c']);
  const limited = await db.changes({ since: 50, limit: 1 });
  assert.deepEqual([ids(limited), limited.lastSeq], [['a'], 1], 'a limit counts from the start too');
  // Descending takes no lower bound from since, past or not.
  assert.deepEqual(ids(await db.changes({ since: 50, descending: true })), ['c', 'b', 'a']);
});

test('a live feed from a since past the update sequence delivers every change from the start', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
  const stop = new AbortController();
  const feed = db.subscribe({ since: 40, batchSize: 10, signal: stop.signal });
  const first = await feed.next();
  stop.abort();
  assert.deepEqual(first.done ? [] : first.value.map((row) => row.id), ['a', 'b']);
});
