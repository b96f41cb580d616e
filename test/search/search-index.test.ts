// SearchIndex over the fields form: terms, phrases, prefixes, fields, ranking, sorting, paging with
// bookmarks, and incremental updates from the changes feed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ids, postsIndex, sorted } from './helpers.ts';

const ALL = { fields: ['title', 'body', 'tags', 'author.name'], store: ['title', 'year'] };

test('free terms must all match by default; any: true needs one', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'red' }))), ['n1', 'p1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red fox' }))), ['p1']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red fox', any: true }))), ['n1', 'p1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'RED Fox' }))), ['p1'], 'the analyzer lower-cases query terms too');
  assert.equal(index.search({ q: 'nothinghere' }).total_rows, 0);
});

test('boolean operators, groups, +/- and *:*', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'fox OR sky' }))), ['p1', 'p3']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red AND NOT fox' }))), ['n1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red -fox' }))), ['n1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: '-red' }))), ['p3', 'p4']);
  // As Lucene parses it: a negated side of OR excludes from the disjunction, it adds nothing.
  assert.deepEqual(sorted(ids(index.search({ q: 'red OR NOT fox' }))), ['n1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'fox OR sky OR NOT urban' }))), ['p1', 'p3']);
  assert.deepEqual(sorted(ids(index.search({ q: '(fox OR sky) && !urban' }))), ['p1', 'p3']);
  assert.deepEqual(sorted(ids(index.search({ q: 'big +balloons', any: true }))), ['p2']);
  assert.equal(index.search({ q: '*:*' }).total_rows, 5);
  assert.deepEqual(sorted(ids(index.search({ q: 'author.name:*' }))), ['p4'], 'field:* finds documents that have the field');
});

test('quoted phrases need the words adjacent and in order, within one value', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(ids(index.search({ q: '"big red"' })), ['p1']);
  assert.deepEqual(ids(index.search({ q: '"red big"' })), ['p2']);
  assert.deepEqual(ids(index.search({ q: 'title:"big red" OR "blue too"' })).sort(), ['p1', 'p3']);
  assert.deepEqual(ids(index.search({ q: '"lazy dog"' })), ['p1']);
  assert.equal(index.search({ q: '"dog lazy"' }).total_rows, 0);
  // tags ["animals", "fox"] are two values: no phrase across them.
  assert.equal(index.search({ q: 'tags:"animals fox"' }).total_rows, 0);
  assert.deepEqual(ids(index.search({ q: 'title:"big red" AND fox*' })), ['p1']);
});

test('prefix and fuzzy terms, scoped to a field when one is named', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'blu*' }))), ['p2', 'p3']);
  assert.deepEqual(sorted(ids(index.search({ q: 'title:blu*' }))), ['p3']);
  assert.deepEqual(sorted(ids(index.search({ q: 'title:fox*' }))), ['p1', 'p4']);
  assert.deepEqual(sorted(ids(index.search({ q: 'title:foxs~1' }))), ['p1', 'p4']);
  assert.deepEqual(sorted(ids(index.search({ q: 'tags:anmals~1' }))), ['p1', 'p4']);
});

test('field queries and structured field filters', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'title:red' }))), ['n1', 'p1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'body:red' }))), ['p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'title:(red big)' }))), ['p1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'author.name:lovelace' }))), ['p4']);
  assert.deepEqual(sorted(ids(index.search({ fields: { tags: ['party', 'weather'] } }))), ['p2', 'p3']);
  assert.deepEqual(sorted(ids(index.search({ fields: { title: 'big red' } }))), ['p1', 'p2']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red', fields: { tags: 'fox' } }))), ['p1']);
});

test('ranking: more and denser occurrences score higher; order is [score, id]', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  const r = index.search({ q: 'blue' });
  assert.deepEqual(ids(r), ['p3', 'p2']);
  assert.ok((r.rows[0]!.order[0] as number) > (r.rows[1]!.order[0] as number));
  assert.equal(r.rows[0]!.order[1], 'p3');
  assert.deepEqual(r.rows[0]!.fields, { title: 'Blue sky thinking', year: 2019 });
  // A boost lifts its clause.
  assert.equal(ids(index.search({ q: 'fox OR sky^10' }))[0], 'p3');
  assert.equal(ids(index.search({ q: 'fox^10 OR sky' }))[0], 'p1');
});

test('sort by stored fields', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(ids(index.search({ q: 'title:*', sort: '-year<number>' })), ['p4', 'p2', 'p1', 'p3', 'n1']);
  assert.deepEqual(ids(index.search({ q: 'title:*', sort: ['year'] })), ['p3', 'p1', 'p2', 'p4', 'n1']);
  const r = index.search({ q: 'title:*', sort: 'title<string>', limit: 2 });
  assert.deepEqual(ids(r), ['n1', 'p3']);
  assert.deepEqual(r.rows[0]!.order, ['A red note', 'n1']);
  assert.deepEqual(ids(index.search({ q: 'title:*', sort: 'title<string>', bookmark: r.bookmark, limit: 2 })), ['p4', 'p2']);
});

test('sort by fields only indexed: by their indexed text, a number when it reads as one', async (t) => {
  const { index, cleanup } = await postsIndex({ fields: ['title', 'year'] });
  t.after(cleanup);
  assert.deepEqual(ids(index.search({ q: 'title:*', sort: '-year<number>' })), ['p4', 'p2', 'p1', 'p3', 'n1']);
  assert.deepEqual(ids(index.search({ q: 'title:*', sort: ['year'] })), ['p3', 'p1', 'p2', 'p4', 'n1']);
  // The title's terms as indexed: lower-cased ("a red note" < "blue sky thinking" < ... < "the big red fox").
  const byTitle = index.search({ q: 'title:*', sort: 'title<string>', limit: 5 });
  assert.deepEqual(ids(byTitle), ['n1', 'p3', 'p4', 'p2', 'p1']);
  const next = index.search({ q: 'title:*', sort: 'title<string>', limit: 2, bookmark: index.search({ q: 'title:*', sort: 'title<string>', limit: 3 }).bookmark });
  assert.deepEqual(ids(next), ['p2', 'p1']);
});

test('bookmarks page through every result exactly once, ties included', async (t) => {
  const { db, index, feeder, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  // 57 documents with the same text score the same: only the id tells them apart.
  await db.bulkDocs(Array.from({ length: 57 }, (_, i) => ({ _id: `same${String(i).padStart(2, '0')}`, title: 'twin text', year: i % 5 })));
  await feeder.catchUp();
  for (const sort of [undefined, '-year<number>']) {
    const seen: string[] = [];
    let bookmark: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = index.search({ q: 'twin', limit: 10, ...(sort ? { sort } : {}), ...(bookmark ? { bookmark } : {}) });
      assert.equal(r.total_rows, 57);
      if (r.rows.length === 0) break;
      seen.push(...ids(r));
      bookmark = r.bookmark;
    }
    assert.equal(seen.length, 57, `sort ${sort}`);
    assert.equal(new Set(seen).size, 57);
  }
  const last = index.search({ q: 'twin', limit: 200 });
  assert.equal(last.rows.length, 57);
  assert.equal(index.search({ q: 'twin', bookmark: last.bookmark }).rows.length, 0);
  assert.equal(index.search({ q: 'twin', limit: 0 }).total_rows, 57);
});

test('updates and deletions are reflected incrementally', async (t) => {
  const { db, index, feeder, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  const p1 = await db.get('p1');
  await db.put({ ...p1, title: 'A green fox' });
  const p2 = await db.get('p2');
  await db.remove('p2', p2._rev!);
  await db.put({ _id: 'p9', title: 'red kite', year: 2024 });
  const before = index.stats.appliedChanges;
  await feeder.catchUp();
  assert.equal(index.stats.appliedChanges - before, 3, 'only the three changed documents were applied');
  assert.deepEqual(sorted(ids(index.search({ q: 'red' }))), ['n1', 'p9']);
  assert.deepEqual(ids(index.search({ q: 'green' })), ['p1']);
  assert.deepEqual(index.search({ q: 'green' }).rows[0]!.fields, { title: 'A green fox', year: 2020 });
  assert.equal(index.search({ q: 'balloons' }).total_rows, 0);
  assert.equal(index.documentCount, 5);
  assert.equal(await index.indexedSeq(), (await db.info()).updateSeq);
});

test('the selector limits what is indexed; design documents never are', async (t) => {
  const { db, index, feeder, cleanup } = await postsIndex({ fields: ['title'], selector: { type: 'post' } });
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'red' }))), ['p1', 'p2']);
  await db.put({ _id: '_design/x', title: 'red design', indexes: {} });
  const n1 = await db.get('n1');
  await db.put({ ...n1, type: 'post' });
  await feeder.catchUp();
  assert.deepEqual(sorted(ids(index.search({ q: 'red' }))), ['n1', 'p1', 'p2']);
  const p1 = await db.get('p1');
  await db.put({ ...p1, type: 'draft' });
  await feeder.catchUp();
  assert.deepEqual(sorted(ids(index.search({ q: 'red' }))), ['n1', 'p2'], 'a document that stops matching leaves the index');
});

test('arrays are flattened along dotted paths and analyzers apply per field', async (t) => {
  const { db, index, feeder, cleanup } = await postsIndex({
    fields: ['authors.name', 'code'],
    analyzer: { name: 'perfield', default: 'standard', fields: { code: 'keyword' } },
    store: true,
  });
  t.after(cleanup);
  await db.bulkDocs([
    { _id: 'b1', authors: [{ name: 'Grace Hopper' }, { name: 'Alan Turing' }], code: 'AB-12 x' },
    { _id: 'b2', authors: { name: 'Alan Kay' }, code: 'ab-12' },
  ]);
  await feeder.catchUp();
  assert.deepEqual(sorted(ids(index.search({ q: 'authors.name:alan' }))), ['b1', 'b2']);
  assert.deepEqual(ids(index.search({ q: 'authors.name:"grace hopper"' })), ['b1']);
  assert.equal(index.search({ q: 'authors.name:"hopper alan"' }).total_rows, 0);
  assert.deepEqual(ids(index.search({ q: 'code:"AB-12 x"' })), ['b1'], 'keyword keeps the value whole and case');
  assert.deepEqual(ids(index.search({ q: 'code:ab\\-12' })), ['b2']);
  assert.deepEqual(index.search({ q: 'code:ab\\-12' }).rows[0]!.fields, { 'authors.name': 'Alan Kay', code: 'ab-12' });
});

test('after updates and deletions, pages still concatenate to the one-shot order (no stale postings)', async (t) => {
  const { db, index, feeder, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  const docs = Array.from({ length: 80 }, (_, i) => ({ _id: `w${String(i).padStart(2, '0')}`, body: `alpha ${words.slice(0, 1 + (i % 4)).join(' ')} ${'x'.repeat(i % 7)}` }));
  const written = await db.bulkDocs(docs);
  await feeder.catchUp();
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args);
  t.after(() => void (console.warn = warn));
  // Rewrite a third of them and delete a few: the library must drop their old terms at once.
  await db.bulkDocs(
    written.slice(0, 30).map((w, i) => ('rev' in w ? (i % 5 === 0 ? { _id: w.id, _rev: w.rev, _deleted: true } : { _id: w.id, _rev: w.rev, body: 'alpha beta beta' }) : {})),
  );
  await feeder.catchUp();
  assert.deepEqual(warnings, []);
  const whole = ids(index.search({ q: 'alpha', limit: 200 }));
  assert.equal(whole.length, 74);
  const paged: string[] = [];
  let bookmark: string | undefined;
  for (let i = 0; i < 20; i++) {
    const r = index.search({ q: 'alpha', limit: 7, ...(bookmark ? { bookmark } : {}) });
    if (r.rows.length === 0) break;
    paged.push(...ids(r));
    bookmark = r.bookmark;
  }
  assert.deepEqual(paged, whole);
});

test('a term that analyzes to nothing is left out, as Lucene does', async (t) => {
  const { index, cleanup } = await postsIndex(ALL);
  t.after(cleanup);
  assert.deepEqual(sorted(ids(index.search({ q: 'red & fox' }))), ['p1']);
  assert.deepEqual(sorted(ids(index.search({ q: 'red -— "…"' }))), ['n1', 'p1', 'p2']);
  assert.equal(index.search({ q: '&' }).total_rows, 0);
});
