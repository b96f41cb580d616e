// A minimal CouchDB-compatible HTTP endpoint over in-memory Databases, only for testing HttpPeer
// on the wire until Refuge's own server (src/http) exists. Speaks just the replication subset.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openDatabase } from '../../../src/index.ts';
import { RefugeError, toRefugeError, type Database } from '../../../src/core.ts';
import { LocalPeer } from '../../../src/replication/index.ts';

export interface MiniCouchOptions {
  /** Answer _bulk_get with 404, like CouchDB 1.x. */
  noBulkGet?: boolean;
  /** Runs first on every request; may answer by itself (return true) to simulate failures. */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface MiniCouch {
  url: string;
  dbs: Map<string, Database>;
  requests: Array<{ method: string; url: string; authorization?: string }>;
  createDb(name: string): Promise<Database>;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RefugeError('bad_request', 'invalid JSON', { cause: err });
  }
}

/** For an `intercept`: answers `body` as JSON with `status`, and says the request is answered. */
export function answerJson(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

export async function startMiniCouch(options: MiniCouchOptions = {}): Promise<MiniCouch> {
  const dbs = new Map<string, Database>();
  const requests: MiniCouch['requests'] = [];
  const createDb = async (name: string) => {
    const db = await openDatabase(name, { engine: 'memory', location: `mini-couch-${Math.random()}-${name}` });
    dbs.set(name, db);
    return db;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<[number, unknown]> {
    // A long-poll whose client went away stops waiting.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const url = new URL(req.url!, 'http://x');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const q = Object.fromEntries(url.searchParams);
    const name = parts[0]!;
    const method = req.method!;
    const db = dbs.get(name);
    if (parts.length === 1 && method === 'PUT') {
      if (db) throw new RefugeError('file_exists', 'The database could not be created, the file already exists.');
      await createDb(name);
      return [201, { ok: true }];
    }
    if (!db) throw new RefugeError('not_found', 'Database does not exist.');
    const peer = new LocalPeer(db);
    const [, first, ...rest] = parts;
    if (first === undefined) {
      const info = await db.info();
      return [200, { db_name: info.dbName, update_seq: info.updateSeq, doc_count: info.docCount, instance_start_time: '0' }];
    }
    const body = (await readJson(req)) as Record<string, unknown> | undefined;
    if (first === '_changes') {
      if (q.filter === '_doc_ids' && !Array.isArray(body?.doc_ids)) throw new RefugeError('bad_request', 'doc_ids required');
      const feed = await peer.changes({
        since: Number(q.since ?? 0),
        limit: q.limit === undefined ? Number.MAX_SAFE_INTEGER : Number(q.limit),
        style: 'all_docs',
        docIds: q.filter === '_doc_ids' ? (body!.doc_ids as string[]) : undefined,
        selector: q.filter === '_selector' ? body!.selector : undefined,
        feed: q.feed === 'longpoll' ? 'longpoll' : 'normal',
        timeoutMs: q.timeout === undefined ? undefined : Number(q.timeout),
        signal: gone.signal,
      });
      return [200, { results: feed.results, last_seq: feed.lastSeq }];
    }
    if (first === '_revs_diff' && method === 'POST') {
      const diff = await db.revsDiff(body ?? {});
      const wire = Object.fromEntries(
        Object.entries(diff).map(([id, d]) => [id, d.possibleAncestors ? { missing: d.missing, possible_ancestors: d.possibleAncestors } : { missing: d.missing }]),
      );
      return [200, wire];
    }
    if (first === '_bulk_get' && method === 'POST') {
      if (options.noBulkGet) throw new RefugeError('not_found', 'missing');
      return [200, await db.bulkGet(body!.docs as never, { revs: q.revs === 'true', latest: q.latest === 'true', attachments: q.attachments === 'true' })];
    }
    if (first === '_bulk_docs' && method === 'POST') {
      const results = await db.bulkDocs(body!.docs as unknown[], { newEdits: body!.new_edits !== false });
      return [201, body!.new_edits === false ? results.filter((r) => 'error' in r) : results];
    }
    if (first === '_ensure_full_commit' && method === 'POST') return [201, { ok: true, instance_start_time: '0' }];
    const id = first === '_local' || first === '_design' ? `${first}/${rest.join('/')}` : [first, ...rest].join('/');
    if (method === 'PUT') {
      const result = await db.put({ ...(body as object), _id: id });
      return [201, result];
    }
    if (method === 'GET' && q.open_revs !== undefined) {
      const revs = q.open_revs === 'all' ? 'all' : (JSON.parse(q.open_revs) as string[]);
      return [200, await db.getOpenRevs(id, revs, { revs: q.revs === 'true', latest: q.latest === 'true', attachments: q.attachments === 'true' })];
    }
    if (method === 'GET') return [200, await db.get(id, { revs: q.revs === 'true' })];
    throw new RefugeError('bad_request', `unsupported: ${method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    if (options.intercept?.(req, res)) return;
    handle(req, res).then(
      ([status, body]) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      (err) => {
        const e = toRefugeError(err);
        res.writeHead(e.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(e.toJSON()));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dbs,
    requests,
    createDb,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const db of dbs.values()) await db.close();
    },
  };
}
