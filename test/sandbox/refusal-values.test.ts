// A validate function's `throw({forbidden: v})` with a v that is no string: the error keeps v as
// its wire reason (reasonValue) and its JSON text as the reason, in single and batched calls.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const VDU = `function (newDoc) {
  if ('refuse' in newDoc) throw({forbidden: newDoc.refuse});
  if ('deny' in newDoc) throw({unauthorized: newDoc.deny});
  if (newDoc.fn) throw({forbidden: function () {}});
}`;

describe('sandbox: refusal values', () => {
  let sb: DesignSandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(() => sb.dispose());

  const refusedWith = (doc: object): RefugeError => {
    const fn = sb.compile(VDU);
    try {
      sb.validate(fn, doc, null, { name: null, roles: [] }, {});
    } catch (err) {
      assert.ok(err instanceof RefugeError);
      return err;
    }
    assert.fail('accepted');
  };

  it('keeps the thrown value beside its text', () => {
    const cases: Array<[unknown, string]> = [
      [{ foo: 'is object' }, '{"foo":"is object"}'],
      [['a', 1], '["a",1]'],
      [42, '42'],
      [null, 'null'],
      [false, 'false'],
    ];
    for (const [value, text] of cases) {
      const err = refusedWith({ _id: 'x', refuse: value });
      assert.equal(err.code, 'forbidden');
      assert.equal(err.reason, text);
      assert.deepEqual(err.reasonValue, value);
      assert.deepEqual(err.toJSON(), { error: 'forbidden', reason: value });
    }
    const denied = refusedWith({ _id: 'x', deny: { need: ['login'] } });
    assert.equal(denied.code, 'unauthorized');
    assert.deepEqual(denied.reasonValue, { need: ['login'] });
  });

  it('a string stays the reason; a value JSON cannot write keeps the text it had', () => {
    const err = refusedWith({ _id: 'x', refuse: 'plain' });
    assert.equal(err.reason, 'plain');
    assert.equal(err.reasonValue, 'plain');
    const fn = refusedWith({ _id: 'x', fn: true });
    assert.equal(fn.reason, 'function');
    assert.equal(fn.reasonValue, 'function');
  });

  it('validateMany answers each document its own value', async () => {
    const fn = sb.compile(VDU);
    const docs = [{ _id: 'a', refuse: { n: 1 } }, { _id: 'b' }, { _id: 'c', deny: [1, [2]] }].map((d) => [d, null] as const);
    const results = await sb.validateMany(fn, docs, { name: null, roles: [] }, {});
    assert.deepEqual(results[0]?.reasonValue, { n: 1 });
    assert.equal(results[1], undefined);
    assert.equal(results[2]?.code, 'unauthorized');
    assert.deepEqual(results[2]?.reasonValue, [1, [2]]);
  });
});
