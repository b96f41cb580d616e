// Document checks shared by every write: ids (a lone surrogate has no UTF-8 form and is refused),
// and checkDoc, which refuses exactly what splitDoc refuses without copying the body.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDoc, splitDoc, validateDocId } from '../../src/documents/index.ts';

test('ids with a lone surrogate are refused (illegal_docid); paired surrogates are taken', () => {
  for (const id of ['\ud800', 'a\udc00', 'x\udc00\ud800y', '\ud83d', 'end\ud83d']) {
    assert.throws(() => validateDocId(id), { code: 'illegal_docid' }, `refused: ${JSON.stringify(id)}`);
  }
  for (const id of ['\u{1F600}', 'a\ud83d\ude00b', '\uE000', 'plain']) assert.equal(validateDocId(id), id, `taken: ${JSON.stringify(id)}`);
});

test('checkDoc refuses what splitDoc refuses, with the same error, and takes what it takes', () => {
  const docs: unknown[] = [
    null,
    [],
    'x',
    new Date(0),
    { _id: '' },
    { _id: 7 },
    { _id: '_bad' },
    { _id: 'a\ud800' },
    { _id: 'a', _rev: 'nonsense' },
    { _id: 'a', _deleted: 'yes' },
    { _id: 'a', _unknown: 1 },
    { _id: 'a', _attachments: [] },
    { _id: 'a', x: Number.POSITIVE_INFINITY },
    { _id: 'a', x: { y: () => 1 } },
    { _id: 'a', _revisions: { start: 'x', ids: [] } },
    { _id: 'a', x: 1, _deleted: true },
    { _id: '_design/d', views: {} },
    { x: [1, { y: null }] },
  ];
  for (const newEdits of [true, false]) {
    for (const doc of docs) {
      let split: unknown;
      let checked: unknown;
      try {
        splitDoc(doc, newEdits);
      } catch (err) {
        split = err;
      }
      try {
        checkDoc(doc, newEdits);
      } catch (err) {
        checked = err;
      }
      const label = `${JSON.stringify(doc) ?? String(doc)} (newEdits ${newEdits})`;
      assert.equal((checked as { code?: string } | undefined)?.code, (split as { code?: string } | undefined)?.code, label);
      assert.equal((checked as Error | undefined)?.message, (split as Error | undefined)?.message, label);
    }
  }
  const refused = docs.filter((d) => {
    try {
      checkDoc(d);
      return false;
    } catch {
      return true;
    }
  });
  assert.equal(refused.length, docs.length - 3, 'all but the last three are refused');
});
