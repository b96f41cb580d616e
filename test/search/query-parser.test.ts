// The Lucene-like query parser: the trees it builds and the query_parse_error it gives bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery } from '../../src/search/index.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { postsIndex } from './helpers.ts';

test('terms, phrases, fields, prefixes and operators', () => {
  assert.deepEqual(parseQuery('foo'), { type: 'term', text: 'foo' });
  assert.deepEqual(parseQuery('title:"big red" AND blu*'), {
    type: 'bool',
    must: [
      { type: 'phrase', field: 'title', text: 'big red' },
      { type: 'term', text: 'blu', prefix: true },
    ],
    should: [],
    not: [],
  });
  assert.deepEqual(parseQuery('a b'), { type: 'bool', must: [{ type: 'term', text: 'a' }, { type: 'term', text: 'b' }], should: [], not: [] });
  assert.deepEqual(parseQuery('a b', { any: true }), { type: 'bool', must: [], should: [{ type: 'term', text: 'a' }, { type: 'term', text: 'b' }], not: [] });
  assert.deepEqual(parseQuery('+a -b c', { any: true }), {
    type: 'bool',
    must: [{ type: 'term', text: 'a' }],
    should: [{ type: 'term', text: 'c' }],
    not: [{ type: 'term', text: 'b' }],
  });
  assert.deepEqual(parseQuery('a OR b AND c'), {
    type: 'bool',
    must: [],
    should: [{ type: 'term', text: 'a' }, { type: 'bool', must: [{ type: 'term', text: 'b' }, { type: 'term', text: 'c' }], should: [], not: [] }],
    not: [],
  });
  assert.deepEqual(parseQuery('t:(x y*)'), {
    type: 'bool',
    must: [{ type: 'term', text: 'x', field: 't' }, { type: 'term', text: 'y', field: 't', prefix: true }],
    should: [],
    not: [],
  });
  assert.deepEqual(parseQuery('foo~1^2.5'), { type: 'term', text: 'foo', fuzzy: 1, boost: 2.5 });
  assert.deepEqual(parseQuery('foo~2'), { type: 'term', text: 'foo', fuzzy: 2 });
  // Edits as Lucene counts them: at most 2, an old-style similarity by the term's length.
  const edits = (q: string) => (parseQuery(q) as { fuzzy?: number }).fuzzy;
  assert.deepEqual([edits('hello~3'), edits('hello~99999999999'), edits('hello~0.5'), edits('hello~0.7'), edits('hello~0'), edits('hello~')], [2, 2, 2, 1, 0, 2]);
  assert.equal((parseQuery('x'.repeat(256) + '~1') as { fuzzy?: number }).fuzzy, 1);
  assert.deepEqual(parseQuery('foo-bar a\\:b'), {
    type: 'bool',
    must: [{ type: 'term', text: 'foo-bar' }, { type: 'term', text: 'a:b' }],
    should: [],
    not: [],
  });
  assert.deepEqual(parseQuery('*:*'), { type: 'all' });
  assert.deepEqual(parseQuery('NOT a'), { type: 'bool', must: [], should: [], not: [{ type: 'term', text: 'a' }] });
  // A bare negation beside OR excludes from the disjunction (Lucene's reading); a group stays a query of its own.
  const a = { type: 'term', text: 'a' };
  const b = { type: 'term', text: 'b' };
  assert.deepEqual(parseQuery('a OR NOT b'), { type: 'bool', must: [], should: [a], not: [b] });
  assert.deepEqual(parseQuery('a OR (NOT b)'), { type: 'bool', must: [], should: [a, { type: 'bool', must: [], should: [], not: [b] }], not: [] });
  assert.deepEqual(parseQuery('NOT a OR NOT b'), { type: 'bool', must: [], should: [{ type: 'bool', must: [], should: [], not: [a] }, { type: 'bool', must: [], should: [], not: [b] }], not: [] });
});

const BAD = [
  // A fractional edit distance (Lucene refuses it); a fuzzy term long enough to hold the node for seconds.
  'hello~1.5',
  'x'.repeat(300) + '~1',
  '',
  '   ',
  'title:',
  '"unterminated',
  '(a OR b',
  'a OR b)',
  'a AND',
  'OR a',
  'a AND OR b',
  'year:[2000 TO 2010]',
  'year:{1 TO 2}',
  'fo*o',
  'f?o',
  '/regex/',
  'a^',
  'a^x',
  'trailing\\',
  '()',
  'x:*y',
];

test('bad queries give query_parse_error', () => {
  for (const q of BAD) {
    assert.throws(
      () => parseQuery(q),
      (err: unknown) => err instanceof RefugeError && err.code === 'query_parse_error' && err.status === 400 && err.reason.length > 0,
      `query ${JSON.stringify(q)}`,
    );
  }
});

test('bad search requests fail clearly', async (t) => {
  const { index, cleanup } = await postsIndex({ fields: ['title'] });
  t.after(cleanup);
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      return (err as RefugeError).code;
    }
    return 'no error';
  };
  assert.equal(code(() => index.search({ q: 'a AND' })), 'query_parse_error');
  assert.equal(code(() => index.search({})), 'query_parse_error');
  assert.equal(code(() => index.search({ q: 'a', limit: 201 })), 'query_parse_error');
  assert.equal(code(() => index.search({ q: 'a', limit: -1 })), 'query_parse_error');
  assert.equal(code(() => index.search({ q: 'a', sort: [] })), 'query_parse_error');
  assert.equal(code(() => index.search({ q: 'a', fields: { title: 3 as never } })), 'query_parse_error');
  assert.equal(code(() => index.search({ q: 'a', bookmark: 'not-a-bookmark!' })), 'bad_request');
  const other = index.search({ q: 'red', sort: ['title', 'year'] }).bookmark;
  assert.equal(code(() => index.search({ q: 'red', bookmark: other })), 'bad_request', 'a bookmark of another sort');
  assert.equal(index.search({ q: 'red', limit: 200 }).total_rows, 3);
});
