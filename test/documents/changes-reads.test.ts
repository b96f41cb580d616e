// What the changes feed reads for a replicator's requests. `style=all_docs` lists each document's
// leaves: without documents the feed reads only the trees, and a tree stored as one run not even
// that (its winner is its leaf); the leaves must be those the feed gives with documents, where the
// whole record is read. And a feed with a limit reads no further than it answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import { newReadWatch, watchedEngine } from '../helpers/watched-engine.ts';

test('a feed of all leaves gives the same leaves with documents and without', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  // One run each, edited and not, deleted and not; and trees with conflicts and deleted conflicts.
  await db.bulkDocs([{ _id: 'plain' }, { _id: 'gone' }, { _id: 'edited', v: 1 }]);
  const edited = await db.get('edited');
  await db.put({ ...edited, v: 2 });
  await db.remove('gone', (await db.get('gone'))._rev!);
  const branch = (id: string, revs: string[], deleted = false) => ({ _id: id, _rev: revs[0], _revisions: { start: Number.parseInt(revs[0]!, 10), ids: revs.map((r) => r.slice(r.indexOf('-') + 1)) }, ...(deleted && { _deleted: true }) });
  await db.bulkDocs(
    [
      branch('conflicted', ['2-b', '1-a']),
      branch('conflicted', ['2-c', '1-a']),
      branch('conflicted', ['3-d', '2-e', '1-a'], true),
      branch('stemmed', ['9-x', '8-w']),
      branch('stemmed', ['4-y', '3-z']),
      branch('forked', ['1-p']),
      branch('forked', ['1-q'], true),
    ],
    { newEdits: false },
  );
  const bare = await db.changes({ style: 'all_docs' });
  const full = await db.changes({ style: 'all_docs', includeDocs: true });
  const leaves = (r: typeof bare) => Object.fromEntries(r.results.map((row) => [row.id, row.changes.map((c) => c.rev)]));
  assert.deepEqual(leaves(bare), leaves(full), 'the same leaves either way');
  const got = leaves(bare);
  assert.deepEqual(got.conflicted?.slice().sort(), ['2-b', '2-c', '3-d'], 'every leaf of a tree with conflicts, the deleted one too');
  assert.deepEqual(got.stemmed?.slice().sort(), ['4-y', '9-x'], 'both roots of a tree stored as two runs');
  assert.deepEqual(got.forked?.slice().sort(), ['1-p', '1-q'], 'two first revisions');
  assert.equal(got.edited?.length, 1, 'an edited document has one leaf');
  assert.equal(got.edited?.[0], (await db.get('edited'))._rev, 'its winner');
  assert.deepEqual([got.plain?.length, got.gone?.length], [1, 1], 'one run, deleted or not');
});

test('a feed with a limit and no filter asks storage for no more sequence entries than it answers', async (t) => {
  // The bounds of the scans of sequence entries the feed asks for (a storage scan ends at its limit,
  // the conformance suite checks, however far it reads ahead).
  const watch = newReadWatch();
  const engine = watchedEngine(memoryEngine, watch);
  const asked = () => watch.ranges.filter((r) => r.gt?.startsWith('s!')).map((r) => r.limit);
  const { db, cleanup } = await freshDb('memory', { engine });
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 1000 }, (_, i) => ({ _id: `d${i}` })));
  for (const o of [{ limit: 100, style: 'all_docs' as const }, { limit: 10 }, { limit: 100, includeDocs: true }]) {
    watch.ranges.length = 0;
    const { results, lastSeq } = await db.changes({ since: 300, ...o });
    assert.deepEqual([results.length, results.at(-1)?.seq, lastSeq], [o.limit, 300 + o.limit, 300 + o.limit], JSON.stringify(o));
    assert.deepEqual(asked(), [o.limit], `${JSON.stringify(o)}: one scan, bounded by the limit`);
  }
  // A filter may pass over entries: its scan is not bounded by the limit.
  watch.ranges.length = 0;
  const filtered = await db.changes({ since: 300, limit: 5, docIds: ['d900', 'd901'] });
  assert.deepEqual([filtered.results.map((r) => r.id), asked()], [['d900', 'd901'], [undefined]], 'a filtered read');
});

test('a feed of all leaves without documents reads no record of a document stored as one run', async (t) => {
  const watch = newReadWatch();
  const { db, cleanup } = await freshDb('memory', { engine: watchedEngine(memoryEngine, watch) });
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}` })));
  const edited = await db.get('d7');
  await db.put({ ...edited, v: 2 });
  await db.bulkDocs([{ _id: 'd9', _rev: '1-zzzz', _revisions: { start: 1, ids: ['zzzz'] } }], { newEdits: false });
  watch.got = {};
  const { results } = await db.changes({ style: 'all_docs' });
  assert.equal(results.length, 50, 'every document');
  assert.equal(results.find((r) => r.id === 'd9')?.changes.length, 2, 'the one with a conflict lists both leaves');
  assert.equal(watch.got.d, 1, 'one record read: the document with a conflict');
  // With documents, or a filter, every record is read as before.
  watch.got = {};
  await db.changes({ style: 'all_docs', includeDocs: true });
  assert.equal(watch.got.d, 50, 'every record for the documents');
});
