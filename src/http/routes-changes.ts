// `_changes` over HTTP: normal, longpoll, continuous and eventsource feeds (feed-stream.ts; websocket
// in routes-changes-ws.ts), filtered by doc ids, a Mango selector or a design-document filter.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { sinceHere, type ChangeRow, type ChangesOptions, type Database, type UserCtx } from '../documents/index.ts';
import { etagMatches, notModified } from './blob-range.ts';
import { changesAnswer, changesEtag, rowJson } from './changes-answer.ts';
import { dbOf, type ServerContext } from './context.ts';
import { streamFeed, streamLongpoll } from './feed-stream.ts';
import { heartbeatParam, int, json, jsonStringArray, objectBody, requireJsonType, str, trueFlag, type Query } from './params.ts';
import { dbChangesSocket } from './routes-changes-ws.ts';
import { feedAccess } from './user-access.ts';
import { sendRows } from './json-rows.ts';

type Feed = 'normal' | 'longpoll' | 'continuous' | 'eventsource' | 'websocket';

interface ParsedChanges {
  feed: Feed;
  options: ChangesOptions;
  heartbeat?: number;
  timeout?: number;
  /** `since=now`: the feed starts at the update sequence, caught up by definition. */
  sinceNow: boolean;
}

/** The largest request body a design filter function gets as `req.body` (see filterRequest). */
const FILTER_BODY_LIMIT = 16 * 1024;

/** The parts of CouchDB's request object a design filter function reads beyond `query` (design-docs.ts). */
function filterRequest(req: FastifyRequest): Record<string, unknown> {
  const path = req.url.split('?')[0]!;
  const segments = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  const cookie: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) cookie[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  // CouchDB hands the raw body as text, and the string "undefined" for a GET. The sandbox takes the
  // request again with every document it filters: a large body (a long doc_ids list) would cost its
  // size per document, so one over FILTER_BODY_LIMIT is handed as for a GET.
  const text = req.body === undefined ? undefined : JSON.stringify(req.body);
  return {
    method: req.method,
    headers: withoutRevalidation(req.headers),
    body: text === undefined || text.length > FILTER_BODY_LIMIT ? 'undefined' : text,
    path: segments,
    requested_path: segments,
    raw_path: req.url,
    peer: req.ip,
    cookie,
  };
}

/** Headers a client adds to revalidate what it has (fetch adds the caching ones with If-None-Match). */
const REVALIDATION = new Set(['if-none-match', 'if-modified-since', 'cache-control', 'pragma']);

/**
 * The headers a filter function sees: not those of a revalidation, since the normal feed's ETag
 * names the request the filter sees (changes-answer.ts), and a revalidation must name the same.
 */
function withoutRevalidation(headers: FastifyRequest['headers']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !REVALIDATION.has(name)));
}

/**
 * The query with its names in lower case, as CouchDB's parse_changes_query reads them (`Since=` is
 * `since=`); of two names alike but for case, the later counts, as its fold over them has it.
 */
function lowerNames(q: Query): Query {
  if (Object.keys(q).every((name) => name === name.toLowerCase())) return q;
  const out: Query = {};
  for (const [name, value] of Object.entries(q)) out[name.toLowerCase()] = value;
  return out;
}

async function parse(db: Database, query: Query, body: unknown, user?: UserCtx, headers?: Record<string, string | string[] | undefined>, request?: FastifyRequest): Promise<ParsedChanges> {
  const q = lowerNames(query);
  const asked = str(q, 'feed') ?? 'normal';
  // CouchDB takes `live` for continuous.
  const feed = (asked === 'live' ? 'continuous' : asked) as Feed;
  if (!['normal', 'longpoll', 'continuous', 'eventsource', 'websocket'].includes(feed)) {
    throw new RefugeError('bad_request', 'Supported `feed` types: normal, continuous, longpoll, eventsource, websocket');
  }
  // Sequences here are cheap integers, so `seq_interval` (how often CouchDB computes one) changes
  // nothing; a bad value is still refused, as CouchDB's parse_changes_query refuses it.
  const seqInterval = str(q, 'seq_interval');
  if (seqInterval !== undefined && !/^[1-9][0-9]{0,8}$/.test(seqInterval)) throw new RefugeError('bad_request', 'invalid_seq_interval');
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  // An EventSource that reconnects names the last event it saw: CouchDB resumes after it.
  const lastEventId = feed === 'eventsource' ? headers?.['last-event-id'] : undefined;
  // CouchDB takes `last-event-id` in the query too, for an EventSource that cannot set headers.
  const sinceRaw = (typeof lastEventId === 'string' ? lastEventId : undefined) ?? str(q, 'last-event-id') ?? str(q, 'since') ?? (b.since !== undefined ? String(b.since) : undefined);
  let since = 0;
  if (sinceRaw === 'now') since = await db.updateSeq();
  else if (sinceRaw !== undefined) {
    // CouchDB clients may echo back a "N-opaque" sequence: its numeric prefix is ours. CouchDB's
    // replicator sends a checkpointed string seq JSON-encoded, quotes and all.
    const unquoted = sinceRaw.length > 1 && sinceRaw.startsWith('"') && sinceRaw.endsWith('"') ? sinceRaw.slice(1, -1) : sinceRaw;
    const m = /^([0-9]{1,15})(-.*)?$/.exec(unquoted);
    if (!m) throw new RefugeError('bad_request', 'Malformed sequence supplied in \'since\' parameter.');
    since = sinceHere(Number(m[1]), await db.updateSeq());
  }
  const options: ChangesOptions = {
    since,
    limit: int(q, 'limit'),
    descending: trueFlag(q, 'descending'),
    includeDocs: trueFlag(q, 'include_docs'),
    conflicts: trueFlag(q, 'conflicts'),
    // Refuge's extension (CouchDB ignores it): with include_docs, docs carry `_revisions`, so a
    // replicator can write them without asking _bulk_get for them again.
    revs: trueFlag(q, 'revs'),
    attachments: trueFlag(q, 'attachments'),
    style: (str(q, 'style') ?? 'main_only') as ChangesOptions['style'],
  };
  // An empty name is no filter, as CouchDB's configure_filter reads it.
  const filter = str(q, 'filter') || undefined;
  if (filter === '_doc_ids') {
    const docIds = jsonStringArray(b.doc_ids ?? json(q, 'doc_ids'), 'doc_ids');
    // No list at all is a lost parameter, not a filter that matches nothing (CouchDB's answer).
    if (docIds === undefined) throw new RefugeError('bad_request', '`doc_ids` filter parameter is not a list of doc ids.');
    options.docIds = docIds;
  } else if (filter === '_selector') {
    if (b.selector === undefined) throw new RefugeError('bad_request', 'Selector must be specified in POST payload');
    // CouchDB's own words for a selector that is not an object, here (its Mango errors come later).
    if (b.selector === null || typeof b.selector !== 'object' || Array.isArray(b.selector)) {
      throw new RefugeError('bad_request', 'Selector error: expected a JSON object');
    }
    options.selector = b.selector;
    // Checked with the selector (changes-filter.ts); they shape included documents only.
    if (b.fields !== undefined) options.fields = b.fields as string[];
  } else if (filter !== undefined) {
    // `_design`, `_view` (with `view=ddoc/name`) and `ddoc/name`: run by the design layer, which
    // hands the whole query string to a filter function as `req.query`, as CouchDB does.
    options.filter = filter;
    const view = str(q, 'view');
    if (view !== undefined) options.view = view;
    options.queryParams = { ...query };
    if (user) options.userCtx = user;
    if (request) options.filterRequest = filterRequest(request);
  }
  return { feed, options, heartbeat: heartbeatParam(q), timeout: int(q, 'timeout'), sinceNow: sinceRaw === 'now' };
}

async function stream(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, db: Database, p: ParsedChanges): Promise<void> {
  const { limit: _l, descending: _d, ...subscribe } = feedOptions(p);
  const allowed = await feedAccess(ctx, req.user, db.name);
  // The filter is checked as a normal feed checks it (a missing one is a 404, a bad selector a 400)
  // before the headers go out: after them, a feed can only end.
  if (p.options.filter !== undefined || p.options.selector !== undefined) await db.changes({ ...p.options, limit: 0 });
  let readSeq = p.options.since ?? 0;
  return streamFeed<ChangeRow>(ctx, req, reply, {
    readSeq: () => readSeq,
    ...(allowed && { allowed }),
    sse: p.feed === 'eventsource',
    ...(p.heartbeat !== undefined && { heartbeat: p.heartbeat }),
    ...(p.timeout !== undefined && { timeout: p.timeout }),
    ...(p.options.limit !== undefined && { limit: p.options.limit }),
    since: p.options.since ?? 0,
    batches: (signal, batchSize) => db.subscribe({ ...subscribe, batchSize, signal, onRead: (seq) => (readSeq = seq) }),
    json: rowJson,
    seqOf: (row) => row.seq,
    pending: (lastSeq) => db.pendingAfter(lastSeq),
  });
}

/** Chunked, as CouchDB's feeds always are: a replicating client then notices an answer cut short (json-rows.ts). */
const REPLICATION_FRAMING = { chunked: true };

/** Every feed's documents are spliced from storage where they can be (see ChangesOptions.docText). */
function feedOptions(p: ParsedChanges): ChangesOptions {
  return p.options.includeDocs ? { ...p.options, docText: true } : p.options;
}

/**
 * The normal feed, streamed from one snapshot with CouchDB's `pending` (changes after its
 * `last_seq`). It carries an ETag, as CouchDB's does, so a client polling it revalidates with
 * If-None-Match and gets a 304 while nothing changed, before any row is read.
 */
async function normal(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, db: Database, p: ParsedChanges) {
  const options = feedOptions(p);
  // A HEAD sends no `pending`: it is not counted (sendRows answers HEAD without reading a row).
  const listing = await db.changesListing(options, req.method !== 'HEAD');
  const etag = changesEtag(db, listing, options, ctx.version);
  if (etag !== undefined && etagMatches(req.headers['if-none-match'], etag)) {
    await listing.close();
    return notModified(reply, etag);
  }
  if (etag !== undefined) reply.header('ETag', etag);
  return sendRows(reply, changesAnswer(listing), REPLICATION_FRAMING);
}

/** Longpoll: the rows after `since` when there are any (listOrWait), else the first live one. */
async function longpoll(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, db: Database, p: ParsedChanges) {
  // A client already caught up (`since=now`, or a live replication asking again after each
  // change) has nothing to list: it waits at once, and a write landing meanwhile is the live
  // feed's first row. A thousand of them asking again after every write made that read dear.
  // A design filter is still compiled by the listing: a bad one is a 404 before any waiting.
  const o = p.options;
  const caughtUp = o.limit !== 0 && !o.descending && o.filter === undefined && (p.sinceNow || (o.since ?? 0) === (await db.updateSeq()));
  const since = caughtUp ? (o.since ?? 0) : await listOrWait(reply, db, p);
  if (since === undefined) return reply;
  const { limit, descending: _d, ...subscribe } = feedOptions(p);
  const allowed = await feedAccess(ctx, req.user, db.name);
  let readSeq = since;
  return streamLongpoll<ChangeRow>(ctx, req, reply, {
    readSeq: () => readSeq,
    ...(allowed && { allowed }),
    ...(p.timeout !== undefined && { timeout: p.timeout }),
    ...(p.heartbeat !== undefined && { heartbeat: p.heartbeat }),
    since,
    live: (signal) => db.subscribe({ ...subscribe, since, batchSize: limit ?? 1000, signal, onRead: (seq) => (readSeq = seq) }),
    json: rowJson,
    seqOf: (row) => row.seq,
    pending: (lastSeq) => db.pendingAfter(lastSeq),
  });
}

/**
 * Answers a longpoll at once, as a normal feed without ETag, when the feed has a row after
 * `since` (or a limit of 0), and answers undefined; else the sequence to wait from.
 */
async function listOrWait(reply: FastifyReply, db: Database, p: ParsedChanges): Promise<number | undefined> {
  const listing = await db.changesListing(feedOptions(p), true);
  // The listing is read until its first row (a filter may pass over many chunks first).
  const read: ChangeRow[] = [];
  try {
    while (read.length === 0) {
      const next = await listing.chunks.next();
      if (next.done) break;
      read.push(...next.value);
    }
  } catch (err) {
    await listing.close();
    throw err;
  }
  if (read.length > 0 || p.options.limit === 0) {
    await sendRows(reply, changesAnswer(listing, read), REPLICATION_FRAMING);
    return undefined;
  }
  await listing.close();
  return listing.lastSeq;
}

export function changesRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    // A POST says it is JSON and is an object, as CouchDB's handle_changes_req checks it.
    if (req.method === 'POST') {
      requireJsonType(req.headers);
      if (req.body !== undefined) objectBody(req.body);
    }
    const p = await parse(db, req.query as Query, req.body, req.user, req.headers, req);
    if (p.feed === 'websocket') {
      throw new RefugeError('not_implemented', 'feed=websocket needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket): plain HTTP gets feed=continuous or eventsource');
    }
    if (p.feed === 'continuous' || p.feed === 'eventsource') return stream(ctx, req, reply, db, p);
    if (p.feed === 'longpoll') return longpoll(ctx, req, reply, db, p);
    return normal(ctx, req, reply, db, p);
  };
  // WebSocket upgrades go to the socket feed; every other GET to the HTTP feeds.
  app.route({ method: 'GET', url: '/:db/_changes', wsHandler: (socket, req) => dbChangesSocket(ctx, socket, req, parse), handler });
  app.post('/:db/_changes', handler);
}
