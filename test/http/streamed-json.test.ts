// readStreamedJson, the reader of JSON bodies past the body limit: the value it gives is the one
// JSON.parse gives, wherever the body is cut into pieces, except that long attachment data is in
// the blob store (its bytes those the base64 says); what it refuses, it refuses whole.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryBlobStore } from '../../src/blobs/core.ts';
import { AttachmentBytes } from '../../src/documents/index.ts';
import { decodeBase64 } from '../../src/documents/attachments.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { readStreamedJson, StreamedJsonBody, type BodyShape } from '../../src/http/streamed-json.ts';

const LIMITS = { json: 1024 * 1024, blob: 8 * 1024 * 1024 };

async function* pieces(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes.length === 0 ? bytes.length : Math.max(1, sizes[i % sizes.length]!);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

function read(text: string, shape: BodyShape, store = new MemoryBlobStore(), sizes: readonly number[] = [65536], limits = LIMITS) {
  return readStreamedJson(new StreamedJsonBody(pieces(Buffer.from(text), sizes), shape), limits, store);
}

async function bytesOf(store: MemoryBlobStore, data: AttachmentBytes): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of await data.open()) parts.push(c);
  assert.equal(await store.has(data.id as never), true, 'the bytes are in the blob store');
  return Buffer.concat(parts);
}

/** Attachment data as a write sees it: the string as sent, or the stored bytes as base64. */
async function normalized(store: MemoryBlobStore, value: unknown): Promise<unknown> {
  if (value instanceof AttachmentBytes) return { stored: (await bytesOf(store, value)).toString('base64') };
  if (Array.isArray(value)) return Promise.all(value.map((v) => normalized(store, v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: await normalized(store, v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/** JSON.parse's value with long data strings as they should be stored. */
function expected(value: unknown, path: readonly (string | number)[] = []): unknown {
  if (typeof value === 'string' && path.at(-1) === 'data' && path.at(-3) === '_attachments' && value.length >= 16 * 1024) {
    return { stored: Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('base64') };
  }
  if (Array.isArray(value)) return value.map((v, i) => expected(v, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: expected(v, [...path, k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

const attachmentArb = fc.record({
  content_type: fc.constantFrom('text/plain', 'image/png'),
  bytes: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 12_000, max: 80_000 })),
  seed: fc.integer({ min: 0, max: 255 }),
  lines: fc.boolean(),
});

const docArb = fc.record({
  _id: fc.string({ minLength: 1, maxLength: 8 }),
  body: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  atts: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), attachmentArb, { maxKeys: 2 }),
});

function makeDoc(d: { _id: string; body: Record<string, unknown>; atts: Record<string, { content_type: string; bytes: number; seed: number; lines: boolean }> }): Record<string, unknown> {
  const atts: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(d.atts)) {
    const b64 = Buffer.from(Array.from({ length: a.bytes }, (_, i) => (i * 7 + a.seed) % 256)).toString('base64');
    // MIME-style lines: whitespace inside base64 is ignored, as a buffered body's is.
    atts[name] = { content_type: a.content_type, data: a.lines ? b64.replace(/.{76}/g, '$&\r\n') : b64 };
  }
  return { ...d.body, _id: d._id, ...(Object.keys(atts).length > 0 && { _attachments: atts }) };
}

test('a streamed body reads as JSON.parse reads it, cut anywhere, long attachment data stored', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(docArb, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (docs, sizes, spaced) => {
      const body = { docs: docs.map(makeDoc), new_edits: false };
      const text = JSON.stringify(body, null, spaced ? 1 : undefined);
      const store = new MemoryBlobStore();
      const got = await read(text, 'bulk', store, sizes);
      assert.deepStrictEqual(await normalized(store, got), expected(JSON.parse(text)));
    }),
    { numRuns: 60 },
  );
});

test('a document body streams its attachments; elsewhere data strings stay strings', async () => {
  const store = new MemoryBlobStore();
  const big = Buffer.alloc(100_000, 9).toString('base64');
  const text = JSON.stringify({ _id: 'a', data: big, list: [{ _attachments: { x: { data: big } } }], _attachments: { 'x.bin': { content_type: 'a/b', data: big } } });
  const got = (await read(text, 'doc', store, [4096])) as Record<string, any>;
  assert.equal(got.data, big, 'a top-level data field is a string');
  assert.equal(got.list[0]._attachments.x.data, big, 'only the document\'s own _attachments stream');
  const data = got._attachments['x.bin'].data;
  assert.ok(data instanceof AttachmentBytes, 'the attachment data was streamed to the store');
  assert.equal(data.size, 100_000);
  assert.deepEqual(await bytesOf(store, data), Buffer.alloc(100_000, 9));
  // As a bulk body, the same text holds no attachment (no `docs`).
  const asBulk = (await read(text, 'bulk', new MemoryBlobStore())) as Record<string, any>;
  assert.equal(asBulk._attachments['x.bin'].data, big);
});

test('multi-byte characters, escapes and __proto__ survive any cut', async () => {
  const text = '{"_id":"é\\u00e9😀","__proto__":{"x":1},"s":"\\"\\\\\\n😀ü","n":[1e400,-0,0.1,12345678901234567890]}';
  for (const size of [1, 2, 3, 5, 7]) {
    const got = await read(text, 'doc', new MemoryBlobStore(), [size]);
    assert.deepStrictEqual(got, JSON.parse(text), `cut every ${size} bytes`);
    assert.equal(Object.getPrototypeOf(got), Object.prototype, '__proto__ is an own key, not the prototype');
  }
});

test('invalid base64 in long data becomes data the write refuses, and nothing of it is stored', async () => {
  const good = Buffer.alloc(40_000, 1).toString('base64');
  const cases = [good.slice(0, 30_000) + '*' + good.slice(30_000), good + '=A', good.slice(0, 30_001), '=' + good];
  for (const bad of cases) {
    const store = new MemoryBlobStore();
    const got = (await read(JSON.stringify({ _attachments: { x: { data: bad } } }), 'doc', store, [1000])) as Record<string, any>;
    const data = got._attachments.x.data;
    assert.equal(typeof data, 'string', 'left as a string');
    assert.throws(() => decodeBase64(data, 'x'), (e: unknown) => isRefugeError(e, 'bad_request') && /Invalid attachment data for x/.test(e.reason), 'which the write refuses as it refuses the data sent');
    assert.throws(() => decodeBase64(bad, 'x'), (e: unknown) => isRefugeError(e, 'bad_request'), 'as the data sent is refused');
    assert.deepEqual((await store.list()).ids, [], 'nothing stored');
  }
});

test('refusals: JSON past the limit, data past the blob limit, malformed or cut bodies', async () => {
  const small = { json: 20_000, blob: 50_000 };
  const refused = async (text: string, code: string, message: string) => {
    await assert.rejects(read(text, 'bulk', new MemoryBlobStore(), [999], small), (e: unknown) => isRefugeError(e, code as never), message);
  };
  await refused(JSON.stringify({ docs: [{ _id: 'a', text: 'x'.repeat(30_000) }] }), 'too_large', 'a long string that is not attachment data is held, to the limit');
  await refused(JSON.stringify({ docs: [{ _id: 'a', _attachments: { x: { data: Buffer.alloc(60_000).toString('base64') } } }] }), 'too_large', 'an attachment past the blob limit');
  await refused('{"docs":[{"_id":"a","_attachments":{"x":{"data":"' + 'A'.repeat(30_000), 'bad_request', 'a body cut inside the data');
  await refused('{"docs":[{"_id":"a"}', 'bad_request', 'a body cut after a document');
  await refused('{"docs":[{"_id":"a"}]} x', 'bad_request', 'text after the value');
  await refused('{"docs":[' + '['.repeat(5000) + ']'.repeat(5000) + ']}', 'bad_request', 'nesting past the parser\'s depth');
  await assert.rejects(
    readStreamedJson(new StreamedJsonBody(pieces(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), [1]), 'doc'), small, new MemoryBlobStore()),
    (e: unknown) => isRefugeError(e, 'bad_request'),
    'invalid UTF-8',
  );
});
