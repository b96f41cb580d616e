// New documents whose ids sort above every stored id are written without reading storage for their
// records (id-ceiling.ts); every other id is still read, so a write never mistakes an existing
// document for a new one: not across a reopen, not for ids whose UTF-16 and UTF-8 orders disagree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openDatabase } from '../../src/index.ts';
import type { Database } from '../../src/core.ts';
import { memoryEngine, type KvStore, type StorageEngine } from '../../src/storage/index.ts';
import { ENGINES, engineFor, tempDir } from '../helpers/db.ts';

/** The memory engine, counting the point reads of document records (`d!` keys) made on its stores. */
function recordReadsCounted(): { engine: StorageEngine; reads: () => number } {
  let reads = 0;
  const count = (key: string) => {
    if (key.startsWith('d!')) reads++;
  };
  const engine: StorageEngine = {
    name: 'record-reads-counted',
    async open(options) {
      const store: KvStore = await memoryEngine.open(options);
      const { get, getMany, getSync } = store;
      store.get = (key) => (count(key), get.call(store, key));
      store.getMany = (keys) => (keys.forEach(count), getMany.call(store, keys));
      if (getSync) store.getSync = (key) => (count(key), getSync.call(store, key));
      return store;
    },
    destroy: (location) => memoryEngine.destroy(location),
  };
  return { engine, reads: () => reads };
}

const docs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ _id: `doc${String(from + i).padStart(4, '0')}`, n: from + i }));

test('new documents with ids above every stored id are written without a read of their records; others are read', async (t) => {
  const { engine, reads } = recordReadsCounted();
  const db = await openDatabase('ceiling', { engine, durability: 'fast' });
  t.after(() => db.destroy());
  assert.equal(reads(), 0, 'nothing read at open');
  await db.bulkDocs(docs(0, 100));
  await db.ensureFullCommit();
  assert.equal(reads(), 0, 'a first load into an empty database reads no record');
  const results = await db.bulkDocs(docs(100, 200));
  assert.ok(results.every((r) => 'ok' in r), 'the second load is written');
  await db.put({ _id: 'doc0200', n: 200 });
  assert.equal(reads(), 0, 'ids above the highest stored one are known to be new');

  // One id below the ceiling in a bulk write: read, and found to exist.
  const mixed = await db.bulkDocs([...docs(201, 203), { _id: 'doc0050', n: -1 }]);
  assert.equal(reads(), 1, 'only the id below the ceiling is read');
  assert.deepEqual(
    mixed.map((r) => ('error' in r ? r.error : 'ok')),
    ['ok', 'ok', 'conflict'],
    'the existing document is not taken for a new one',
  );
  // A new id below the ceiling is read, and created.
  await db.put({ _id: 'doc0050a' });
  assert.equal(reads(), 2, 'a new id below the ceiling is read');
  assert.equal((await db.info()).docCount, 204);
});

test('revsDiff reads no record for ids above every stored id (a replication into a new database)', async (t) => {
  const { engine, reads } = recordReadsCounted();
  const db = await openDatabase('diff', { engine, durability: 'fast' });
  t.after(() => db.destroy());
  const [stored] = await db.bulkDocs([{ _id: 'm' }]);
  await db.ensureFullCommit();
  const rev = 'ok' in stored! ? stored.rev : assert.fail('written');
  const other = '1-' + 'a'.repeat(32);
  const diff = await db.revsDiff({ n: [other], z: [other, '2-' + 'b'.repeat(32)] });
  assert.equal(reads(), 0, 'ids above the ceiling are not looked for');
  assert.deepEqual(diff, { n: { missing: [other] }, z: { missing: [other, '2-' + 'b'.repeat(32)] } });
  // Below it (or at it), ids are read: the stored rev is not missing, the other is.
  const mixed = await db.revsDiff({ a: [other], m: [rev, '2-' + 'c'.repeat(32)], q: [other] });
  assert.equal(reads(), 2, 'the two ids at or below the ceiling are read');
  assert.deepEqual(mixed, { a: { missing: [other] }, m: { missing: ['2-' + 'c'.repeat(32)], possibleAncestors: [rev] }, q: { missing: [other] } });
});

test('documents given no id get increasing ids, after those of an earlier open too, and are written without a read', async (t) => {
  const { engine, reads } = recordReadsCounted();
  const dir = await tempDir();
  t.after(() => dir.cleanup());
  // The memory engine keeps nothing across opens: LevelDB shows the ids of a new open (in this process;
  // ids.test.ts gives a generator made later, as a restarted node has, a clock of its own).
  const level = await openDatabase('made', { engine: 'leveldb', dataDir: dir.path, durability: 'fast' });
  const first = await level.bulkDocs([{ a: 1 }, { a: 2 }]);
  await level.close();
  const again = await openDatabase('made', { engine: 'leveldb', dataDir: dir.path, durability: 'fast' });
  t.after(() => again.close());
  const later = await again.bulkDocs([{ a: 3 }]);
  const ids = [...first, ...later].map((r) => ('ok' in r ? r.id : assert.fail(JSON.stringify(r))));
  assert.deepEqual([...ids].sort(), ids, `each id sorts after those made before: ${ids.join(' ')}`);
  assert.equal(new Set(ids).size, 3);

  const db = await openDatabase('made', { engine, durability: 'fast' });
  t.after(() => db.destroy());
  await db.bulkDocs(Array.from({ length: 100 }, (_, n) => ({ n })));
  for (let n = 0; n < 10; n++) await db.put({ n } as never);
  assert.equal(reads(), 0, 'no record read for a document given no id');
  assert.equal((await db.info()).docCount, 110);
});

for (const name of ENGINES) {
  test(`${name}: an existing document is never taken for a new one (astral ids, reopen, purge)`, async (t) => {
    const dir = await tempDir();
    t.after(() => dir.cleanup());
    const engine = await engineFor(name);
    const open = () => openDatabase('ceiling', { engine, dataDir: dir.path, durability: 'fast' });
    let db: Database = await open();
    t.after(() => db.close());
    // U+E000 sorts after the surrogates of U+1F600 as UTF-16, before it as UTF-8 (storage's order).
    const high = '\u{1F600}';
    const low = '\uE000';
    const first = await db.put({ _id: high });
    await db.put({ _id: low });
    const again = await db.bulkDocs([{ _id: high }, { _id: low }, { _id: '\u{1F601}' }]);
    assert.deepEqual(
      again.map((r) => ('error' in r ? r.error : 'ok')),
      ['conflict', 'conflict', 'ok'],
      'both existing documents conflict, the new one is written',
    );
    if (name !== 'memory') {
      await db.close();
      db = await open();
      await assert.rejects(db.put({ _id: '\u{1F601}' }), { code: 'conflict' }, 'the highest stored id after a reopen');
      await assert.rejects(db.put({ _id: low }), { code: 'conflict' }, 'an id below it after a reopen');
    }
    // A purged document leaves its id free: writing it again creates it anew.
    await db.purge({ [high]: [first.rev] });
    const created = await db.put({ _id: high, again: true });
    assert.match(created.rev, /^1-/, 'the purged id is a new document');
    assert.equal((await db.info()).docCount, 3);
  });
}

test('property: a put without a rev conflicts exactly when the document is live, across deletes, purges and reopens', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.cleanup());
  // Few ids, ordered differently by UTF-16 and UTF-8, so writes land above, at and below the ceiling.
  const ids = ['a', 'b', 'z', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}'];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), id: fc.constantFrom(...ids) }),
    fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...ids) }),
    fc.record({ kind: fc.constant('purge' as const), id: fc.constantFrom(...ids) }),
    fc.record({ kind: fc.constant('reopen' as const) }),
  );
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const name = `p${run++}`;
      const open = () => openDatabase(name, { engine: 'leveldb', dataDir: dir.path, durability: 'fast' });
      let db = await open();
      /** The model: each id's winning rev and whether it is live; absent when never written or purged. */
      const model = new Map<string, { rev: string; live: boolean }>();
      try {
        for (const o of ops) {
          if (o.kind === 'reopen') {
            await db.close();
            db = await open();
            continue;
          }
          const known = model.get(o.id);
          if (o.kind === 'put') {
            const [r] = await db.bulkDocs([{ _id: o.id }]);
            if (known?.live) assert.equal('error' in r! && r.error, 'conflict', `put of live ${o.id}`);
            else {
              assert.ok('ok' in r!, `put of ${known ? 'deleted' : 'absent'} ${o.id}: ${JSON.stringify(r)}`);
              model.set(o.id, { rev: r.rev, live: true });
            }
          } else if (o.kind === 'delete' && known?.live) {
            const r = await db.remove(o.id, known.rev);
            model.set(o.id, { rev: r.rev, live: false });
          } else if (o.kind === 'purge' && known) {
            // Every leaf of its one branch: the document is gone with its history.
            await db.purge({ [o.id]: [known.rev] });
            model.delete(o.id);
          }
        }
        const live = [...model].filter(([, v]) => v.live).map(([id]) => id);
        assert.equal((await db.info()).docCount, live.length, 'live documents counted');
        for (const id of live) assert.equal((await db.get(id))._rev, model.get(id)!.rev, `${id} at its model rev`);
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: 25 },
  );
});
