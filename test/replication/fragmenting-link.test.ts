// Replication over a link that cuts everything into 1-3 byte pieces (a fragmenting proxy on
// loopback): pull and push of documents with attachments, multi-byte text and conflicts end with
// identical trees and without a single retry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication, type ReplicationReport } from '../../src/replication/index.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { fragmentingProxy } from './helpers/fragmenting-proxy.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('pull and push over a link that fragments every write into 1-3 bytes', { timeout: 120_000 }, async (t) => {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicator: false });
  const proxy = await fragmentingProxy(Number(new URL(srv.url).port));
  const local = await openNode({ engine: 'memory' });
  t.after(async () => {
    await proxy.close();
    await srv.close();
    await node.close();
    await local.close();
  });
  const remote = `http://127.0.0.1:${proxy.port}`;
  const retries: string[] = [];
  const run = async (rep: Replication): Promise<ReplicationReport> => {
    rep.on('retry', (e) => retries.push(`${e.error.code}: ${e.error.reason}`));
    return rep.done;
  };
  const src = await node.createDb('src');
  for (let i = 0; i < 75; i++) {
    const text = 'ünïcødé 😀 日本語\n'.repeat(i % 4);
    const { rev } = await src.put({ _id: `dé/${i}/日本`, text, _attachments: { 'ß.txt': { content_type: 'text/plain', data: b64(`😀 ${i} `.repeat(1 + (i % 60))) } } });
    if (i % 25 === 0) await src.put({ _id: `dé/${i}/日本`, _rev: rev, _deleted: true });
  }
  const dst = await local.createDb('dst');
  const pulled = await run(new Replication(new HttpPeer(`${remote}/src`), new LocalPeer(dst), { batchSize: 20 }));
  assert.equal(pulled.docsWritten, 75);
  await assertSameTrees(src, dst);

  // The same documents edited on both sides: conflicts go out, then come back.
  for (let i = 1; i < 75; i += 13) {
    await dst.put({ ...(await dst.get(`dé/${i}/日本`)), side: 'local ✓' });
    await src.put({ ...(await src.get(`dé/${i}/日本`)), side: 'remote ✗' });
  }
  const mine = await local.createDb('mine');
  for (let i = 0; i < 50; i++) await mine.put({ _id: `p${i}`, _attachments: { 'b.bin': { content_type: 'application/octet-stream', data: b64('\n'.repeat(i) + 'x'.repeat(500 + i)) } } });
  const pushed = await run(new Replication(new LocalPeer(dst), new HttpPeer(`${remote}/src`), { batchSize: 20 }));
  assert.equal(pushed.docsWritten, 6);
  await run(new Replication(new HttpPeer(`${remote}/src`), new LocalPeer(dst), { batchSize: 20 }));
  await assertSameTrees(src, dst);
  const created = await run(new Replication(new LocalPeer(mine), new HttpPeer(`${remote}/theirs`), { batchSize: 20, createTarget: true }));
  assert.equal(created.docsWritten, 50);
  await assertSameTrees(mine, await node.db('theirs'));
  assert.deepEqual(retries, []);
});
