// A feed of all leaves (`style=all_docs`, every replicator's) that a filter judges judges each leaf,
// as CouchDB's couch_changes:filter/3 does: a row lists the leaves that pass and is left out when
// none does; its document (include_docs) stays the winner. A feed of winners judges the winner.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database, type Doc } from '../../src/index.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';

const branch = (id: string, revs: string[], body: Record<string, unknown>, deleted = false) => ({
  _id: id,
  _rev: revs[0],
  _revisions: { start: Number.parseInt(revs[0]!, 10), ids: revs.map((r) => r.slice(r.indexOf('-') + 1)) },
  ...body,
  ...(deleted && { _deleted: true }),
});

/** y: winner 1-b {v:2} beside 1-a {v:1}; z: winner 1-a {v:1} beside a deleted 2-d; w: one run {v:1}. */
async function seeded(name: string): Promise<Database> {
  const db = await openDatabase(name, { engine: 'memory' });
  await db.bulkDocs(
    [branch('y', ['1-a'], { v: 1 }), branch('y', ['1-b'], { v: 2 }), branch('z', ['1-a'], { v: 1 }), branch('z', ['2-d', '1-c'], {}, true), branch('w', ['1-e'], { v: 1 })],
    { newEdits: false },
  );
  return db;
}

const rows = (r: { results: Array<{ id: string; changes: Array<{ rev: string }>; doc?: Doc }> }) =>
  Object.fromEntries(r.results.map((row) => [row.id, row.changes.map((c) => c.rev)]));

test('a selector judges each leaf of a feed of all leaves, and only the winner of a feed of winners', async (t) => {
  const db = await seeded('leaf-selector');
  t.after(() => db.close());
  assert.deepEqual((await db.get('y'))._rev, '1-b');
  assert.deepEqual(rows(await db.changes({ style: 'all_docs', selector: { v: 1 } })), { y: ['1-a'], z: ['1-a'], w: ['1-e'] });
  assert.deepEqual(rows(await db.changes({ style: 'all_docs', selector: { v: 2 } })), { y: ['1-b'] });
  // A filter keeping deletions out keeps out the deleted leaf, not the document.
  assert.deepEqual(rows(await db.changes({ style: 'all_docs', selector: { _deleted: { $exists: false } } })), { y: ['1-b', '1-a'], z: ['1-a'], w: ['1-e'] });
  assert.deepEqual(rows(await db.changes({ selector: { v: 1 } })), { z: ['1-a'], w: ['1-e'] }, 'winners: y is not one');
  // The document given is the winner, whichever leaves passed.
  const withDocs = await db.changes({ style: 'all_docs', selector: { v: 1 }, includeDocs: true });
  assert.deepEqual(withDocs.results.map((r) => [r.id, r.doc?._rev]), [['y', '1-b'], ['z', '1-a'], ['w', '1-e']]);
  // A live feed answers the same.
  const stop = new AbortController();
  const live = db.subscribe({ style: 'all_docs', selector: { v: 1 }, signal: stop.signal });
  const first = await live.next();
  stop.abort();
  assert.deepEqual(first.done ? {} : rows({ results: first.value }), { y: ['1-a'], z: ['1-a'], w: ['1-e'] });
});

test('a named filter judges each leaf in its one call per chunk, after the selector', async (t) => {
  const db = await seeded('leaf-named');
  t.after(() => db.close());
  const seen: string[] = [];
  db.setDesignHooks({
    compileFilter: async () => async (docs) => {
      for (const d of docs) seen.push(`${d._id}@${d._rev}`);
      return docs.map((d) => d._deleted !== true);
    },
  });
  assert.deepEqual(rows(await db.changes({ style: 'all_docs', filter: 'f/alive' })), { y: ['1-b', '1-a'], z: ['1-a'], w: ['1-e'] });
  assert.deepEqual(seen.sort(), ['w@1-e', 'y@1-a', 'y@1-b', 'z@1-a', 'z@2-d']);
  seen.length = 0;
  assert.deepEqual(rows(await db.changes({ style: 'all_docs', filter: 'f/alive', selector: { v: 2 } })), { y: ['1-b'] });
  assert.deepEqual(seen, ['y@1-b'], 'only the leaves the selector passed are asked about');
  seen.length = 0;
  assert.deepEqual(rows(await db.changes({ filter: 'f/alive' })), { y: ['1-b'], z: ['1-a'], w: ['1-e'] });
  assert.deepEqual(seen.sort(), ['w@1-e', 'y@1-b', 'z@1-a'], 'a feed of winners asks about winners');
});

test('a filtered replication carries the leaves that pass, not those that do not', async (t) => {
  const a = await seeded('leaf-source');
  const b = await openDatabase('leaf-target', { engine: 'memory' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await replicate(new LocalPeer(a), new LocalPeer(b), { selector: { v: 1 } }).done;
  const leaves = async (id: string) => (await b.getOpenRevs(id, 'all')).map((r) => ('ok' in r ? r.ok._rev : r.missing)).sort();
  assert.deepEqual(await leaves('y'), ['1-a'], "y's passing leaf, though its winner does not pass");
  assert.deepEqual(await leaves('z'), ['1-a'], "not z's deleted leaf");
  assert.deepEqual(await leaves('w'), ['1-e']);
});
