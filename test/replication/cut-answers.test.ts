// A _revs_diff answer cut right after its headers (a body without a length, none of it arrived) is
// retried as any answer cut short, never read as "nothing missing", which passed its batch by.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpPeer, replicate } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { startMiniCouch } from './helpers/mini-couch.ts';
import { assertSameTrees } from './helpers/trees.ts';

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 5 };

test('a _revs_diff answer cut after its headers is retried, and every document arrives', async (t) => {
  let cut = 0;
  const server = await startMiniCouch({
    intercept: (req, res) => {
      if (cut > 0 || !req.url!.startsWith('/remote/_revs_diff')) return false;
      cut++;
      res.socket!.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n');
      return true;
    },
  });
  const local = await freshDb('memory');
  t.after(async () => {
    await server.close();
    await local.cleanup();
  });
  const remote = await server.createDb('remote');
  await local.db.bulkDocs(Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, i })));
  const rep = replicate(local.db, new HttpPeer(`${server.url}/remote`), { retry: FAST_RETRY });
  const retries: string[] = [];
  rep.on('retry', (e) => retries.push(e.error.reason));
  const report = await rep.done;
  assert.equal(cut, 1);
  assert.equal(retries.length, 1);
  assert.match(retries[0]!, /_revs_diff: the answer is empty/);
  assert.equal(report.docsWritten, 10);
  await assertSameTrees(local.db, remote);
});
