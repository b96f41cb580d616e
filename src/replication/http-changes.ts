// `_changes` over HTTP for the HTTP peer: the request as CouchDB's wire names it, its rows checked,
// and the streamed read of a long normal feed handed out page by page (changesFeed).

import type { Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { ChangesSplitter, type ChangesTrailer } from './changes-splitter.ts';
import type { HttpClient, HttpRequest } from './http-client.ts';
import { streamText } from './http-stream.ts';
import { attachmentBytesOf, type PeerChangeRow, type PeerChanges, type PeerChangesRequest } from './peer.ts';

type Wire = Record<string, unknown>;

/** The heartbeat asked of a long-poll waiting `timeoutMs`: a few beats per wait, 5 s at most. */
export const heartbeatFor = (timeoutMs: number) => Math.max(100, Math.min(5_000, Math.round(timeoutMs / 3)));

/**
 * The query (and, for the filters that take one, the POST body) of a changes request, and for a
 * long-poll the wait it asks of the server (`timeout`), which the client's own timers follow.
 */
export function changesQuery(req: PeerChangesRequest): { query: Record<string, string | number | undefined>; body: unknown; waitMs?: number } {
  const waitMs = req.feed === 'longpoll' ? Math.max(1, Math.round(req.timeoutMs ?? 30_000)) : undefined;
  const query: Record<string, string | number | undefined> = {
    style: req.style,
    since: req.since,
    limit: req.limit,
    feed: waitMs === undefined ? undefined : 'longpoll',
    timeout: waitMs,
    heartbeat: waitMs === undefined ? undefined : heartbeatFor(waitMs),
    // `revs` is Refuge's: CouchDB ignores it, its docs come without `_revisions` and are not used.
    include_docs: req.includeDocs ? 'true' : undefined,
    revs: req.includeDocs ? 'true' : undefined,
  };
  let body: unknown;
  if (req.docIds) {
    query.filter = '_doc_ids';
    body = { doc_ids: req.docIds };
  } else if (req.selector !== undefined) {
    query.filter = '_selector';
    body = { selector: req.selector };
  } else if (req.filter) {
    // CouchDB hands every extra query parameter to the filter function as `req.query`.
    for (const [k, v] of Object.entries(req.filter.queryParams)) {
      if (!(k in query)) query[k] = typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v);
    }
    query.filter = req.filter.name;
  }
  return { query, body, ...(waitMs !== undefined && { waitMs }) };
}

/**
 * Reads changes rows for the peer. `docs` is told of each row's document when docs were asked:
 * false when the server does not know the extension (rows without docs, or docs without
 * `_revisions`), and it is then never asked again.
 */
export class ChangeRows {
  constructor(
    private readonly url: string,
    private readonly noDocs: () => void,
  ) {}

  /** One wire row as the replicator takes it; a row it cannot act on is the peer's fault, never stepped over. */
  row(r: Wire, includeDocs: boolean | undefined): PeerChangeRow {
    if (typeof r?.id !== 'string' || !Array.isArray(r.changes) || r.seq === undefined) {
      throw new RefugeError('bad_gateway', `${this.url}/_changes: a row without seq, id or changes: ${JSON.stringify(r).slice(0, 200)}`);
    }
    const row: PeerChangeRow = { seq: r.seq as PeerChangeRow['seq'], id: r.id, changes: r.changes as PeerChangeRow['changes'] };
    if (r.deleted === true) row.deleted = true;
    if (includeDocs) this.takeDoc(row, r.doc);
    return row;
  }

  /** An answer's wire rows and trailer as one page. */
  page(rows: unknown, trailer: ChangesTrailer, req: PeerChangesRequest): PeerChanges {
    if (!Array.isArray(rows)) throw new RefugeError('bad_gateway', `${this.url}/_changes: no results in the answer`);
    return this.lastPage(rows.map((r: Wire) => this.row(r, req.includeDocs)), trailer, req);
  }

  /** Rows taken already, and the answer's trailer: the answer's last page. */
  lastPage(results: PeerChangeRow[], trailer: ChangesTrailer, req: PeerChangesRequest): PeerChanges {
    const lastSeq = (trailer.last_seq ?? results[results.length - 1]?.seq ?? req.since) as PeerChanges['lastSeq'];
    const out: PeerChanges = { results, lastSeq };
    if (typeof trailer.pending === 'number') out.pending = trailer.pending;
    return out;
  }

  /** A doc from changes is used only as bulkGet would give it: with its history, attachments inline. */
  private takeDoc(row: PeerChangeRow, doc: unknown): void {
    if (doc === null || typeof doc !== 'object' || (doc as Doc)._revisions === undefined) {
      this.noDocs();
      return;
    }
    const d = doc as Doc;
    if (d._id !== row.id) return;
    if (d._attachments === undefined) row.doc = d;
    else row.attachmentBytes = attachmentBytesOf(d);
  }
}

/**
 * A normal feed of up to `req.limit` rows read as one streamed answer and handed out in pages of
 * `pageSize` rows, each as soon as its rows have come: one request, and one snapshot on the
 * server, instead of one per page, and no round trip between pages. Every page but the last is
 * full and ends at its last row's seq; the last one (possibly empty) carries the answer's
 * `pending`, and its `last_seq` unless all the rows asked came. Rows larger than `maxRowChars`
 * fail with `too_large`; an answer not written rows first is read whole (as `changes` would),
 * within `maxAnswerChars`.
 */
export async function* changesFeed(
  client: HttpClient,
  rows: ChangeRows,
  req: PeerChangesRequest,
  pageSize: number,
  limits: { maxRowChars: number; maxAnswerChars: number },
): AsyncGenerator<PeerChanges> {
  const { query, body } = changesQuery({ ...req, feed: 'normal' });
  const http: HttpRequest = { method: body === undefined ? 'GET' : 'POST', path: '_changes', query, body, signal: req.signal };
  const splitter = new ChangesSplitter(limits.maxRowChars);
  let page: PeerChangeRow[] = [];
  let taken = 0;
  const full = (): PeerChanges => ({ results: page, lastSeq: page[page.length - 1]!.seq });
  /**
   * Takes rows into pages, handing out each page once full, but for the one that ends with the
   * last row asked: it waits for the trailer, only bytes away, to carry the feed's `pending`.
   */
  const take = function* (wires: unknown[]): Generator<PeerChanges> {
    for (const wire of wires) {
      const row = rows.row(wire as Wire, req.includeDocs);
      // A server giving more than it was asked: the page held is not the last after all.
      if (page.length === pageSize) {
        yield full();
        page = [];
      }
      page.push(row);
      taken++;
      if (page.length === pageSize && taken < req.limit) {
        yield full();
        page = [];
      }
    }
  };
  let end: ReturnType<ChangesSplitter['end']>;
  try {
    let chars = 0;
    for await (const piece of streamText(client, http)) {
      chars += piece.length;
      if (splitter.whole && chars > limits.maxAnswerChars) {
        throw new RefugeError('too_large', `the answer is larger than ${limits.maxAnswerChars} characters`, { status: 502 });
      }
      yield* take(readable(() => splitter.push(piece), client.url, 'a row is not JSON'));
    }
    // Cut short (a connection closed early, with no length to tell) or garbled: retried as a lost connection is.
    end = readable(() => splitter.end(), client.url, 'the answer is not JSON');
  } catch (err) {
    // The rows of a page held for the trailer came whole: handed out before the failure is.
    if (page.length === pageSize) yield full();
    throw err;
  }
  // The rows left: the last line's, or every row of an answer read whole.
  yield* take(end.rows);
  if (page.length === pageSize && taken >= req.limit) {
    // All the rows asked came: the feed may go on, so the page ends at its last row, not at
    // `last_seq`, and the reader asks again from there.
    const last = full();
    if (typeof end.trailer.pending === 'number') last.pending = end.trailer.pending;
    yield last;
    return;
  }
  yield rows.lastPage(page, end.trailer, req);
}

/** What the splitter gives; a SyntaxError (a garbled or cut-short answer) is `unavailable`, retried. */
function readable<T>(read: () => T, url: string, what: string): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof RefugeError) throw err;
    throw new RefugeError('unavailable', `${url}/_changes: ${what}`, { cause: err, status: 502 });
  }
}
