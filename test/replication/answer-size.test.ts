// A peer's answers are read up to a size limit (maxAnswerBytes): a batch answer past it is asked
// again in halves, a single revision past it is a failure of that document, and nothing larger
// than the limit is ever held. The process's memory is not the peer's to fill.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication } from '../../src/replication/index.ts';
import { HttpClient } from '../../src/replication/http-client.ts';
import { isRefugeError } from '../../src/errors/index.ts';

test('answers past maxAnswerBytes: batches are fetched in halves, a document too large fails alone', async (t) => {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicator: false });
  const target = await openNode({ engine: 'memory' });
  t.after(async () => {
    await srv.close();
    await node.close();
    await target.close();
  });
  const src = await node.createDb('src');
  const docs = Array.from({ length: 12 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, text: 'x'.repeat(1500) }));
  await src.bulkDocs([...docs, { _id: 'huge', text: 'y'.repeat(20_000) }]);
  const dst = await target.createDb('dst');

  // A plain request past the limit is refused as too_large, not read whole.
  const client = new HttpClient(`${srv.url}/src`, { maxAnswerBytes: 8 * 1024 });
  await assert.rejects(client.request({ path: 'huge' }), (err) => isRefugeError(err, 'too_large'));

  const rep = new Replication(new HttpPeer(`${srv.url}/src`, { maxAnswerBytes: 8 * 1024 }), new LocalPeer(dst), { batchSize: 20 });
  const report = await rep.done;
  assert.equal(report.docsWritten, 12);
  assert.equal(report.docWriteFailures, 1);
  const ids = (await dst.allDocs()).rows.map((r) => r.id);
  assert.deepEqual(ids, docs.map((d) => d._id));
});
