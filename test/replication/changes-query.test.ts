// The changes request as the HTTP peer sends it: a long-poll's wait is computed once, and the
// `timeout` and `heartbeat` it asks of the server and the wait its own timers allow agree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changesQuery, heartbeatFor } from '../../src/replication/http-changes.ts';

test("a long-poll's wait is the timeout it asks, its heartbeat derived from it; other feeds ask neither", () => {
  const cases: Array<[number | undefined, number]> = [[1234.4, 1234], [0.2, 1], [undefined, 30_000]];
  for (const [timeoutMs, wait] of cases) {
    const { query, waitMs } = changesQuery({ feed: 'longpoll', style: 'all_docs', since: 0, limit: 10, ...(timeoutMs !== undefined && { timeoutMs }) });
    assert.equal(waitMs, wait);
    assert.equal(query.timeout, wait);
    assert.equal(query.heartbeat, heartbeatFor(wait));
    assert.equal(query.feed, 'longpoll');
  }
  const normal = changesQuery({ feed: 'normal', style: 'all_docs', since: 0, limit: 10, timeoutMs: 500 });
  assert.equal(normal.waitMs, undefined);
  assert.deepEqual([normal.query.feed, normal.query.timeout, normal.query.heartbeat], [undefined, undefined, undefined]);
});
