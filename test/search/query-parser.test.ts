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
  assert.equal((parseQuery('x'.repeat(256) + '~1') as { fuzzy?: number }).fuzzy, 1);
  assert.deepEqual(parseQuery('foo-bar a\\:b'), {
    type: 'bool',
    must: [{ type: 'term', text: 'foo-bar' }, { type: 'term', text: 'a:b' }],
    should: [],
    not: [],
  });
  assert.deepEqual(parseQuery('*:*'), { type: 'all' });
  assert.deepEqual(parseQuery('NOT a'), { type: 'bool', must: [], should: [], not: [{ type: 'term', text: 'a' }] });
});

const BAD = [
  // More edits than Lucene allows; a fuzzy term long enough to hold the node for seconds.
  'hello~3',
  'hello~99999999999',
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
