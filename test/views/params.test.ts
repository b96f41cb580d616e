// Request parsing (query strings with JSON values, POST bodies, multi-queries) and design document
// validation with CouchDB's reasons.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { parseDesignDoc, parseViewParams, parseViewRequest } from '../../src/views/index.ts';

const reasonOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (e) {
    assert.ok(isRefugeError(e));
    return `${e.code}: ${e.reason}`;
  }
};

describe('view request parameters', () => {
  test('query-string values: JSON keys, flags, integers, stale/update', () => {
    const o = parseViewParams(
      new URLSearchParams('key=%22a%22&startkey_docid=x&limit=5&skip=1&descending=TRUE&group_level=2&include_docs=false&stale=ok&inclusive_end=false&update_seq=true&foo=bar'),
    );
    assert.deepEqual(o, { key: 'a', startkeyDocid: 'x', limit: 5, skip: 1, descending: true, groupLevel: 2, includeDocs: false, update: 'false', inclusiveEnd: false, updateSeq: true });
    assert.deepEqual(parseViewParams({ start_key: '[1,{}]', end_key: 'null', keys: '["a",2]', update: 'lazy' }), { startkey: [1, {}], endkey: null, keys: ['a', 2], update: 'lazy' });
  });

  test('bad values are query_parse_error with CouchDB reasons; bad JSON is its bad_request', () => {
    assert.equal(reasonOf(() => parseViewParams({ limit: '-1' })), 'query_parse_error: Invalid value for positive integer: "-1"');
    assert.equal(reasonOf(() => parseViewParams({ group_level: '-1' })), 'query_parse_error: Invalid value for positive integer: "-1"');
    assert.equal(reasonOf(() => parseViewParams({ skip: 'abc' })), 'query_parse_error: Invalid value for integer: "abc"');
    assert.equal(reasonOf(() => parseViewParams({ descending: 'yes' })), 'query_parse_error: Invalid boolean parameter: "yes"');
    assert.equal(reasonOf(() => parseViewParams({ stale: 'later' })), 'query_parse_error: Invalid value for `stale`.');
    assert.equal(reasonOf(() => parseViewParams({ update: 'maybe' })), 'query_parse_error: Invalid value for `update`.');
    assert.equal(reasonOf(() => parseViewParams({ stable: 'TRUE' })), 'query_parse_error: Invalid value for `stable`.');
    assert.equal(reasonOf(() => parseViewParams({ sorted: 'no' })), 'query_parse_error: Invalid boolean parameter: "no"');
    assert.equal(reasonOf(() => parseViewParams({ att_encoding_info: '1' })), 'query_parse_error: Invalid boolean parameter: "1"');
    assert.equal(reasonOf(() => parseViewRequest({}, { stable: false, sorted: 'False', att_encoding_info: true })), 'no error');
    for (const name of ['key', 'keys', 'startkey', 'start_key', 'endkey', 'end_key']) {
      assert.equal(reasonOf(() => parseViewParams({ [name]: 'abc' })), 'bad_request: invalid UTF-8 JSON', name);
    }
  });

  test('POST bodies: keys and other members on top of the query string; queries for several', () => {
    assert.deepEqual(parseViewRequest({ limit: '2' }, { keys: ['a', 'b'], include_docs: true }), { options: { limit: 2, keys: ['a', 'b'], includeDocs: true } });
    assert.deepEqual(parseViewRequest({ reduce: 'false' }, { queries: [{ keys: [1] }, { startkey: 'a', limit: 1 }] }), {
      queries: [
        { reduce: false, keys: [1] },
        { reduce: false, startkey: 'a', limit: 1 },
      ],
    });
    assert.equal(reasonOf(() => parseViewRequest({}, { keys: 'a' })), 'bad_request: `keys` member must be an array.');
    assert.equal(reasonOf(() => parseViewRequest({}, { queries: {} })), 'bad_request: `queries` member must be an array.');
  });
});

describe('design documents', () => {
  test('validation reasons follow CouchDB', () => {
    const bad = (ddoc: Record<string, unknown>) => reasonOf(() => parseDesignDoc({ _id: '_design/d', ...ddoc }));
    assert.equal(bad({ views: [] }), 'invalid_design_doc: `views` field should be object');
    assert.equal(bad({ views: { v: 'x' } }), 'invalid_design_doc: `views.v` field should be object');
    assert.equal(bad({ views: { v: { map: 1 } } }), 'invalid_design_doc: `views.v.map` field should be string');
    assert.equal(bad({ views: { v: { map: 'f', reduce: 2 } } }), 'invalid_design_doc: `views.v.reduce` field should be string');
    assert.equal(bad({ views: { v: {} } }), 'invalid_design_doc: View `v` must contain map function');
    assert.equal(bad({ views: { v: { map: 'f', reduce: '_median' } } }), 'invalid_design_doc: `_median` is not a supported reduce function.');
    assert.equal(bad({ language: 3 }), 'invalid_design_doc: `language` field should be string');
    assert.equal(bad({ options: { include_design: 'yes' } }), 'invalid_design_doc: `options.include_design` field should be boolean');
    assert.equal(bad({ views: { lib: 'x' } }), 'invalid_design_doc: `views.lib` field should be object');
    assert.equal(bad({ language: 'query', views: { v: { map: 'f' } } }), 'invalid_design_doc: `views.v.map` field should be object');
    assert.equal(bad({ views: { v: { map: 'f' } } }), 'no error');
  });

  test('the signature covers what shapes the index and nothing else', () => {
    const base = { _id: '_design/d', views: { v: { map: 'function(doc){ emit(1) }' }, lib: { m: 'exports.x = 1' } } };
    const sig = parseDesignDoc(base).signature;
    assert.equal(parseDesignDoc({ ...base, _rev: '2-x', shows: { s: 'function(){}' }, filters: {} }).signature, sig);
    assert.equal(parseDesignDoc({ ...base, _id: '_design/other' }).signature, sig);
    assert.notEqual(parseDesignDoc({ ...base, views: { ...base.views, v: { map: 'function(doc){ emit(2) }' } } }).signature, sig);
    assert.notEqual(parseDesignDoc({ ...base, views: { ...base.views, v: { ...base.views.v, reduce: '_count' } } }).signature, sig);
    assert.notEqual(parseDesignDoc({ ...base, views: { ...base.views, lib: { m: 'exports.x = 2' } } }).signature, sig);
    assert.notEqual(parseDesignDoc({ ...base, options: { include_design: true } }).signature, sig);
    assert.notEqual(parseDesignDoc({ ...base, views: { ...base.views, v: { ...base.views.v, options: { collation: 'raw' } } } }).signature, sig);
  });
});
