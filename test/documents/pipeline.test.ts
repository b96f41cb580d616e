// The pipelined writer under fast durability: updates computed while earlier ones are still being
// flushed must read those earlier ones (regression: a flush finishing during a bulk read made the
// next batch see stale records and drop a revision).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';
import { openDatabase } from '../../src/index.ts';
import { chainWritesThrough, gatedEngine, ticks } from '../helpers/gated-engine.ts';
import type { StorageEngine } from '../../src/storage/index.ts';
import { DEFERRED_MAX_KEYS } from '../../src/documents/writer-flush.ts';
import { MAX_PENDING_KEYS } from '../../src/documents/writer.ts';

test('back-to-back bulk updates in fast mode keep every revision', async (t) => {
  const { db, cleanup } = await freshDb('leveldb', { durability: 'fast' });
  t.after(cleanup);
  const n = 60;
  const rounds = 25;
  const revs = new Map<string, string[]>();
  for (let round = 0; round < rounds; round++) {
    const docs = Array.from({ length: n }, (_, i) => {
      const id = `d${i}`;
      const history = revs.get(id);
      return { _id: id, ...(history ? { _rev: history.at(-1) } : {}), round, pad: 'p'.repeat(500) };
    });
    // Not awaited one by one: the next batch is computed while this one may still be flushing.
    const res = await db.bulkDocs(docs);
    for (const r of res) {
      assert.ok('ok' in r, JSON.stringify(r));
      revs.set(r.id, [...(revs.get(r.id) ?? []), r.rev]);
    }
  }
  for (const [id, history] of revs) {
    assert.equal(history.length, rounds);
    const doc = await db.get(id, { revs: true });
    assert.equal(doc.round, rounds - 1);
    assert.equal((doc._revisions as { ids: string[] }).ids.length, rounds);
    // Every old revision's body is still there until compaction.
    const old = await db.get(id, { rev: history[rounds - 2] });
    assert.equal(old.round, rounds - 2);
  }
  const info = await db.info();
  assert.equal(info.updateSeq, n * rounds);
});

test('fast mode: point reads see acknowledged writes while their flush is held; range reads wait for it', async (t) => {
  const { engine, hold, release } = gatedEngine();
  const db = await openDatabase('gated-fast', { engine, durability: 'fast' });
  t.after(async () => {
    release();
    await db.destroy();
  });
  // What opening wrote is stored before the gate closes (a fast-mode flush waits for the turn).
  await db.ensureFullCommit();
  hold();
  const { rev } = await db.put({ _id: 'a', v: 1 });
  await db.putLocal({ _id: '_local/checkpoint', seq: 1 });
  assert.equal((await db.get('a')).v, 1);
  assert.equal((await db.get('_local/checkpoint')).seq, 1);
  const other = `9-${'f'.repeat(32)}`;
  assert.deepEqual(await db.revsDiff({ a: [rev, other], b: [other] }), { a: { missing: [other], possibleAncestors: [rev] }, b: { missing: [other] } });
  assert.equal((await db.getOpenRevs('a', 'all')).length, 1);
  let listed = false;
  const all = db.allDocs().then((res) => ((listed = true), res));
  const committed = db.ensureFullCommit();
  await ticks();
  assert.equal(listed, false, 'a range read waits for the flush');
  release();
  await committed;
  assert.deepEqual((await all).rows.map((r) => r.id), ['a']);
});

test('durable mode: a write held in its flush is neither acknowledged nor seen by reads', async (t) => {
  const { engine, hold, release } = gatedEngine();
  const db = await openDatabase('gated-durable', { engine, durability: 'durable' });
  t.after(async () => {
    release();
    await db.destroy();
  });
  hold();
  let acked = false;
  const put = db.put({ _id: 'a', v: 1 }).then((r) => ((acked = true), r));
  await ticks(); // the write is computed and its flush held
  let read: unknown;
  const got = db.get('a').then(
    (d) => (read = d),
    (e) => (read = e),
  );
  await ticks();
  assert.equal(acked, false);
  assert.equal(read, undefined, 'the read waits for the flush rather than see an unacknowledged write');
  release();
  await put;
  await got;
  assert.equal((read as unknown as { v: number }).v, 1);
});

test('a long bulk write lets other work run meanwhile, and is seen whole or not at all', async (t) => {
  const { db, cleanup } = await freshDb('memory');
  t.after(cleanup);
  await db.put({ _id: 'other', v: 1 });
  // Thousands of conflicting revisions of one document: each merges into a growing tree, so the
  // write computes for a long while (about a second here).
  const hex = (i: number) => i.toString(16).padStart(32, '0');
  const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: 'many', _rev: `1-${hex(i)}`, v: i }));
  let bulkDone = false;
  const bulk = db.bulkDocs(docs, { newEdits: false }).then((r) => {
    bulkDone = true;
    return r;
  });
  // Reads keep being answered while it computes (the loop turns), and see none of it.
  let reads = 0;
  while (!bulkDone) {
    await new Promise((resolve) => setImmediate(resolve));
    if (bulkDone) break;
    assert.equal((await db.get('other')).v, 1);
    await assert.rejects(db.get('many'), (e: unknown) => (e as { code?: string }).code === 'not_found');
    reads++;
  }
  assert.ok(reads >= 5, `only ${reads} reads were answered during the bulk write`);
  const results = await bulk;
  assert.equal(results.length, 3000);
  assert.equal(((await db.get('many', { conflicts: true }))._conflicts as string[]).length, 2999);
});

for (const durability of ['durable', 'fast'] as const) {
  test(`${durability} mode: a flush failing while a long bulk write computes fails that write too, and nothing hangs`, { timeout: 60_000 }, async (t) => {
    const { engine, hold, fail } = gatedEngine();
    const db = await openDatabase(`failing-${durability}`, { engine, durability });
    t.after(() => db.close().catch(() => undefined));
    await db.put({ _id: 'seed' });
    hold();
    const a = db.put({ _id: 'a' }).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    const hex = (i: number) => i.toString(16).padStart(32, '0');
    const b = db.bulkDocs(Array.from({ length: 3000 }, (_, i) => ({ _id: 'x', _rev: `1-${hex(i)}`, v: i })), { newEdits: false }).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    await ticks(); // the bulk write is under way while the first write's flush is held
    fail();
    // The bulk write computed on top of a write that failed: it fails too, rather than be kept or acknowledged.
    assert.equal(await b, 'internal');
    if (durability === 'durable') assert.equal(await a, 'internal');
    // Reads still answer (they wait on no flush that will never come), and writes are refused.
    assert.ok(['ok', 'internal'].includes(await db.info().then(() => 'ok', (e: { code?: string }) => e.code ?? '')));
    await assert.rejects(db.put({ _id: 'later' }), (e: unknown) => (e as { code?: string }).code === 'internal');
  });
}

/** The memory engine, counting the batches written to it and the keys of each. */
function countingEngine(): { engine: StorageEngine; writes: number[] } {
  const writes: number[] = [];
  const engine = chainWritesThrough('counting-memory', (chain, own) => {
    writes.push(chain.length);
    return own();
  });
  return { engine, writes };
}

test('fast mode on an engine without I/O: the writes of one turn share a flush, which a read of storage starts at once', async (t) => {
  const { engine, writes } = countingEngine();
  const db = await openDatabase('turns', { engine, durability: 'fast' });
  t.after(() => db.destroy());
  // The first write lists the design documents (a range read); later ones know there are none.
  await db.put({ _id: 'first' });
  await db.ensureFullCommit();
  const base = writes.length;
  // Each put resolves within this turn (the engine has no I/O): none is flushed yet.
  for (let i = 0; i < 20; i++) await db.put({ _id: `d${i}`, i });
  assert.equal(writes.length, base, 'no flush before the turn ends');
  // A range read cannot take unflushed values: it starts the flush rather than wait for the turn.
  assert.equal((await db.allDocs()).rows.length, 21);
  assert.equal(writes.length, base + 1, `one flush for the twenty puts, not ${writes.length - base}`);
  await db.put({ _id: 'e', i: 20 });
  await db.ensureFullCommit();
  assert.equal(writes.length, base + 2, 'ensureFullCommit starts the flush too');
  // Left alone, a write is flushed on the next turn.
  await db.put({ _id: 'f', i: 21 });
  await ticks();
  assert.equal(writes.length, base + 3, 'flushed by the next turn');
});

test('fast mode on an engine without I/O: a turn of many writes is flushed in bounded batches', async (t) => {
  const { engine, writes } = countingEngine();
  const db = await openDatabase('bounded', { engine, durability: 'fast' });
  t.after(() => db.destroy());
  await db.put({ _id: 'first' });
  await db.ensureFullCommit();
  const base = writes.length;
  for (let i = 0; writes.length === base; i++) {
    assert.ok(i < 5 * DEFERRED_MAX_KEYS, 'a flush starts once the keys of a turn pass the bound');
    await db.put({ _id: `d${i}`, a: i, b: `v${i}`, c: [i, i + 1] });
  }
  // Each put adds a handful of keys: the flush starts within one put of the bound.
  assert.ok(writes[base]! <= DEFERRED_MAX_KEYS + 16, `the first flush wrote ${writes[base]} keys, past the bound of ${DEFERRED_MAX_KEYS}`);
  await db.ensureFullCommit();
});

test('durable mode on an engine without I/O: each write is flushed before it is acknowledged', async (t) => {
  const { engine, writes } = countingEngine();
  const db = await openDatabase('durable-turns', { engine, durability: 'durable' });
  t.after(() => db.destroy());
  await db.put({ _id: 'first' });
  const base = writes.length;
  for (let i = 0; i < 5; i++) {
    await db.put({ _id: `d${i}`, i });
    assert.equal(writes.length, base + i + 1, 'stored before it is acknowledged');
  }
});

test('fast mode: while a flush is held, writes are acknowledged only until the unflushed keys pass their bound', async (t) => {
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  const lengths: number[] = [];
  const engine = chainWritesThrough('bounded-memory', async (chain, own) => {
    lengths.push(chain.length);
    await gate;
    return own();
  });
  const db = await openDatabase('bounded-pending', { engine, durability: 'fast' });
  t.after(async () => {
    release();
    await db.destroy();
  });
  await db.ensureFullCommit();
  gate = new Promise((resolve) => (release = resolve));
  await db.put({ _id: 'first' });
  await ticks();
  const held = lengths.length;
  assert.ok(held > 0, 'the first flush is under way, held');
  // Groups of 100 new documents (a few keys each), each awaited: acknowledged at once until the
  // keys queued behind the held flush pass the bound, then no more.
  const group = 100;
  let acked = 0;
  let stalled: Promise<unknown> | undefined;
  for (let g = 0; stalled === undefined; g++) {
    assert.ok(acked < 10 * MAX_PENDING_KEYS, 'writes stop being acknowledged while the flush is held');
    const docs = Array.from({ length: group }, (_, i) => ({ _id: `d${String(g * group + i).padStart(6, '0')}`, v: g * group + i }));
    const written = db.bulkDocs(docs);
    if (await Promise.race([written.then(() => true), ticks().then(() => false)])) acked += group;
    else stalled = written;
  }
  assert.equal(lengths.length, held, 'nothing else was flushed meanwhile');
  release();
  await stalled;
  await db.ensureFullCommit();
  // The chain that waited behind the held flush: past the bound by at most the group that passed it.
  const queued = lengths[held]!;
  assert.ok(queued > MAX_PENDING_KEYS, `the writer went on up to its bound (${queued} keys queued)`);
  assert.ok(queued <= MAX_PENDING_KEYS + (queued / acked) * group, `${queued} keys queued for ${acked} documents: past the bound by more than one group`);
  assert.equal((await db.info()).docCount, 1 + acked + group, 'every write is stored once released');
});
