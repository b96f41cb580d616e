// The reader's streamed feed (ChangesReader, HttpPeer.changesFeed): one _changes request serves
// many pages; a feed cut mid-way is asked again from the last page handed out; the request's
// timeout does not run while the replicator is busy with pages it was given.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication } from '../../src/replication/index.ts';
import type { Database } from '../../src/documents/index.ts';
import { FEED_PAGES } from '../../src/replication/changes-reader.ts';
import { assertSameTrees } from './helpers/trees.ts';

async function served(t: TestContext, n: number): Promise<{ url: string; src: Database; dst: Database }> {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicator: false });
  const other = await openNode({ engine: 'memory' });
  t.after(async () => {
    await srv.close();
    await node.close();
    await other.close();
  });
  const src = await node.createDb('src');
  await src.bulkDocs(Array.from({ length: n }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, i })));
  return { url: `${srv.url.replace(/\/$/, '')}/src`, src, dst: await other.createDb('dst') };
}

/** A fetch that records each _changes request's `since`, and may rewrite an answer. */
function watchedFetch(rewrite?: (res: Response, nth: number) => Response): { fetch: typeof fetch; sinces: string[] } {
  const sinces: string[] = [];
  return {
    sinces,
    fetch: async (input, init) => {
      const url = new URL(String(input));
      const res = await fetch(input, init);
      if (!url.pathname.endsWith('/_changes')) return res;
      sinces.push(url.searchParams.get('since') ?? '');
      return rewrite ? rewrite(res, sinces.length) : res;
    },
  };
}

test('one streamed request serves many pages, over fetch and over the default transport', async (t) => {
  const { url, src, dst } = await served(t, 450);
  const watched = watchedFetch();
  const report = await new Replication(new HttpPeer(url, { fetch: watched.fetch }), new LocalPeer(dst), { batchSize: 10 }).done;
  assert.equal(report.docsWritten, 450);
  // 45 pages of 10: the first asked alone (it tells `pending`), the 44 others in requests of
  // FEED_PAGES pages; a page per request would be 46.
  assert.equal(watched.sinces.length, 1 + Math.ceil(440 / (10 * FEED_PAGES)));
  await assertSameTrees(src, dst);

  const again = await served(t, 450);
  const byDefault = await new Replication(new HttpPeer(again.url), new LocalPeer(again.dst), { batchSize: 10 }).done;
  assert.equal(byDefault.docsWritten, 450);
  await assertSameTrees(again.src, again.dst);
});

test('a feed cut mid-way is asked again from the last page handed out, not from the start', async (t) => {
  const { url, src, dst } = await served(t, 150);
  // The first many-page answer (the session's second) stops after about half its bytes, as a connection that drops.
  const watched = watchedFetch((res, nth) => {
    if (nth !== 2) return res;
    const reader = res.body!.getReader();
    let sent = 0;
    const cut = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done || sent > 6000) {
          await reader.cancel();
          return controller.error(new Error('connection reset'));
        }
        const part = value.subarray(0, Math.max(1, 6001 - sent));
        sent += part.length;
        controller.enqueue(part);
      },
    });
    return new Response(cut, { status: res.status, headers: res.headers });
  });
  const rep = new Replication(new HttpPeer(url, { fetch: watched.fetch }), new LocalPeer(dst), { batchSize: 10, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
  const report = await rep.done;
  assert.equal(report.status, 'complete');
  assert.equal(report.docsWritten, 150);
  await assertSameTrees(src, dst);
  assert.equal(watched.sinces.length, 3, JSON.stringify(watched.sinces));
  assert.deepEqual(watched.sinces.slice(0, 2), ['0', '10']);
  const resumedAt = Number(watched.sinces[2]);
  assert.ok(resumedAt >= 20 && resumedAt % 10 === 0 && resumedAt < 150, `resumed at ${resumedAt}, a page boundary past the feed's first`);
});

test('a replicator busy with its pages for longer than the request timeout keeps its feed', async (t) => {
  const { url, src, dst } = await served(t, 100);
  const watched = watchedFetch();
  const target = new LocalPeer(dst);
  const bulkDocs = target.bulkDocs.bind(target);
  let first = true;
  // The first write takes three request timeouts; the feed waits on the replicator meanwhile.
  target.bulkDocs = async (...args: Parameters<typeof bulkDocs>) => {
    if (first) {
      first = false;
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    return bulkDocs(...args);
  };
  const report = await new Replication(new HttpPeer(url, { fetch: watched.fetch, timeoutMs: 200 }), target, { batchSize: 10, batchesInFlight: 1 }).done;
  assert.equal(report.docsWritten, 100);
  // The session's first page is asked alone; the rest in one request, never timed out and asked again.
  assert.deepEqual(watched.sinces, ['0', '10']);
  await assertSameTrees(src, dst);
});

test("progress carries the source's pending from the first page on, counted down between answers that tell it", async (t) => {
  const { url, dst } = await served(t, 450);
  const rep = new Replication(new HttpPeer(url), new LocalPeer(dst), { batchSize: 10 });
  const seen: Array<number | undefined> = [];
  rep.on('change', (e) => seen.push(e.pending));
  const report = await rep.done;
  assert.equal(report.docsWritten, 450);
  assert.equal(seen.length, 45);
  assert.ok(seen.every((p) => typeof p === 'number' && p >= 0), JSON.stringify(seen));
  assert.ok(seen.every((p, i) => i === 0 || p! <= seen[i - 1]!), `never up: ${JSON.stringify(seen)}`);
  assert.equal(report.pending, 0);
});

test('a feed whose rows all came in full pages still hands out its pending, with the last page', async (t) => {
  const { url } = await served(t, 45);
  const pages: Array<{ rows: number; lastSeq: unknown; pending?: number }> = [];
  for await (const p of new HttpPeer(url).changesFeed!({ since: 0, limit: 30, style: 'all_docs' }, 10)) {
    pages.push({ rows: p.results.length, lastSeq: p.lastSeq, ...(p.pending !== undefined && { pending: p.pending }) });
  }
  assert.deepEqual(pages, [
    { rows: 10, lastSeq: 10 },
    { rows: 10, lastSeq: 20 },
    { rows: 10, lastSeq: 30, pending: 15 },
  ]);
});

test('a feed cut between its last row and its trailer still hands out that page before failing', async () => {
  const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ seq: i + 1, id: `d${i}`, changes: [{ rev: '1-a' }] }));
  // Cut after the line break that ends the last row, before the closing `]` and `pending`.
  const text = '{"results":[\n' + rows.join(',\n') + '\n';
  const cut: typeof fetch = async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent) return c.error(new Error('connection reset'));
        sent = true;
        c.enqueue(new TextEncoder().encode(text));
      },
    });
    return new Response(body, { status: 200 });
  };
  const got: unknown[] = [];
  await assert.rejects(async () => {
    for await (const p of new HttpPeer('http://peer.invalid/src', { fetch: cut }).changesFeed!({ since: 0, limit: 20, style: 'all_docs' }, 10)) got.push(p.lastSeq);
  }, /connection lost/);
  assert.deepEqual(got, [10, 20]);
});
