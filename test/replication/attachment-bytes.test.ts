// Attachments as a local source hands them on: bytes read only when written (AttachmentBytes), so a
// database of the same node names the same blob without reading it, a target that takes only
// base64 is given base64, and bytes that cannot be read fail the write, never count as the
// document's failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlobStore, type BlobId, type BlobRead, type BlobSource, type GetOptions, type PutOptions, type PutResult } from '../../src/blobs/core.ts';
import { AttachmentBytes, RefugeError, isRefugeError, type BulkGetResult, type Database, type Doc } from '../../src/core.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';
import { openNode } from '../../src/node/index.ts';
import { freshDb, tempDir } from '../helpers/db.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { startTestServer } from '../http/server.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

class CountingStore extends MemoryBlobStore {
  gets = 0;
  puts = 0;
  override get(id: BlobId, options?: GetOptions): Promise<BlobRead> {
    this.gets++;
    return super.get(id, options);
  }
  override put(source: BlobSource, options?: PutOptions): Promise<PutResult> {
    this.puts++;
    return super.put(source, options);
  }
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 8)) & 255));

async function readAll(read: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of read) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** In-memory databases for one test, removed after it. */
async function dbs(t: { after: (fn: () => Promise<void>) => void }, count: number) {
  const made = await Promise.all(Array.from({ length: count }, () => freshDb('memory')));
  t.after(async () => {
    for (const m of made) await m.cleanup();
  });
  return made.map((m) => m.db);
}

/** `db` with document `id` holding one attachment of `data`. */
async function withAttachment(db: Database, id: string, data: Buffer) {
  await db.put({ _id: id, _attachments: { [`${id}.bin`]: { content_type: 'application/octet-stream', data: data.toString('base64') } } });
}

test('between databases of one node, attachments are named in the shared store, not read again', async (t) => {
  const dir = await tempDir();
  const store = new CountingStore();
  const node = await openNode({ dataDir: dir.path, engine: 'memory', blobs: store });
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  const a = await node.createDb('a');
  const b = await node.createDb('b');
  const big = bytes(2 * 1024 * 1024, 7);
  for (let i = 0; i < 3; i++) await a.put({ _id: `doc${i}`, _attachments: { 'f.bin': { content_type: 'application/octet-stream', data: big.toString('base64') }, [`n${i}.txt`]: { content_type: 'text/plain', data: btoa(`note ${i}`) } } });
  store.gets = 0;
  store.puts = 0;
  const report = await replicate(a, b).done;
  assert.equal(report.docsWritten, 3, JSON.stringify(report));
  assert.deepEqual([store.gets, store.puts], [0, 0], 'no blob read or written again');
  await assertSameTrees(a, b);
  assert.ok((await readAll((await b.getAttachment('doc2', 'f.bin')).read)).equals(big), 'the copy reads the same bytes');
});

test('a target that declares no attachmentBytes is given base64; one on another store gets the bytes streamed', async (t) => {
  const [a, b, c] = (await dbs(t, 3)) as [Database, Database, Database];
  const data = bytes(300 * 1024, 3);
  await withAttachment(a, 'x', data);
  const plain = wrapPeer(new LocalPeer(b));
  const forms: string[] = [];
  const target = {
    ...plain,
    capabilities: { bulkGet: true, selector: true, longpoll: true },
    bulkDocs: (docs: readonly Doc[], options: { newEdits: false }) => {
      for (const doc of docs) for (const att of Object.values((doc._attachments ?? {}) as Record<string, { data?: unknown }>)) forms.push(typeof att.data);
      return plain.bulkDocs(docs, options);
    },
  };
  const report = await replicate(a, target).done;
  assert.equal(report.docWriteFailures, 0, JSON.stringify(report));
  assert.deepEqual(forms, ['string'], 'base64 text');
  await assertSameTrees(a, b);
  // A LocalPeer on another store takes the bytes as they are read.
  const direct = await replicate(a, c).done;
  assert.equal(direct.docsWritten, 1);
  assert.ok((await readAll((await c.getAttachment('x', 'x.bin')).read)).equals(data), 'the same bytes');
});

/** A source whose first answer's attachment bytes fail as `failure` says, the first `times` they are read. */
function failing(db: ConstructorParameters<typeof LocalPeer>[0], failure: () => Error, times = 1) {
  const source = wrapPeer(new LocalPeer(db));
  const inner = source.bulkGet;
  const state = { broken: 0 };
  source.bulkGet = async (requests, options) => {
    const answer: BulkGetResult = await inner(requests, options);
    for (const result of answer.results) {
      for (const entry of result.docs) {
        if (!('ok' in entry)) continue;
        for (const att of Object.values((entry.ok._attachments ?? {}) as Record<string, { data?: unknown }>)) {
          if (!(att.data instanceof AttachmentBytes) || state.broken > 0) continue;
          state.broken++;
          const real = att.data;
          let tries = 0;
          att.data = new AttachmentBytes(real.size, async () => {
            if (tries++ < times) throw failure();
            return real.open();
          });
        }
      }
    }
    return answer;
  };
  return { source, state };
}

test('attachment bytes that cannot be read for now are read again: the write is tried again, nothing fails', async (t) => {
  const [a, b] = (await dbs(t, 2)) as [Database, Database];
  const data = bytes(64 * 1024, 5);
  await withAttachment(a, 'y', data);
  const { source, state } = failing(a, () => new RefugeError('unavailable', 'link down'));
  const report = await replicate(source, b, { retry: { initialDelayMs: 1 } }).done;
  assert.equal(state.broken, 1, 'the source gave bytes to be read when written');
  assert.equal(report.docWriteFailures, 0, JSON.stringify(report));
  assert.equal(report.docsWritten, 1);
  assert.ok((await readAll((await b.getAttachment('y', 'y.bin')).read)).equals(data), 'the bytes arrived on the next try');
});

test('attachment bytes gone from the source fail that document alone (its revision was replaced), never the run', async (t) => {
  const [a, b] = (await dbs(t, 2)) as [Database, Database];
  const data = bytes(64 * 1024, 5);
  await withAttachment(a, 'y', data);
  await a.bulkDocs(Array.from({ length: 4 }, (_, i) => ({ _id: `plain${i}` })));
  const { source, state } = failing(a, () => new RefugeError('not_found', 'no such blob'), Infinity);
  // Continuous runs retry a failing call for ever: a gone blob must not be one.
  const rep = replicate(source, b, { retry: { initialDelayMs: 1, maxAttempts: 1_000 } });
  const failures: Array<[string, string | undefined]> = [];
  rep.on('change', (c) => failures.push(...c.failures.map((f): [string, string | undefined] => [f.id, f.error])));
  const report = await rep.done;
  assert.equal(state.broken, 1);
  assert.equal(report.docsWritten, 4, JSON.stringify(report));
  assert.equal(report.docWriteFailures, 1, 'the document whose bytes are gone');
  assert.deepEqual(failures, [['y', 'gone']]);
  await assert.rejects(b.get('y'), (err) => isRefugeError(err, 'not_found'), 'not written without its bytes');
});

test('to a server, bytes that fail mid-multipart are tried again when for now, and fail their document when gone', async (t) => {
  const server = await startTestServer();
  t.after(server.close);
  const [a] = (await dbs(t, 1)) as [Database];
  // Past the size from which a document goes alone, as a multipart PUT.
  const data = bytes(400 * 1024, 9);
  await withAttachment(a, 'z', data);
  await a.put({ _id: 'plain' });

  const now = failing(a, () => new RefugeError('unavailable', 'link down'));
  const first = await replicate(now.source, `${server.url}/later`, { createTarget: true, retry: { initialDelayMs: 1 } }).done;
  assert.equal(now.state.broken, 1);
  assert.deepEqual([first.docsWritten, first.docWriteFailures], [2, 0], JSON.stringify(first));
  const later = await server.node.db('later');
  assert.ok((await readAll((await later.getAttachment('z', 'z.bin')).read)).equals(data), 'written on the next try');

  const gone = failing(a, () => new RefugeError('not_found', 'no such blob'), Infinity);
  const second = await replicate(gone.source, `${server.url}/never`, { createTarget: true, retry: { initialDelayMs: 1, maxAttempts: 1_000 } }).done;
  assert.deepEqual([second.docsWritten, second.docWriteFailures], [1, 1], JSON.stringify(second));
  await assert.rejects((await server.node.db('never')).get('z'), (err) => isRefugeError(err, 'not_found'), 'not written');
});
