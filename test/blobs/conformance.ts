// The blob store conformance suite: every backend must pass it unchanged. Each backend's test file
// calls runBlobConformance with a way to open fresh stores and to damage a stored blob behind its back.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { BlobEvent, BlobId, BlobStore } from '../../src/blobs/core.ts';
import { MiB, bytes, concat, hashStream, idOf, isCode, randomBytesOf, readAll, trickle, unevenChunks } from './helpers.ts';

export interface BlobConformanceOptions {
  /** Blobs outlive the store object (checked by reopening). */
  persistent: boolean;
  /** A fresh, empty store. */
  open: () => Promise<BlobStore>;
  /** A second store object over the same storage as `store` (persistent backends). */
  reopen?: (store: BlobStore) => Promise<BlobStore>;
  /** Damages the stored bytes of `id` at `offset` (same length), bypassing the store. */
  corrupt: (store: BlobStore, id: BlobId, offset: number) => Promise<void>;
  /** Size of the large streamed blob; default 64 MiB. */
  largeBytes?: number;
  /** Blobs for the paging test; default 1000. */
  manyBlobs?: number;
  /** Tests a backend cannot support, with the reason (e.g. a store over the network). */
  skip?: { overflow?: string; corruption?: string; renewals?: string };
}

const EMPTY_ID: BlobId = 'sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HUGE = process.env.BLOBS_HUGE === '1';
const HUGE_BYTES = Number(process.env.BLOBS_HUGE_BYTES ?? 4.5 * 1024 * MiB);

const BAD_IDS: unknown[] = [
  '',
  'sha256-',
  `sha256-${'a'.repeat(63)}`,
  `sha256-${'a'.repeat(65)}`,
  `sha256-${'A'.repeat(64)}`,
  `sha256-${'g'.repeat(64)}`,
  `SHA256-${'a'.repeat(64)}`,
  `sha512-${'a'.repeat(64)}`,
  'a'.repeat(64),
  `sha256-${'a'.repeat(64)}/../x`,
  `../sha256-${'a'.repeat(62)}`,
  'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', // a CID: convert with toBlobId first
  null,
  undefined,
  42,
  {},
];

async function putMany(store: BlobStore, n: number, tag: string): Promise<BlobId[]> {
  const ids: BlobId[] = [];
  const queue = Array.from({ length: n }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        ids.push((await store.put(bytes(`${tag} blob number ${i}`))).id);
      }
    }),
  );
  return ids.sort();
}

async function listAll(store: BlobStore, limit: number): Promise<{ ids: BlobId[]; pages: number }> {
  const ids: BlobId[] = [];
  let pages = 0;
  let after: BlobId | undefined;
  do {
    const page = await store.list(after === undefined ? { limit } : { after, limit });
    pages++;
    assert.ok(page.ids.length <= limit);
    if (page.next !== undefined) {
      assert.equal(page.ids.length, limit, 'only a full page may promise more');
      assert.equal(page.next, page.ids.at(-1));
    }
    ids.push(...page.ids);
    after = page.next;
  } while (after !== undefined);
  return { ids, pages };
}

/** Takes `n` events, failing rather than hanging if they do not come. */
async function takeEvents(sub: AsyncIterator<BlobEvent>, n: number): Promise<BlobEvent[]> {
  const out: BlobEvent[] = [];
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${out.length} of ${n} events arrived`)), 10_000);
    });
    try {
      const r = await Promise.race([sub.next(), timeout]);
      if (r.done) break;
      out.push(r.value);
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}

export function runBlobConformance(name: string, opts: BlobConformanceOptions): void {
  const largeBytes = opts.largeBytes ?? 64 * MiB;
  const manyBlobs = opts.manyBlobs ?? 1000;

  describe(`blob store conformance: ${name}`, () => {
    const opened: BlobStore[] = [];
    const fresh = async () => {
      const store = await opts.open();
      opened.push(store);
      return store;
    };
    after(async () => {
      for (const store of opened) await store.close().catch(() => {});
    });

    test('declares its backend and capabilities', async () => {
      const store = await fresh();
      assert.equal(typeof store.backend, 'string');
      for (const k of ['persistent', 'durable', 'ranges', 'atomicPut', 'exclusiveCreate'] as const) {
        assert.equal(typeof store.capabilities[k], 'boolean', k);
      }
      assert.equal(store.capabilities.persistent, opts.persistent);
      assert.equal(store.capabilities.atomicPut, true, 'every backend must make puts atomic');
      assert.ok(Number.isSafeInteger(store.rangeVerifyLimit));
    });

    test('the empty blob: put, get, stat, list; any range of it is unsatisfiable', async () => {
      const store = await fresh();
      assert.deepEqual(await store.put(new Uint8Array(0)), { id: EMPTY_ID, size: 0, created: true });
      assert.deepEqual(await store.put((async function* () {})()), { id: EMPTY_ID, size: 0, created: false });
      assert.deepEqual(await store.put([new Uint8Array(0), new Uint8Array(0)], { expectedId: EMPTY_ID }), { id: EMPTY_ID, size: 0, created: false });
      const read = await store.get(EMPTY_ID);
      assert.equal(read.size, 0);
      assert.equal(read.verified, true);
      assert.equal((await readAll(read)).length, 0);
      assert.deepEqual(await store.stat([EMPTY_ID]), [{ id: EMPTY_ID, size: 0 }]);
      assert.deepEqual((await store.list()).ids, [EMPTY_ID]);
      await assert.rejects(store.get(EMPTY_ID, { start: 0 }), isCode('requested_range_not_satisfiable', 416));
      await assert.rejects(store.get(EMPTY_ID, { start: 0, end: 0 }), isCode('requested_range_not_satisfiable', 416));
    });

    test('a small blob: id is its SHA-256, bytes come back, puts are idempotent whatever the chunking', async () => {
      const store = await fresh();
      const data = bytes('hello world');
      const id = idOf(data);
      assert.equal(id, 'sha256-b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
      assert.deepEqual(await store.put(data), { id, size: 11, created: true });
      assert.deepEqual(await store.put(data), { id, size: 11, created: false });
      const oneByteChunks = [...data].map((b) => Uint8Array.of(b));
      assert.deepEqual(await store.put(trickle(oneByteChunks)), { id, size: 11, created: false });
      assert.deepEqual(await store.put(oneByteChunks, { expectedId: id }), { id, size: 11, created: false });
      assert.deepEqual(Buffer.from(await readAll(await store.get(id))).toString(), 'hello world');
      assert.equal(await store.has(id), true);
      assert.equal(await store.has(EMPTY_ID), false);
      assert.equal(await store.reuse(id), true, 'a held blob is named for reuse');
      assert.equal(await store.reuse(EMPTY_ID), false, 'a blob not held is not');
      assert.equal(await store.has(EMPTY_ID), false, 'and is not made by it');
      // Buffers are Uint8Arrays: a Node stream's chunks are accepted as they are.
      assert.deepEqual(await store.put(Buffer.from('hello world')), { id, size: 11, created: false });
    });

    test('the store keeps its own copy: mutating the caller\'s buffer afterwards changes nothing', async () => {
      const store = await fresh();
      const data = randomBytesOf(1000);
      const id = idOf(data);
      await store.put(data);
      data.fill(0);
      const back = await readAll(await store.get(id));
      assert.equal(idOf(back), id);
    });

    test('a Buffer viewing part of a larger buffer: the store keeps its own copy of just those bytes', async () => {
      const store = await fresh();
      const big = Buffer.from(randomBytesOf(1 << 20));
      const view = big.subarray(1000, 201_000);
      const id = idOf(view);
      assert.equal((await store.put(view)).id, id);
      big.fill(7);
      assert.equal(idOf(await readAll(await store.get(id))), id);
    });

    test('bytes in shared memory (a snapshot reads files into SharedArrayBuffers) are stored like any others', async () => {
      const store = await fresh();
      const data = randomBytesOf(300_000);
      const shared = new Uint8Array(new SharedArrayBuffer(data.length + 16));
      shared.set(data, 8);
      const view = shared.subarray(8, 8 + data.length);
      const id = idOf(data);
      assert.deepEqual(await store.put(view), { id, size: data.length, created: true });
      assert.deepEqual(await store.put([view.subarray(0, 100_000), view.subarray(100_000)], { expectedId: id }), { id, size: data.length, created: false });
      assert.equal(idOf(await readAll(await store.get(id))), id);
    });

    test(`a large blob (${largeBytes / MiB} MiB) streamed in uneven chunks, with and without a claimed id`, async () => {
      const store = await fresh();
      const chunks = unevenChunks(largeBytes);
      const id = idOf(...chunks);
      assert.deepEqual(await store.put(trickle(chunks)), { id, size: largeBytes, created: true });
      const read = await store.get(id);
      assert.equal(read.size, largeBytes);
      assert.deepEqual(await hashStream(read), { id, size: largeBytes });
      // A range far into the blob, across chunk boundaries (unverified for a blob this large).
      const whole = concat(chunks);
      const start = largeBytes - 3 * MiB - 17;
      const ranged = await store.get(id, { start, end: start + 2 * MiB + 5 });
      assert.equal(ranged.verified, largeBytes <= store.rangeVerifyLimit);
      assert.ok(Buffer.from(await readAll(ranged)).equals(whole.subarray(start, start + 2 * MiB + 5)));
      assert.ok(Buffer.from(await readAll(await store.get(id, { start: largeBytes - 1 }))).equals(whole.subarray(largeBytes - 1)));
      // Claimed up front (the path an HTTP PUT /_blobs/{id} takes).
      assert.equal(await store.delete(id), true);
      assert.deepEqual(await store.put(trickle(chunks), { expectedId: id }), { id, size: largeBytes, created: true });
      assert.deepEqual(await hashStream(await store.get(id)), { id, size: largeBytes });
      assert.deepEqual(await store.put(chunks, { expectedId: id }), { id, size: largeBytes, created: false });
      assert.deepEqual((await store.list()).ids, [id]);
    });

    test(`a multi-GB blob streamed through (BLOBS_HUGE=1)`, { skip: HUGE ? false : 'set BLOBS_HUGE=1 to stream a multi-GB blob (BLOBS_HUGE_BYTES sets the size)', timeout: 30 * 60_000 }, async () => {
      const store = await fresh();
      const block = randomBytesOf(8 * MiB);
      const tail = randomBytesOf(12345);
      const full = Math.floor((HUGE_BYTES - tail.length) / block.length);
      const size = full * block.length + tail.length;
      const h = createHash('sha256');
      for (let i = 0; i < full; i++) h.update(block);
      h.update(tail);
      const id: BlobId = `sha256-${h.digest('hex')}`;
      // The same immutable block again and again: never mutated, so reusing it is allowed.
      async function* source() {
        for (let i = 0; i < full; i++) yield block;
        yield tail;
      }
      assert.deepEqual(await store.put(source()), { id, size, created: true });
      assert.deepEqual(await hashStream(await store.get(id)), { id, size });
      assert.ok(Buffer.from(await readAll(await store.get(id, { start: size - 5 }))).equals(tail.subarray(-5)));
      assert.equal(await store.delete(id), true);
    });

    test('concurrent puts of one blob all succeed, exactly one creates it, one copy is kept', async () => {
      const store = await fresh();
      for (const size of [1000, 12 * MiB]) {
        const chunks = unevenChunks(size, 256 * 1024);
        const id = idOf(...chunks);
        const results = await Promise.all([
          store.put(trickle(chunks)),
          store.put(trickle(chunks)),
          store.put(trickle(chunks), { expectedId: id }),
          store.put(concat(chunks)),
        ]);
        for (const r of results) assert.deepEqual({ id: r.id, size: r.size }, { id, size });
        assert.equal(results.filter((r) => r.created).length, 1, `${size}: created once`);
        assert.deepEqual(await hashStream(await store.get(id)), { id, size });
      }
      assert.equal((await store.list()).ids.length, 2);
    });

    test('a put whose bytes do not match the claimed id is refused and stores nothing', async () => {
      const store = await fresh();
      const claimed = idOf(bytes('what I say'));
      const sources = [
        () => bytes('what I send'),
        () => trickle([bytes('what '), bytes('I send')]),
        () => new Uint8Array(0),
        () => trickle(unevenChunks(11 * MiB)), // several parts: the multipart path
      ];
      for (const source of sources) {
        await assert.rejects(store.put(source(), { expectedId: claimed }), isCode('hash_mismatch'));
      }
      assert.deepEqual((await store.list()).ids, []);
      assert.equal(await store.has(claimed), false);
      assert.equal(await store.has(idOf(bytes('what I send'))), false);
      assert.equal(await store.has(EMPTY_ID), false);
      // Also when a blob already sits under the claimed id: refused, and the stored blob is untouched.
      await store.put(bytes('what I say'));
      await assert.rejects(store.put(bytes('what I send'), { expectedId: claimed }), isCode('hash_mismatch'));
      assert.equal(Buffer.from(await readAll(await store.get(claimed))).toString(), 'what I say');
      assert.deepEqual((await store.list()).ids, [claimed]);
    });

    test('maxSize, an aborted signal and a failing source store nothing', async () => {
      const store = await fresh();
      await assert.rejects(store.put(randomBytesOf(100), { maxSize: 99 }), isCode('too_large'));
      assert.deepEqual(await store.put(bytes('12345'), { maxSize: 5 }), { id: idOf(bytes('12345')), size: 5, created: true });
      await assert.rejects(store.put(bytes('x'), { signal: AbortSignal.abort() }), { name: 'AbortError' });
      const ctrl = new AbortController();
      async function* abortMidway() {
        yield randomBytesOf(6 * MiB);
        ctrl.abort();
        yield randomBytesOf(6 * MiB);
        yield randomBytesOf(6 * MiB);
      }
      await assert.rejects(store.put(abortMidway(), { signal: ctrl.signal }), { name: 'AbortError' });
      async function* failing() {
        yield randomBytesOf(7 * MiB);
        yield randomBytesOf(7 * MiB);
        throw new Error('connection reset');
      }
      await assert.rejects(store.put(failing()), /connection reset/);
      await assert.rejects(store.put(['not bytes'] as unknown as Uint8Array[]), isCode('bad_request'));
      await assert.rejects(store.put('a string' as unknown as Uint8Array), isCode('bad_request'));
      await assert.rejects(store.put([1, 2, 3] as unknown as Uint8Array[]), isCode('bad_request'));
      await assert.rejects(store.put(null as unknown as Uint8Array), isCode('bad_request'));
      assert.deepEqual((await store.list()).ids, [idOf(bytes('12345'))]);
    });

    test('ranges: first byte, last byte, whole, middle; empty, reversed or out-of-bounds ranges are refused', async () => {
      const store = await fresh();
      const data = randomBytesOf(1000);
      const { id } = await store.put(data);
      const range = async (start?: number, end?: number) => {
        const read = await store.get(id, { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) });
        const got = Buffer.from(await readAll(read));
        assert.equal(got.length, read.end - read.start);
        assert.equal(read.size, 1000);
        return { got, read };
      };
      assert.deepEqual([...(await range(0, 1)).got], [data[0]]);
      assert.deepEqual([...(await range(999)).got], [data[999]]);
      assert.deepEqual([...(await range(999, 1000)).got], [data[999]]);
      assert.ok((await range(0, 1000)).got.equals(data));
      assert.ok((await range()).got.equals(data));
      assert.ok((await range(undefined, 500)).got.equals(data.subarray(0, 500)));
      const mid = await range(123, 457);
      assert.ok(mid.got.equals(data.subarray(123, 457)));
      assert.deepEqual([mid.read.start, mid.read.end, mid.read.verified], [123, 457, true]);
      for (const [start, end] of [[1000, undefined], [5, 5], [10, 5], [0, 1001], [undefined, 0], [2000, 3000]] as const) {
        await assert.rejects(store.get(id, { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) }), isCode('requested_range_not_satisfiable', 416), `${start}-${end}`);
      }
      for (const bad of [{ start: -1 }, { start: 1.5 }, { end: Number.NaN }, { start: '1' }, { end: Infinity }]) {
        await assert.rejects(store.get(id, bad as never), isCode('bad_request', 400), JSON.stringify(bad));
      }
    });

    test('get of a missing blob is not_found; a read iterates once; breaking off early is fine', async () => {
      const store = await fresh();
      await assert.rejects(store.get(idOf(bytes('nope'))), isCode('not_found'));
      await assert.rejects(store.get(idOf(bytes('nope')), { start: 1 }), isCode('not_found'));
      const chunks = unevenChunks(5 * MiB);
      const { id } = await store.put(chunks);
      const read = await store.get(id);
      for await (const chunk of read) {
        assert.ok(chunk.length > 0);
        break;
      }
      assert.throws(() => read[Symbol.asyncIterator](), isCode('bad_request'));
      // The store is still fine after an abandoned read.
      assert.deepEqual(await hashStream(await store.get(id)), { id, size: 5 * MiB });
    });

    test('stat of many ids at once keeps order, duplicates and gaps', async () => {
      const store = await fresh();
      const a = await store.put(bytes('a'));
      const b = await store.put(randomBytesOf(3000));
      const missing = idOf(bytes('missing'));
      const ids = [missing, a.id, b.id, a.id, missing];
      assert.deepEqual(await store.stat(ids), [null, { id: a.id, size: 1 }, { id: b.id, size: 3000 }, { id: a.id, size: 1 }, null]);
      assert.deepEqual(await store.stat([]), []);
      const many = await putMany(store, 100, 'stat');
      const stats = await store.stat([...many, missing]);
      assert.equal(stats.filter((s) => s !== null).length, 100);
      assert.equal(stats.at(-1), null);
      await assert.rejects(store.stat([a.id, 'sha256-nope' as BlobId]), isCode('bad_request'));
      await assert.rejects(store.stat('sha256-x' as unknown as BlobId[]), isCode('bad_request'));
    });

    test(`list pages through ${manyBlobs} blobs: sorted, no duplicates, no misses`, async () => {
      const store = await fresh();
      assert.deepEqual(await store.list(), { ids: [] });
      const ids = await putMany(store, manyBlobs, 'list');
      const { ids: seen, pages } = await listAll(store, 7);
      assert.equal(seen.length, manyBlobs);
      assert.deepEqual(seen, ids);
      assert.ok(pages >= Math.ceil(manyBlobs / 7));
      assert.deepEqual((await listAll(store, 10_000)).ids, ids);
      // A cursor that is not a stored id still works: the ids sorting after it.
      const probe = idOf(bytes('probe'));
      assert.deepEqual((await store.list({ after: probe, limit: 10_000 })).ids, ids.filter((id) => id > probe));
      const last = await store.list({ after: ids.at(-1)!, limit: 5 });
      assert.deepEqual(last, { ids: [] });
      const exact = await store.list({ after: ids.at(-4)!, limit: 3 });
      assert.deepEqual(exact.ids, ids.slice(-3));
      assert.equal(exact.next, undefined, 'the last page says so');
      for (const limit of [0, -1, 1.5, 10_001, Number.NaN]) {
        await assert.rejects(store.list({ limit }), isCode('bad_request'), String(limit));
      }
    });

    test('delete removes a blob once; it can be stored again', async () => {
      const store = await fresh();
      const { id } = await store.put(bytes('to delete'));
      const keep = await store.put(bytes('to keep'));
      assert.equal(await store.delete(id), true);
      assert.equal(await store.has(id), false);
      await assert.rejects(store.get(id), isCode('not_found'));
      assert.equal(await store.delete(id), false);
      assert.deepEqual((await store.list()).ids, [keep.id]);
      assert.deepEqual(await store.put(bytes('to delete')), { id, size: 9, created: true });
    });

    test('a blob stored again, streamed again or reused is renewed for gc\'s ages where the store tracks it; a new one is not', { skip: opts.skip?.renewals ?? false }, async () => {
      const store = await fresh();
      assert.equal(typeof store.renewedAt, 'function', 'a local store says when it renewed a blob');
      const before = Date.now();
      const once = await store.put(bytes('stored once'));
      assert.equal(store.renewedAt!(once.id), undefined, 'a blob only created is not renewed');
      const again = await store.put(bytes('stored again'));
      assert.equal(store.renewedAt!(again.id), undefined);
      assert.equal((await store.put(bytes('stored again'), { expectedId: again.id })).created, false);
      assert.ok((store.renewedAt!(again.id) ?? 0) >= before, 'stored again from memory');
      const streamed = await store.put(bytes('streamed again'));
      assert.equal((await store.put(trickle([bytes('streamed '), bytes('again')]))).created, false);
      assert.ok((store.renewedAt!(streamed.id) ?? 0) >= before, 'streamed again');
      const reused = await store.put(bytes('reused'));
      assert.equal(await store.reuse(reused.id), true);
      assert.ok((store.renewedAt!(reused.id) ?? 0) >= before, 'reused');
      assert.equal(await store.delete(reused.id), true);
      assert.equal(store.renewedAt!(reused.id), undefined, 'a deleted blob is forgotten');
    });

    test('the change feed reports added and removed in commit order, once each', async () => {
      const store = await fresh();
      const ctrl = new AbortController();
      const sub = store.subscribe({ signal: ctrl.signal });
      const other = store.subscribe();
      const a = await store.put(bytes('a'));
      const b = await store.put(randomBytesOf(2 * MiB));
      await store.put(bytes('a')); // no event: already there
      await store.delete(a.id);
      await store.delete(a.id); // no event: already gone
      await store.put(bytes('c'));
      const expected: BlobEvent[] = [
        { type: 'added', id: a.id, size: 1 },
        { type: 'added', id: b.id, size: 2 * MiB },
        { type: 'removed', id: a.id, size: 1 },
        { type: 'added', id: idOf(bytes('c')), size: 1 },
      ];
      assert.deepEqual(await takeEvents(sub, 4), expected);
      assert.deepEqual(await takeEvents(other, 4), expected);
      ctrl.abort();
      assert.deepEqual(await sub.next(), { value: undefined, done: true });
      await other.return?.();
      assert.deepEqual(await other.next(), { value: undefined, done: true });
    });

    test('a subscriber that falls behind its buffer gets overflow (resync), never blocks writers', { skip: opts.skip?.overflow ?? false }, async () => {
      const store = await fresh();
      const sub = store.subscribe({ bufferSize: 3 });
      const ids: BlobId[] = [];
      for (let i = 0; i < 10; i++) ids.push((await store.put(bytes(`event ${i}`))).id);
      const got: BlobEvent[] = [];
      const late = store.put(bytes('later'));
      for (const e of await takeEvents(sub, 3)) got.push(e);
      await late;
      assert.equal(got[0]!.type, 'overflow');
      assert.deepEqual(got.slice(1), [
        { type: 'added', id: ids[9], size: 7 },
        { type: 'added', id: idOf(bytes('later')), size: 5 },
      ]);
      await sub.return?.();
    });

    test('corruption: a damaged blob fails full reads before their last chunk, verify and scrub report it', { skip: opts.skip?.corruption ?? false }, async () => {
      const store = await fresh();
      const good = await store.put(randomBytesOf(70_000));
      const smallData = randomBytesOf(100_000);
      const small = await store.put(smallData);
      const bigChunks = unevenChunks(6 * MiB);
      const big = await store.put(bigChunks);
      assert.deepEqual(await store.verify(big.id), { id: big.id, status: 'ok', size: 6 * MiB });
      assert.deepEqual(await store.scrub(), { checked: 3, bytes: 70_000 + 100_000 + 6 * MiB, corrupt: [] });

      await opts.corrupt(store, small.id, 5);
      await opts.corrupt(store, big.id, 6 * MiB - 2);
      // Full reads: an error (the store's, a 500), and never the whole (wrong) blob.
      for (const { id, size } of [small, big]) {
        let delivered = 0;
        await assert.rejects(
          (async () => {
            for await (const chunk of await store.get(id)) delivered += chunk.length;
          })(),
          isCode('hash_mismatch', 500),
        );
        assert.ok(delivered < size, `${delivered} of ${size} bytes delivered before the error`);
      }
      // A range of a small blob is read through the verified path: refused before any byte.
      await assert.rejects(readAll(await store.get(small.id, { start: 50_000, end: 50_010 })), isCode('hash_mismatch', 500));
      assert.deepEqual(await store.verify(small.id), { id: small.id, status: 'corrupt', size: 100_000 });
      assert.deepEqual(await store.verify(good.id), { id: good.id, status: 'ok', size: 70_000 });
      assert.deepEqual(await store.verify(idOf(bytes('absent'))), { id: idOf(bytes('absent')), status: 'missing' });
      const progress: number[] = [];
      const report = await store.scrub({ onProgress: (p) => progress.push(p.checked) });
      assert.deepEqual(report.corrupt, [small.id, big.id].sort());
      assert.equal(report.checked, 3);
      assert.deepEqual(progress, [1, 2, 3]);
      // Repair: delete the damaged copy and store the right bytes again.
      await store.delete(small.id);
      assert.equal((await store.put(smallData)).created, true);
      assert.deepEqual(await store.verify(small.id), { id: small.id, status: 'ok', size: 100_000 });
    });

    test('a put of a stored id that is deleted while its bytes stream in leaves the blob stored', async () => {
      const store = await fresh();
      const data = randomBytesOf(200_000);
      const { id } = await store.put(data);
      let began!: () => void;
      const streaming = new Promise<void>((resolve) => (began = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      async function* slowly() {
        yield data.subarray(0, 1000);
        began();
        await gate;
        yield data.subarray(1000);
      }
      const putting = store.put(slowly(), { expectedId: id });
      await streaming;
      await store.delete(id);
      release();
      assert.equal((await putting).id, id);
      assert.equal(await store.has(id), true);
      assert.ok(Buffer.from(await readAll(await store.get(id))).equals(data));
    });

    test('bad ids are refused everywhere with bad_request, and change nothing', async () => {
      const store = await fresh();
      await store.put(bytes('x'));
      for (const bad of BAD_IDS) {
        const id = bad as BlobId;
        const label = JSON.stringify(bad) ?? String(bad);
        await assert.rejects(store.get(id), isCode('bad_request'), label);
        await assert.rejects(store.has(id), isCode('bad_request'), label);
        await assert.rejects(store.reuse(id), isCode('bad_request'), label);
        await assert.rejects(store.stat([id]), isCode('bad_request'), label);
        await assert.rejects(store.delete(id), isCode('bad_request'), label);
        await assert.rejects(store.verify(id), isCode('bad_request'), label);
        if (bad !== undefined) {
          await assert.rejects(store.put(bytes('x'), { expectedId: id }), isCode('bad_request'), label);
          await assert.rejects(store.list({ after: id }), isCode('bad_request'), label);
        }
      }
      assert.deepEqual((await store.list()).ids, [idOf(bytes('x'))]);
    });

    test('close ends subscriptions and refuses later calls', async () => {
      const store = await opts.open();
      const { id } = await store.put(bytes('closing'));
      const sub = store.subscribe();
      await store.close();
      assert.deepEqual(await sub.next(), { value: undefined, done: true });
      await assert.rejects(store.get(id), isCode('closed'));
      await assert.rejects(store.put(bytes('y')), isCode('closed'));
      await assert.rejects(store.list(), isCode('closed'));
      assert.throws(() => store.subscribe(), isCode('closed'));
      await store.close(); // twice is fine
    });

    if (opts.persistent) {
      test('blobs outlive the store object (reopen)', async () => {
        const store = await fresh();
        const chunks = unevenChunks(3 * MiB);
        const { id } = await store.put(chunks);
        await store.put(new Uint8Array(0));
        const again = await opts.reopen!(store);
        opened.push(again);
        assert.deepEqual(await hashStream(await again.get(id)), { id, size: 3 * MiB });
        assert.deepEqual((await again.list()).ids, [EMPTY_ID, id].sort());
        // Two store objects over one storage: concurrent puts still create once.
        const data = randomBytesOf(10_000);
        const results = await Promise.all([store.put(trickle([data])), again.put(trickle([data]))]);
        if (store.capabilities.exclusiveCreate) assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal((await store.list()).ids.length, 3);
      });
    }
  });
}
