// `_changes` over raw HTTP: normal, longpoll, continuous and eventsource feeds with their options
// and filters; long-lived feeds end when the client aborts (nothing left registered) and on close().

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';
import { until } from '../helpers/until.ts';

/** Reads a streamed body chunk by chunk, handing back the text as it grows. */
class StreamReader {
  text = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  ended = false;

  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** Reads until `done(text)` holds or the stream ends. */
  async readUntil(done: (text: string) => boolean): Promise<string> {
    while (!done(this.text)) {
      const { value, done: end } = await this.reader.read();
      if (end) {
        this.ended = true;
        break;
      }
      this.text += this.decoder.decode(value, { stream: true });
    }
    return this.text;
  }

  readToEnd(): Promise<string> {
    return this.readUntil(() => false);
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** The number of live subscribers waiting on a database's commits (leak check). */
async function waiters(server: TestServer, db: string): Promise<number> {
  const d = (await server.node.db(db)) as unknown as { commits: { waiters: Set<unknown> } };
  return d.commits.waiters.size;
}

describe('_changes feeds over HTTP', () => {
  let server: TestServer;
  let base: string;
  const put = async (id: string, body: Record<string, unknown> = {}) => {
    const res = await request(`${base}/${id}`, { method: 'PUT', body });
    assert.equal(res.status, 201, res.text);
    return res.body.rev as string;
  };

  before(async () => {
    server = await startTestServer();
    base = `${server.url}/feeds`;
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    await put('a', { type: 'x', n: 1 });
    await put('b', { type: 'y', n: 2 });
    await put('c', { type: 'x', n: 3 });
  });
  after(() => server.close());

  test('normal feed, since, limit, descending, include_docs, since=now', async () => {
    const all = await request(`${base}/_changes`);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.results.map((r: any) => [r.seq, r.id]), [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    assert.equal(all.body.last_seq, 3);
    // CouchDB's pending: how many changes lie after last_seq.
    assert.equal(all.body.pending, 0);
    assert.match(all.body.results[0].changes[0].rev, /^1-[0-9a-f]{32}$/);
    const since = await request(`${base}/_changes?since=1&include_docs=true`);
    assert.deepEqual(since.body.results.map((r: any) => r.doc.n), [2, 3]);
    const limited = await request(`${base}/_changes?limit=1`);
    assert.deepEqual(limited.body.results.map((r: any) => r.id), ['a']);
    assert.equal(limited.body.last_seq, 1);
    assert.equal(limited.body.pending, 2);
    const desc = await request(`${base}/_changes?descending=true`);
    assert.deepEqual(desc.body.results.map((r: any) => r.id), ['c', 'b', 'a']);
    const descLimit = await request(`${base}/_changes?descending=true&limit=2`);
    assert.deepEqual(descLimit.body.results.map((r: any) => r.id), ['c', 'b']);
    // Descending ignores since, as CouchDB does.
    assert.deepEqual((await request(`${base}/_changes?descending=true&since=1`)).body.results.map((r: any) => r.id), ['c', 'b', 'a']);
    const now = await request(`${base}/_changes?since=now`);
    assert.deepEqual(now.body, { results: [], last_seq: 3, pending: 0 });
    // Opaque CouchDB-style sequences are accepted by their numeric prefix.
    const opaque = await request(`${base}/_changes?since=2-g1AAAABXeJzLYWBgYMpgTmHgz8tPSTV0MDQy`);
    assert.deepEqual(opaque.body.results.map((r: any) => r.id), ['c']);
    // JSON-encoded, as CouchDB's replicator sends a string checkpoint.
    for (const quoted of ['"2"', '"2-g1AAAABXeJzLYWBg"']) {
      assert.deepEqual((await request(`${base}/_changes?since=${encodeURIComponent(quoted)}`)).body.results.map((r: any) => r.id), ['c'], quoted);
    }
    assert.equal((await request(`${base}/_changes?since=${encodeURIComponent('"2')}`)).status, 400);
  });

  test('filter=_doc_ids by GET parameter and by POST body; filter=_selector by POST', async () => {
    const ids = encodeURIComponent(JSON.stringify(['c', 'a', 'zz']));
    const byGet = await request(`${base}/_changes?filter=_doc_ids&doc_ids=${ids}`);
    assert.deepEqual(byGet.body.results.map((r: any) => r.id), ['a', 'c']);
    const byPost = await request(`${base}/_changes?filter=_doc_ids`, { method: 'POST', body: { doc_ids: ['b'] } });
    assert.deepEqual(byPost.body.results.map((r: any) => r.id), ['b']);
    const sel = await request(`${base}/_changes?filter=_selector&include_docs=true`, { method: 'POST', body: { selector: { type: 'x' } } });
    assert.deepEqual(sel.body.results.map((r: any) => r.id), ['a', 'c']);
    const selGet = await request(`${base}/_changes?filter=_selector`);
    assert.equal(selGet.status, 400);
    const notObject = await request(`${base}/_changes?filter=_selector`, { method: 'POST', body: { selector: 'foo' } });
    assert.deepEqual([notObject.status, notObject.body], [400, { error: 'bad_request', reason: 'Selector error: expected a JSON object' }]);
    const badIds = await request(`${base}/_changes?filter=_doc_ids&doc_ids=${encodeURIComponent('[1,2]')}`);
    assert.equal(badIds.status, 400);
    assert.equal(badIds.body.error, 'bad_request');
    // _doc_ids with no doc_ids at all is a client mistake, not an empty filter (CouchDB: 400).
    const noIds = await request(`${base}/_changes?filter=_doc_ids`);
    assert.deepEqual([noIds.status, noIds.body.error], [400, 'bad_request']);
    const noIdsPost = await request(`${base}/_changes?filter=_doc_ids`, { method: 'POST', body: {} });
    assert.deepEqual([noIdsPost.status, noIdsPost.body.error], [400, 'bad_request']);
  });

  test('parameters as CouchDB parse_changes_query reads them: flags on for `true` only, an empty filter none; a POST is a JSON object', async () => {
    const all = (await request(`${base}/_changes`)).body.results.map((r: any) => r.id);
    assert.ok(all.length > 1, 'the feed has rows');
    // Any other value of a flag is ignored, not refused.
    for (const v of ['1', 'yes', 'TRUE', '']) {
      const res = await request(`${base}/_changes?include_docs=${v}&descending=${v}`);
      assert.equal(res.status, 200, `${v}: ${res.text}`);
      assert.deepEqual(res.body.results.map((r: any) => r.id), all, v);
      assert.ok(res.body.results.every((r: any) => r.doc === undefined), `${v}: no documents`);
    }
    assert.ok((await request(`${base}/_changes?include_docs=true`)).body.results.every((r: any) => r.doc !== undefined), 'documents for true');
    const noFilter = await request(`${base}/_changes?filter=`);
    assert.deepEqual([noFilter.status, noFilter.body.results.map((r: any) => r.id)], [200, all]);
    // A POST must say it is JSON (a page on another site cannot, unasked) and send an object.
    const untyped = await request(`${base}/_changes`, { method: 'POST', raw: '{}', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual([untyped.status, untyped.body.error], [415, 'bad_content_type']);
    const bare = await request(`${base}/_changes`, { method: 'POST' });
    assert.deepEqual([bare.status, bare.body.error], [415, 'bad_content_type']);
    for (const body of [[1], 'x', 2]) {
      const res = await request(`${base}/_changes`, { method: 'POST', body });
      assert.deepEqual([res.status, res.body.error], [400, 'bad_request'], JSON.stringify(body));
    }
    const posted = await request(`${base}/_changes`, { method: 'POST', body: {} });
    assert.deepEqual([posted.status, posted.body.results.map((r: any) => r.id)], [200, all]);
  });

  test('longpoll waits for the next write; timeout answers empty with last_seq', async () => {
    const empty = await request(`${base}/_changes?feed=longpoll&since=now&timeout=50`);
    assert.deepEqual(empty.body, { results: [], last_seq: 3, pending: 0 });
    assert.equal(server.server.context.feeds.size, 0);

    const immediate = await request(`${base}/_changes?feed=longpoll&since=1`);
    assert.deepEqual(immediate.body.results.map((r: any) => r.id), ['b', 'c']);

    const pending = request(`${base}/_changes?feed=longpoll&since=now&include_docs=true`);
    await until(() => server.server.context.feeds.size === 1);
    await put('lp', { n: 4 });
    const got = await pending;
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.results.map((r: any) => [r.id, r.doc.n]), [['lp', 4]]);
    assert.equal(got.body.last_seq, 4);
    assert.equal(server.server.context.feeds.size, 0);

    // Filtered longpoll: writes that do not match keep it waiting.
    const filtered = request(`${base}/_changes?feed=longpoll&since=now&filter=_doc_ids&doc_ids=${encodeURIComponent('["wanted"]')}`);
    await until(() => server.server.context.feeds.size === 1);
    await put('unwanted');
    await put('wanted');
    const f = await filtered;
    assert.deepEqual(f.body.results.map((r: any) => r.id), ['wanted']);
  });

  test('longpoll answers its headers at once and sends heartbeats while it waits, as CouchDB does', async () => {
    const res = await fetch(`${base}/_changes?feed=longpoll&since=now&heartbeat=10&timeout=30000`);
    // fetch resolved: the status and headers came before any change.
    assert.equal(res.status, 200);
    assert.match(res.headers.get('server') ?? '', /^CouchDB\/3/);
    // One Cache-Control, CouchDB's (fetch would join a repeated header with a comma).
    assert.equal(res.headers.get('cache-control'), 'must-revalidate');
    const reader = new StreamReader(res);
    await reader.readUntil((t) => t.startsWith('{"results":[\n\n'));
    await put('after-heartbeat', { n: 5 });
    const body = JSON.parse(await reader.readToEnd());
    assert.deepEqual(body.results.map((r: any) => r.id), ['after-heartbeat']);
    assert.equal(body.last_seq, body.results[0].seq);
  });

  test("heartbeat, feed=live and Last-Event-ID as CouchDB reads them", async () => {
    const negative = await request(`${base}/_changes?feed=continuous&heartbeat=-1000`);
    assert.equal(negative.status, 400);
    assert.equal(negative.body.reason, 'The heartbeat value should be a positive integer (in milliseconds).');
    assert.equal((await request(`${base}/_changes?feed=continuous&heartbeat=0`)).status, 400);
    const notInt = await request(`${base}/_changes?feed=continuous&heartbeat=a1000`);
    assert.equal(notInt.status, 400);
    assert.equal(notInt.body.reason, 'Invalid heartbeat value. Expecting a positive integer value (in milliseconds).');
    // feed=live is continuous.
    const live = lines(await (await fetch(`${base}/_changes?feed=live&since=0&limit=2`)).text());
    assert.equal(live.length, 3);
    const liveEnd = JSON.parse(live[2]!);
    assert.equal(liveEnd.last_seq, JSON.parse(live[1]!).seq);
    assert.equal(liveEnd.pending, (await request(`${base}/_changes?since=${liveEnd.last_seq}`)).body.results.length);
    assert.ok(liveEnd.pending > 0);
    // An EventSource that reconnects resumes after the last event it saw (Last-Event-ID over since).
    const seq = (await request(base)).body.update_seq as number;
    const sse = await fetch(`${base}/_changes?feed=eventsource&since=0&timeout=20`, { headers: { 'last-event-id': String(seq - 1) } });
    const events = (await sse.text()).split('\n\n').filter((e) => e.startsWith('data: '));
    assert.equal(events.length, 1);
    assert.equal(JSON.parse(events[0]!.split('\n')[0]!.slice(6)).seq, seq);
  });

  test('continuous: one JSON row per line, then {"last_seq"} at timeout', async () => {
    const res = await fetch(`${base}/_changes?feed=continuous&since=2&timeout=100`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const text = await res.text();
    const rows = lines(text).map((l) => JSON.parse(l));
    const last = rows.pop();
    assert.ok(rows.length >= 2);
    assert.equal(rows[0].id, 'c');
    assert.ok(rows.every((r, i) => i === 0 || r.seq > rows[i - 1].seq));
    assert.deepEqual(last, { last_seq: rows[rows.length - 1].seq, pending: 0 });
    // limit ends the feed after that many rows.
    const limited = await (await fetch(`${base}/_changes?feed=continuous&limit=2`)).text();
    assert.deepEqual(lines(limited).map((l) => JSON.parse(l).id ?? 'END'), ['a', 'b', 'END']);
    const limitedEnd = JSON.parse(lines(limited)[2]!);
    assert.equal(limitedEnd.last_seq, 2);
    assert.equal(limitedEnd.pending, (await request(`${base}/_changes?since=2`)).body.results.length);
  });

  test('continuous: live rows as writes happen, heartbeat newlines, last_seq at the end', async () => {
    const info = await request(base);
    const seq0 = info.body.update_seq as number;
    const res = await fetch(`${base}/_changes?feed=continuous&since=now&heartbeat=10&limit=2`);
    const reader = new StreamReader(res);
    await until(() => server.server.context.feeds.size === 1);
    // While nothing happens, the server sends bare newlines to keep the connection alive.
    await reader.readUntil((t) => t.split('\n').length > 3);
    await put('live1');
    await reader.readUntil((t) => t.includes('"live1"'));
    await put('live2');
    const text = await reader.readToEnd();
    assert.ok(reader.ended);
    const rows = lines(text).map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.id ?? 'END'), ['live1', 'live2', 'END']);
    assert.deepEqual(rows[2], { last_seq: seq0 + 2, pending: 0 });
    assert.ok(text.split('\n').length - 1 > rows.length, 'expected heartbeat newlines');
    await until(() => server.server.context.feeds.size === 0);
  });

  for (const feed of ['continuous', 'eventsource', 'longpoll'] as const) {
    test(`${feed}: a heartbeat keeps the feed open past its timeout, as CouchDB does; without one the timeout ends it`, async () => {
      const ac = new AbortController();
      const res = await fetch(`${base}/_changes?feed=${feed}&since=now&heartbeat=5&timeout=20`, { signal: ac.signal });
      const reader = new StreamReader(res);
      // Forty beats of 5 ms: the feed outlived its 20 ms timeout many times over.
      const beat = feed === 'eventsource' ? 'event: heartbeat' : '\n';
      await reader.readUntil((t) => t.split(beat).length > 40);
      assert.ok(!reader.ended);
      await put(`beaten-${feed}`);
      if (feed === 'longpoll') assert.deepEqual(JSON.parse(await reader.readToEnd()).results.map((r: any) => r.id), [`beaten-${feed}`]);
      else await reader.readUntil((t) => t.includes(`"beaten-${feed}"`));
      ac.abort();
      await until(() => server.server.context.feeds.size === 0);
      const ended = await (await fetch(`${base}/_changes?feed=${feed}&since=now&timeout=20`)).text();
      assert.ok(feed === 'eventsource' ? ended === '' : ended.includes('"last_seq"'), ended);
    });
  }

  test('eventsource: SSE framing with data: and id: lines', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/_changes?feed=eventsource&since=0&filter=_doc_ids&doc_ids=${encodeURIComponent('["a","b"]')}`, {
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const reader = new StreamReader(res);
    const text = await reader.readUntil((t) => t.split('\n\n').length > 2);
    const events = text.split('\n\n').filter((e) => e.trim() !== '');
    assert.equal(events.length, 2);
    for (const [i, ev] of events.entries()) {
      const [data, id] = ev.split('\n');
      assert.match(data!, /^data: /);
      assert.match(id!, /^id: \d+$/);
      const row = JSON.parse(data!.slice(6));
      assert.equal(row.id, ['a', 'b'][i]);
      assert.equal(String(row.seq), id!.slice(4));
    }
    ac.abort();
    await until(() => server.server.context.feeds.size === 0);
  });

  test('eventsource heartbeats are heartbeat events, as CouchDB 2+ sends them', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/_changes?feed=eventsource&since=now&heartbeat=10`, { signal: ac.signal });
    const text = await new StreamReader(res).readUntil((t) => t.split('event: heartbeat').length > 3);
    ac.abort();
    assert.ok(text.includes('event: heartbeat\ndata: \n\n'), JSON.stringify(text.slice(0, 80)));
    assert.equal(text.replaceAll('event: heartbeat\ndata: \n\n', ''), '', 'nothing else on an idle feed');
    await until(() => server.server.context.feeds.size === 0);
  });

  for (const feed of ['continuous', 'eventsource', 'longpoll'] as const) {
    // The timeout also proves streaming feeds send their headers at once (heartbeat is 10 s).
    test(`${feed}: a client abort ends the feed and leaves nothing registered`, { timeout: 5000 }, async () => {
      const db = (await request(base)).body;
      assert.ok(db.update_seq > 0);
      assert.equal(await waiters(server, 'feeds'), 0);
      const ac = new AbortController();
      const pending = fetch(`${base}/_changes?feed=${feed}&since=now&heartbeat=10000`, { signal: ac.signal });
      await until(() => server.server.context.feeds.size === 1);
      if (feed !== 'longpoll') {
        const res = await pending;
        assert.equal(res.status, 200);
      }
      ac.abort();
      await pending.then(
        (res) => res.body?.cancel().catch(() => undefined),
        (err: Error) => assert.equal(err.name, 'AbortError'),
      );
      await until(() => server.server.context.feeds.size === 0);
      // The database has no subscriber left waiting on its commits.
      const deadline = Date.now() + 5000;
      while ((await waiters(server, 'feeds')) !== 0) {
        assert.ok(Date.now() < deadline, 'subscriber leaked');
        await new Promise((r) => setTimeout(r, 5));
      }
      // And the server still answers.
      assert.equal((await request(`${base}/_changes?limit=1`)).status, 200);
    });
  }

  test('close() ends open continuous, eventsource and longpoll feeds', { timeout: 5000 }, async () => {
    const other = await startTestServer();
    try {
      const url = `${other.url}/closing`;
      assert.equal((await request(url, { method: 'PUT' })).status, 201);
      const continuous = await fetch(`${url}/_changes?feed=continuous&since=now&heartbeat=10000`);
      const sse = await fetch(`${url}/_changes?feed=eventsource&since=now&heartbeat=10000`);
      const longpoll = fetch(`${url}/_changes?feed=longpoll&since=now`).then(
        (r) => r.text(),
        (err: Error) => `error: ${err.message}`,
      );
      await until(() => other.server.context.feeds.size === 3);
      const ended = Promise.all([continuous, sse].map((r) => r.text().catch((err: Error) => `error: ${err.message}`)));
      await other.close();
      const [c, s] = await ended;
      // Continuous feeds end with their last_seq when the server stops; SSE simply ends.
      assert.deepEqual(lines(c!).map((l) => JSON.parse(l)), [{ last_seq: 0, pending: 0 }]);
      assert.equal(s, '');
      // A waiting longpoll gets its whole answer, not a body cut after `{"results":[`.
      assert.deepEqual(JSON.parse(await longpoll), { results: [], last_seq: 0, pending: 0 });
      assert.equal(other.server.context.feeds.size, 0);
    } finally {
      await other.close();
    }
  });
});
