// WebSocket close reasons are held to their 123 bytes of UTF-8, never cut inside a character.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeReason } from '../../src/http/ws-close.ts';

test('a close reason keeps at most 123 bytes of UTF-8, whole characters only', () => {
  assert.equal(closeReason('short'), 'short');
  for (const ch of ['a', 'é', '€', '💩']) {
    const reason = closeReason(ch.repeat(200));
    assert.ok(Buffer.byteLength(reason) <= 123, ch);
    assert.ok(Buffer.byteLength(reason) > 123 - Buffer.byteLength(ch), ch);
    assert.equal(reason, ch.repeat([...reason].length), 'no character split');
  }
});
