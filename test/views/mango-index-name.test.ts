// CouchDB's generated index names: Erlang's term_to_binary, checked against names CouchDB published.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { couchIndexName, jsonTerm, termToBinary, type Term } from '../../src/views/mango-index-name.ts';

const sha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');
const opt = (tag: string, value: Term): Term => ({ tuple: [{ atom: tag }, value] });

describe("CouchDB's index names (mango_idx:gen_name)", () => {
  test('the encoder gives the names CouchDB 2 answered (its options had no `partitioned`)', () => {
    // CouchDB's own docs (POST /db/_index) and Cloudant's: the same definition, named and not.
    const name = (index: unknown, named?: string) => {
      const def = jsonTerm(index);
      const auto: Term = { atom: 'auto_name' };
      const options = [opt('ddoc', auto), opt('def', def), opt('name', named ? { bin: named } : auto), opt('type', { bin: 'json' }), opt('w', { num: 2 })];
      return sha1(termToBinary({ tuple: [def, { list: options }] }));
    };
    assert.equal(name({ fields: ['foo'] }, 'foo-index'), 'a5f4711fc9448864a13c81dc71e660b524d7410c');
    assert.equal(name({ fields: ['foo'] }), 'a7ee061f1a2c0c6882258b2f1e148b714e79ccea');
  });

  test('terms as Erlang writes them: small integers, big ones, floats, strings of bytes, atoms', () => {
    const hex = (v: unknown) => Buffer.from(termToBinary(jsonTerm(v))).toString('hex');
    assert.equal(hex(2), '836102');
    assert.equal(hex(-1), '8362ffffffff');
    assert.equal(hex(2 ** 40), '836e0600' + '000000000001');
    assert.equal(hex(1.5), '8346' + '3ff8000000000000');
    assert.equal(hex([1, 2]), '836b00020102', 'a list of bytes is a string to Erlang');
    assert.equal(hex([1, 'a']), '836c00000002' + '6101' + '6d0000000161' + '6a');
    assert.equal(hex(null), '836400046e756c6c');
    assert.equal(hex({}), '8368016a');
    assert.equal(hex('é'), '836d00000002c3a9');
  });

  test("CouchDB 3's options: partitioned, w and the given name or ddoc all change the name", () => {
    const base = couchIndexName({ index: { fields: ['foo'] } });
    assert.match(base, /^[0-9a-f]{40}$/);
    assert.equal(couchIndexName({ index: { fields: ['foo'] }, type: 'json', w: 2 }), base, 'the defaults, given');
    for (const other of [
      { index: { fields: [{ foo: 'asc' }] } },
      { index: { fields: ['foo'] }, w: 3 },
      { index: { fields: ['foo'] }, partitioned: false },
      { index: { fields: ['foo'] }, name: 'n' },
      { index: { fields: ['foo'] }, ddoc: 'd' },
      { index: { fields: ['foo'] }, ddoc: '_design/d' },
    ]) {
      assert.notEqual(couchIndexName(other), base, JSON.stringify(other));
    }
  });
});

test('a definition with a very long field name is named (no spread of its bytes into one call)', () => {
  assert.match(couchIndexName({ index: { fields: ['x'.repeat(500_000)] } }), /^[0-9a-f]{40}$/);
  assert.match(couchIndexName({ index: { fields: ['a'], partial_filter_selector: { n: { $in: Array.from({ length: 300_000 }, () => 1) } } } }), /^[0-9a-f]{40}$/);
});
