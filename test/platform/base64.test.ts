// Both base64 implementations (Node's Buffer, the portable btoa/atob one) give the same text and
// bytes as each other and as the standard, for any bytes, padded or not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as nodeImpl from '../../src/platform/base64-node.ts';
import * as portable from '../../src/platform/base64-portable.ts';
import { decodeBase64, encodeBase64 } from '../../src/documents/attachments.ts';

test('both implementations encode and decode any bytes as the standard does', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.nat(7), (bytes, cut) => {
      // A view into a larger buffer: only its own bytes are encoded.
      const view = new Uint8Array(bytes.length + cut).subarray(cut);
      view.set(bytes);
      const text = Buffer.from(bytes).toString('base64');
      assert.equal(nodeImpl.bytesToBase64(view), text);
      assert.equal(portable.bytesToBase64(view), text);
      assert.deepEqual([...nodeImpl.base64ToBytes(text)], [...bytes]);
      assert.deepEqual([...portable.base64ToBytes(text)], [...bytes]);
      const unpadded = text.replace(/=+$/, '');
      assert.deepEqual([...nodeImpl.base64ToBytes(unpadded)], [...bytes]);
      assert.deepEqual([...portable.base64ToBytes(unpadded)], [...bytes]);
    }),
    { numRuns: 200 },
  );
});

test('attachment data: whitespace is passed over, anything else not base64 is refused', () => {
  assert.deepEqual([...decodeBase64('aGVs\nbG8=')], [...Buffer.from('hello')]);
  assert.equal(encodeBase64(new Uint8Array(Buffer.from('hello'))), 'aGVsbG8=');
  for (const bad of ['a', 'aGVsbG8=!', 'aG=VsbG8', 'aGVsbG8==='])
    assert.throws(() => decodeBase64(bad), (err: { code?: string }) => err.code === 'bad_request', bad);
});
