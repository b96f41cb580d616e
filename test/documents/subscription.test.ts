// Live changes: batches of bounded size, delivery of later commits, filters, clean ending, and
// back-pressure (a consumer that does not pull holds nothing beyond one batch).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';
import { memoryEngine, type StorageEngine } from '../../src/storage/index.ts';

test('subscribe delivers existing and later changes in bounded batches', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 25 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}` })));
  const ac = new AbortController();
  const feed = db.subscribe({ batchSize: 10, signal: ac.signal, includeDocs: true });
  const sizes: number[] = [];
  const seen: string[] = [];
  for await (const batch of feed) {
    sizes.push(batch.length);
    seen.push(...batch.map((r) => r.id));
    assert.ok(batch.every((r) => r.doc?._id === r.id));
    if (seen.length === 25) {
      // Nothing pending: the next pull waits for a commit, which we make now.
      void db.put({ _id: 'late' });
    }
    if (seen.includes('late')) break;
  }
  assert.deepEqual(sizes.slice(0, 3), [10, 10, 5]);
  assert.equal(seen.length, 26);
  ac.abort();
});

test('subscribe with selector and docIds filters; abort ends a waiting feed', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  const ac = new AbortController();
  const feed = db.subscribe({ selector: { type: 'keep' }, signal: ac.signal });
  const got: string[] = [];
  const consumer = (async () => {
    for await (const batch of feed) {
      got.push(...batch.map((r) => r.id));
      if (got.length === 2) ac.abort();
    }
  })();
  await db.bulkDocs([{ _id: 'a', type: 'keep' }, { _id: 'b', type: 'drop' }]);
  await db.put({ _id: 'c', type: 'keep' });
  await consumer;
  assert.deepEqual(got, ['a', 'c']);

  const ids = await db.changes({ docIds: ['b'] });
  assert.deepEqual(ids.results.map((r) => r.id), ['b']);
});

test('closing the database ends live feeds', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  const feed = db.subscribe({});
  const done = (async () => {
    let n = 0;
    for await (const _ of feed) n++;
    return n;
  })();
  await db.close();
  assert.equal(await done, 0);
});

test('back-pressure: a consumer that stops pulling holds at most one batch while writes go on', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.put({ _id: 'first' });
  const feed = db.subscribe({ batchSize: 50 });
  const first = await feed.next();
  assert.equal(first.done, false);
  // While the consumer is not pulling, 5,000 more documents are committed.
  const pendingNext = feed.next();
  for (let i = 0; i < 50; i++) {
    await db.bulkDocs(Array.from({ length: 100 }, (_, j) => ({ _id: `x${i}-${j}` })));
  }
  // The feed only reads from storage when pulled: each pull returns at most batchSize rows.
  const second = await pendingNext;
  assert.ok(!second.done && second.value.length <= 50);
  let total = (first.value as unknown[]).length + (second.value as unknown[]).length;
  while (total < 5001) {
    const n = await feed.next();
    assert.ok(!n.done);
    assert.ok(n.value.length <= 50);
    total += n.value.length;
  }
  assert.equal(total, 5001);
  await feed.return();
});

test('return() ends a feed whose next() waits for a commit, without any write or signal', { timeout: 5000 }, async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.put({ _id: 'a' });
  const feed = db.subscribe({ since: (await db.info()).updateSeq });
  const waiting = feed.next();
  // Both settle with no further write: the waiting pull ends the feed, return() confirms it.
  assert.deepEqual(await Promise.all([feed.return(), waiting]), [{ done: true, value: undefined }, { done: true, value: undefined }]);
  assert.deepEqual(await feed.next(), { done: true, value: undefined });
  // The database is not held by the ended feed: it closes at once.
  await db.close();
});

/** The memory engine, counting the snapshots its stores take (a live read takes one) and their key scans. */
function countingEngine(): { engine: StorageEngine; snapshots: () => number; keyScans: () => number } {
  let n = 0;
  let scans = 0;
  const engine: StorageEngine = {
    name: 'memory',
    destroy: (location) => memoryEngine.destroy(location),
    async open(options) {
      const store = await memoryEngine.open(options);
      const snapshot = store.snapshot.bind(store);
      store.snapshot = () => {
        n++;
        return snapshot();
      };
      const scanKeys = store.scanKeys.bind(store);
      store.scanKeys = (...args) => {
        scans++;
        return scanKeys(...args);
      };
      return store;
    },
  };
  return { engine, snapshots: () => n, keyScans: () => scans };
}

test('subscribers caught up at one sequence share their reads, each with rows of its own', async (t) => {
  const { engine, snapshots } = countingEngine();
  const { db, cleanup } = await freshDb('memory', { engine });
  t.after(cleanup);
  await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
  const ac = new AbortController();
  const feeds = Array.from({ length: 50 }, () => db.subscribe({ style: 'all_docs', signal: ac.signal }));
  // One turn: every feed asks for its first batch before any read is done.
  const before = snapshots();
  const first = await Promise.all(feeds.map((f) => f.next()));
  assert.ok(snapshots() - before <= 2, `50 feeds at one sequence read once, not ${snapshots() - before} times`);
  for (const r of first) assert.deepEqual(r.value?.map((row) => row.id), ['a', 'b'], 'every feed gets the rows');
  // A feed that changes its rows changes nobody else's.
  const mine = first[0]!.value![0]!;
  mine.id = 'changed';
  delete (mine as { changes?: unknown }).changes;
  assert.deepEqual([first[1]!.value![0]!.id, first[1]!.value![0]!.changes.length], ['a', 1], 'another feed keeps its row');
  // A commit wakes them all; each gets the new row (they may wake before or after each other's reads).
  const next = feeds.map((f) => f.next());
  await db.put({ _id: 'c' });
  for (const r of await Promise.all(next)) assert.deepEqual(r.value?.map((row) => row.id), ['c'], 'every feed gets the later change');
  // A feed with a filter, or with documents as objects (its consumer may change them), makes its
  // own rows, from changes read once for every such feed at one point (captured-changes.ts).
  const filtered = db.subscribe({ docIds: ['b'], signal: ac.signal });
  const withDocs = db.subscribe({ includeDocs: true, signal: ac.signal });
  let reads = snapshots();
  const [f, d] = await Promise.all([filtered.next(), withDocs.next()]);
  assert.ok(snapshots() - reads <= 1, `two feeds of their own at one point read once, not ${snapshots() - reads} times`);
  assert.deepEqual(f.value?.map((row) => row.id), ['b'], 'the filtered feed');
  assert.deepEqual(d.value?.map((row) => row.doc?._id), ['a', 'b', 'c'], 'the feed with documents');
  // Feeds that write documents out as JSON text (the HTTP feeds) share them.
  const texts = Array.from({ length: 20 }, () => db.subscribe({ includeDocs: true, docText: true, signal: ac.signal }));
  reads = snapshots();
  const got = await Promise.all(texts.map((t) => t.next()));
  assert.ok(snapshots() - reads <= 2, `20 feeds with documents as text read once, not ${snapshots() - reads} times`);
  for (const r of got) assert.deepEqual(r.value?.map((row) => JSON.parse(row.docJson!)._id), ['a', 'b', 'c'], 'each gets the documents');
  ac.abort();
  await Promise.all([...feeds, filtered, withDocs, ...texts].map((f) => f.return(undefined)));
});

test('feeds with filters of their own, woken by one commit, read storage once and each get their own rows', async (t) => {
  const { engine, snapshots } = countingEngine();
  const { db, cleanup } = await freshDb('memory', { engine });
  t.after(cleanup);
  await db.bulkDocs([{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }]);
  const ac = new AbortController();
  // 60 feeds caught up at update_seq 2: by ids, by a selector, with documents as objects.
  const kinds = [
    { docIds: ['c', 'e'] },
    { selector: { n: { $gt: 3 } } },
    { includeDocs: true },
    { selector: { n: { $lt: 5 } }, includeDocs: true, style: 'all_docs' as const },
  ];
  const feeds = Array.from({ length: 60 }, (_, i) => db.subscribe({ ...kinds[i % kinds.length], since: 2, signal: ac.signal }));
  const next = feeds.map((f) => f.next());
  const before = snapshots();
  await db.bulkDocs([{ _id: 'c', n: 3 }, { _id: 'd', n: 4 }, { _id: 'e', n: 5 }]);
  const got = await Promise.all(next);
  assert.ok(snapshots() - before <= 2, `60 feeds of their own at one point read once, not ${snapshots() - before} times`);
  const want = [['c', 'e'], ['d', 'e'], ['c', 'd', 'e'], ['c', 'd']];
  got.forEach((r, i) => assert.deepEqual(r.value?.map((row) => row.id), want[i % kinds.length], `feed ${i} gets its own rows`));
  // Documents are each feed's own: one consumer changing its document changes nobody else's.
  const mine = got[2]!.value![0]!.doc!;
  mine.n = 99;
  assert.equal(got[6]!.value![0]!.doc!.n, 3, 'another feed keeps its document');
  assert.deepEqual(got[3]!.value![1]!.changes, [{ rev: got[3]!.value![1]!.doc!._rev }], 'all_docs leaves with the document');
  ac.abort();
  await Promise.all(feeds.map((f) => f.return(undefined)));
});

test('feeds of their own give the normal feed\'s rows wherever they start, near the end or far behind', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  // 600 changes: more than a capture holds, with deletions and documents written again.
  for (let i = 0; i < 600; i += 100) {
    await db.bulkDocs(Array.from({ length: 100 }, (_, k) => ({ _id: `d${(i + k) % 450}`, n: (i + k) % 7 })));
  }
  const { results } = await db.changes({ since: 0 });
  const removed = results.filter((_, i) => i % 9 === 0).map((r) => ({ _id: r.id, _rev: r.changes[0]!.rev, _deleted: true }));
  await db.bulkDocs(removed);
  const seq = await db.updateSeq();
  const options = [
    { docIds: ['d3', 'd17', 'd200', 'd449'] },
    { selector: { n: { $in: [1, 4] } } },
    { selector: { n: 6 }, includeDocs: true },
    { includeDocs: true, style: 'all_docs' as const, conflicts: true },
    { docIds: ['d9'], includeDocs: true },
  ];
  for (const since of [0, 100, Number(seq) - 300, Number(seq) - 256, Number(seq) - 20, Number(seq) - 1, Number(seq), Number(seq) + 5]) {
    for (const o of options) {
      for (const batchSize of [7, 1000]) {
        const normal = await db.changes({ ...o, since, limit: batchSize });
        const feed = db.subscribe({ ...o, since, batchSize });
        const first = normal.results.length > 0 ? (await feed.next()).value : [];
        await feed.return(undefined);
        assert.deepEqual(first, normal.results, `since ${since}, batch ${batchSize}, ${JSON.stringify(o)}`);
      }
    }
  }
});

test('pending counts asked at once from one sequence are counted once', async (t) => {
  const { engine, keyScans } = countingEngine();
  const { db, cleanup } = await freshDb('memory', { engine });
  t.after(cleanup);
  await db.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}` })));
  assert.equal(await db.pendingAfter(10), 20, 'the first count (it counts the whole feed once)');
  const before = keyScans();
  // Every longpoll feed a commit ends asks this, most from the same sequence.
  const counts = await Promise.all([...Array.from({ length: 40 }, () => db.pendingAfter(10)), db.pendingAfter(25)]);
  assert.deepEqual(new Set(counts.slice(0, 40)), new Set([20]), 'each gets the count');
  assert.equal(counts[40], 5, 'a count from another sequence is its own');
  assert.ok(keyScans() - before <= 2, `41 counts from two sequences scan at most twice, not ${keyScans() - before} times`);
});
