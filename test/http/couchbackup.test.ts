// couchbackup, the CouchDB backup tool (IBM's, from npm), as a real client of a Refuge node: a
// database with a design document, attachments, conflicting leaves and a deletion is backed up to
// a file and restored into an empty database, and every leaf of every document comes back with
// its history and its attachments.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { tempDir } from '../helpers/db.ts';
import { request, startTestServer, type TestServer } from './server.ts';

type Done = (err: Error | null, data?: unknown) => void;
interface CouchBackup {
  backup(srcUrl: string, target: NodeJS.WritableStream, opts: Record<string, unknown>, done: Done): unknown;
  restore(src: NodeJS.ReadableStream, targetUrl: string, opts: Record<string, unknown>, done: Done): unknown;
}
const couchbackup = createRequire(import.meta.url)('@cloudant/couchbackup') as CouchBackup;

const run = (start: (done: Done) => unknown): Promise<unknown> =>
  new Promise((resolve, reject) => {
    start((err, data) => (err ? reject(err) : resolve(data)));
  });

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const hash = (c: string) => c.repeat(32);

describe('couchbackup against a Refuge node', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let auth: Record<string, string>;
  let base: string;
  const tmpdirBefore = process.env.TMPDIR;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb', admin: 'admin:secret', passwordIterations: 10 });
    dir = await tempDir('refuge-couchbackup-');
    // couchbackup makes a directory for its default log on every call, given a log or not: here,
    // inside the test's own directory, which goes with it.
    process.env.TMPDIR = dir.path;
    auth = { authorization: 'Basic ' + b64('admin:secret') };
    base = server.url.replace('http://', 'http://admin:secret@');
  });
  after(async () => {
    if (tmpdirBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdirBefore;
    await server.close();
    await dir.cleanup();
  });

  const call = (path: string, init: { method?: string; body?: unknown } = {}) => request(`${server.url}${path}`, { ...init, headers: auth });

  test('a full backup, with attachments, restores every leaf, history and attachment into an empty database', async () => {
    assert.equal((await call('/src', { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `doc${String(i).padStart(3, '0')}`, n: i, text: 'x'.repeat(i % 40) }));
    assert.equal((await call('/src/_bulk_docs', { method: 'POST', body: { docs } })).status, 201);
    await call('/src/_design/app', { method: 'PUT', body: { views: { byN: { map: 'function (d) { if (d.n !== undefined) emit(d.n); }' } } } });
    const withAtts = await call('/src/files', {
      method: 'PUT',
      body: { _attachments: { 'a.txt': { content_type: 'text/plain', data: b64('plain text') }, 'b.bin': { content_type: 'application/octet-stream', data: b64(Buffer.from([0, 1, 2, 255])) } } },
    });
    assert.equal(withAtts.status, 201);
    // Two edits of one revision, made elsewhere and replicated: conflicting leaves.
    const base1 = (await call('/src/shared', { method: 'PUT', body: { v: 1 } })).body.rev as string;
    const branches = ['a', 'b'].map((c) => ({ _id: 'shared', _rev: `2-${hash(c)}`, v: `branch ${c}`, _revisions: { start: 2, ids: [hash(c), base1.slice(2)] } }));
    assert.equal((await call('/src/_bulk_docs', { method: 'POST', body: { docs: branches, new_edits: false } })).status, 201);
    const gone = await call('/src/gone', { method: 'PUT', body: { v: 1 } });
    await call(`/src/gone?rev=${gone.body.rev}`, { method: 'DELETE' });

    const file = join(dir.path, 'src.backup');
    await run((done) => couchbackup.backup(`${base}/src`, createWriteStream(file), { attachments: true, log: join(dir.path, 'backup.log'), bufferSize: 100 }, done));
    assert.equal((await call('/dst', { method: 'PUT' })).status, 201);
    await run((done) => couchbackup.restore(createReadStream(file), `${base}/dst`, { attachments: true, bufferSize: 100 }, done));

    const [src, dst] = await Promise.all([call('/src'), call('/dst')]);
    assert.equal(dst.body.doc_count, src.body.doc_count);
    assert.equal(dst.body.doc_del_count, src.body.doc_del_count);
    assert.equal(src.body.doc_count, 303);
    // Every leaf of every document, deleted ones too, with its history: the same in both.
    const ids = (await call('/src/_changes')).body.results.map((r: { id: string }) => r.id) as string[];
    assert.equal(ids.length, 304);
    const leaves = async (db: string, id: string) => {
      const rows = (await call(`/${db}/${encodeURIComponent(id)}?open_revs=all&revs=true`)).body as Array<{ ok: Record<string, unknown> }>;
      return rows.map((r) => r.ok).sort((x, y) => String(x._rev).localeCompare(String(y._rev)));
    };
    for (const id of ids) assert.deepEqual(await leaves('dst', id), await leaves('src', id), id);
    const conflicts = await call('/dst/shared?conflicts=true');
    assert.deepEqual([conflicts.body._rev, ...conflicts.body._conflicts].sort(), [`2-${hash('a')}`, `2-${hash('b')}`]);
    const text = await fetch(`${server.url}/dst/files/a.txt`, { headers: auth });
    assert.equal(await text.text(), 'plain text');
    const bin = await fetch(`${server.url}/dst/files/b.bin`, { headers: auth });
    assert.deepEqual([...new Uint8Array(await bin.arrayBuffer())], [0, 1, 2, 255]);
    // The design document came back working.
    const view = await call('/dst/_design/app/_view/byN?limit=2');
    assert.deepEqual(view.body.rows.map((r: { key: number }) => r.key), [0, 1]);
  });
});
