// The `_attachments` member order read from a JSON text (multipart part matching): exact for any
// names, values and spacing, where JavaScript objects list array-index names first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attachmentNamesInOrder } from '../../src/http/json-member-order.ts';

const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n  ');
const name = fc.oneof(fc.string(), fc.constantFrom('0', '1', '7', '42', '_attachments', 'a"b', 'x\\y', 'été', '}', ']', ',', ':'), fc.nat(5000).map(String));

test('the text order of _attachments names, whatever the names, values and spacing', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(name, { maxLength: 8 }),
      fc.array(fc.jsonValue(), { minLength: 8, maxLength: 8 }),
      fc.array(fc.tuple(name, fc.jsonValue()), { maxLength: 4 }),
      fc.array(space, { minLength: 6, maxLength: 6 }),
      (names, values, others, ws) => {
        const [a, b, c, d, e, f] = ws as [string, string, string, string, string, string];
        const atts = names.map((n, i) => `${a}${JSON.stringify(n)}${b}:${c}${JSON.stringify(values[i])}`).join(`${d},`);
        const rest = others.filter(([k]) => k !== '_attachments').map(([k, v]) => `${JSON.stringify(k)}:${e}${JSON.stringify(v)}`);
        const text = `${f}{${[...rest.slice(0, 2), `"_attachments"${b}:${c}{${atts}${a}}`, ...rest.slice(2)].join(`${e},${f}`)}}${f}`;
        JSON.parse(text); // the function is only given text that parsed
        assert.deepEqual(attachmentNamesInOrder(text), names);
      },
    ),
    { numRuns: 300 },
  );
});

test('no _attachments, one that is not an object, and a repeated one (the last counts)', () => {
  assert.deepEqual(attachmentNamesInOrder('{"a":{"_attachments":{"x":1}}}'), []);
  assert.deepEqual(attachmentNamesInOrder('{"_attachments":null}'), []);
  assert.deepEqual(attachmentNamesInOrder('{"_attachments":{"b":1,"1":2},"_attachments":{"z":1,"0":2}}'), ['z', '0']);
  assert.deepEqual(attachmentNamesInOrder('{"_attachments":{"\\u0031":1,"b":2,"1":3}}'), ['1', 'b']);
});

test('linear in the number of names: 200,000 of them in well under a second', () => {
  const text = `{"_attachments":{${Array.from({ length: 200_000 }, (_, i) => `"n${i}":{"follows":true}`).join(',')},"0":{}}}`;
  const start = performance.now();
  const names = attachmentNamesInOrder(text);
  const ms = performance.now() - start;
  assert.equal(names.length, 200_001);
  assert.equal(names[0], 'n0');
  assert.equal(names.at(-1), '0');
  // Quadratic, this took minutes; a slow machine still does it in far less than this bound.
  assert.ok(ms < 5_000, `${ms} ms`);
});
