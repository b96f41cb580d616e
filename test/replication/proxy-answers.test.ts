// Peers behind a reverse proxy that answers errors with its own HTML pages: the replicator acts on
// their status as on CouchDB's JSON ones (a 413 halves the batch, a 404 on _bulk_get reads documents
// one by one, a 401 fails at once) instead of retrying them as garbled answers.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { isRefugeError, type Database } from '../../src/core.ts';
import { HttpPeer, replicate } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { startMiniCouch, type MiniCouch, type MiniCouchOptions } from './helpers/mini-couch.ts';
import { assertSameTrees } from './helpers/trees.ts';

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 5 };

function htmlPage(res: ServerResponse, status: number, title: string): true {
  // The request body is left unread, as a proxy refusing it does: the connection goes with it.
  res.writeHead(status, { 'content-type': 'text/html', connection: 'close' });
  res.end(`<html>\r\n<head><title>${status} ${title}</title></head>\r\n<body>\r\n<center><h1>${status} ${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`);
  return true;
}

async function setup(t: TestContext, intercept: MiniCouchOptions['intercept']): Promise<{ server: MiniCouch; local: Database }> {
  const server = await startMiniCouch({ intercept });
  const local = await freshDb('memory');
  t.after(async () => {
    await server.close();
    await local.cleanup();
  });
  return { server, local: local.db };
}

test('an HTML 413 on _bulk_docs halves the batch until it passes', async (t) => {
  const LIMIT = 20_000;
  let refused = 0;
  const { server, local } = await setup(t, (req, res) => {
    if (!req.url!.startsWith('/remote/_bulk_docs') || Number(req.headers['content-length']) <= LIMIT) return false;
    refused++;
    return htmlPage(res, 413, 'Request Entity Too Large');
  });
  const remote = await server.createDb('remote');
  await local.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, pad: 'x'.repeat(3000) })));
  const report = await replicate(local, new HttpPeer(`${server.url}/remote`), { retry: FAST_RETRY }).done;
  assert.equal(report.docsWritten, 20);
  assert.equal(report.docWriteFailures, 0);
  assert.ok(refused > 0, 'the proxy refused the whole batch first');
  await assertSameTrees(local, remote);
});

test('an HTML 404 on _bulk_get falls back to open_revs reads', async (t) => {
  const { server, local } = await setup(t, (req, res) => (req.url!.startsWith('/remote/_bulk_get') ? htmlPage(res, 404, 'Not Found') : false));
  const remote = await server.createDb('remote');
  await remote.bulkDocs(Array.from({ length: 3 }, (_, i) => ({ _id: `d${i}` })));
  const source = new HttpPeer(`${server.url}/remote`);
  const report = await replicate(source, local, { retry: FAST_RETRY }).done;
  assert.equal(report.docsWritten, 3);
  assert.equal(source.capabilities.bulkGet, false);
  await assertSameTrees(remote, local);
});

for (const [status, code] of [[401, 'unauthorized'], [403, 'forbidden']] as const) {
  test(`an HTML ${status} fails the replication at once as ${code}, not retried`, async (t) => {
    const { server, local } = await setup(t, (_req, res) => htmlPage(res, status, 'Refused'));
    const rep = replicate(new HttpPeer(`${server.url}/remote`), local, { retry: FAST_RETRY });
    let retries = 0;
    rep.on('retry', () => retries++);
    await assert.rejects(rep.done, (err: unknown) => isRefugeError(err, code) && err.status === status);
    assert.equal(retries, 0);
  });
}
