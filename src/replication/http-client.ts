// JSON over HTTP to one CouchDB-compatible database: credentials taken out of the URL (fetch refuses
// them there), per-request timeouts, and failures mapped onto RefugeError codes (the body's
// reading: http-body.ts).

import { defaultTransport } from '#platform/http-transport';
import { RefugeError, isErrorCode, isRefugeError, type ErrorCode } from '../errors/index.ts';
import { fetchTransport, type HttpTransport, type TransportAnswer } from '../platform/http-transport.ts';
import { HeartbeatEar } from './heartbeats.ts';
import { quietWait, readText } from './http-body.ts';
import { checkRequestHeaders } from './request-headers.ts';
import { timeoutSignal, type TimeoutSignal } from './retry.ts';

export interface HttpClientOptions {
  /** Extra headers on every request (e.g. a bearer token). */
  headers?: Record<string, string>;
  /** Overrides credentials given in the URL. */
  auth?: { username: string; password: string };
  /** Per-request timeout in ms (default 60 s); long-polls add their own wait on top. */
  timeoutMs?: number;
  /** A fetch to send requests with (default: undici's `request` in Node, the global fetch elsewhere). */
  fetch?: typeof fetch;
  /**
   * The largest answer read (default 256 MiB): a peer that sends more gets a `too_large` error
   * instead of this process's memory. The replicator asks for fewer documents at a time then.
   */
  maxAnswerBytes?: number;
}

const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024;
/**
 * A poor mobile uplink (64 kbit/s). fetch tells nothing of a body's upload, so before its answer
 * a request is also given its body's time at this rate: a batch of large attachments over a slow
 * uplink was cut as silent while it went out, and sent again, for ever.
 */
const SLOWEST_UPLINK_BYTES_PER_S = 8 * 1024;

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** Path below the database URL, already encoded (see `docPath`); '' is the database itself. */
  path?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** A body streamed as it is, in place of `body`'s JSON (a multipart document). */
  raw?: { contentType: string; length: number; chunks(): AsyncIterable<Uint8Array> };
  signal?: AbortSignal;
  /** Extra time this request may legitimately take (long-poll). */
  extraTimeoutMs?: number;
  /**
   * Once the answer has begun, the longest silence between its chunks (a long-poll from a server
   * known to send heartbeats): a dead link shows in this, not in the whole long-poll's time.
   */
  idleMs?: number;
  /** Error statuses answered rather than thrown (CouchDB's 417 on _bulk_docs carries per-doc errors). */
  acceptStatus?: readonly number[];
  /**
   * A long-poll's wait: past it, an answer that has carried only its opening (`{"results":[`) and
   * heartbeats is given up (`quiet`). CouchDB, asked for heartbeats, ignores `timeout` and waits
   * for a change however long it takes; an answer already flowing is never cut.
   */
  waitMs?: number;
}

/** A request sent, its answer's status come and its body still to read (HttpClient.open). */
export interface OpenRequest {
  res: TransportAnswer;
  /** The request's timer: the reader touches it at each chunk and clears it when done. */
  timer: TimeoutSignal;
  /** `METHOD url`, for messages. */
  what: string;
}

export interface HttpResponse {
  status: number;
  body: unknown;
  /** The answer shows the server sent heartbeats while it waited (heartbeats.ts tells how). */
  heartbeats: boolean;
  /** Given up after `waitMs` with nothing but the opening and heartbeats received: no body. */
  quiet?: boolean;
}

function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * A document's path: `_design/` and `_local/` keep their slash (servers route on it), every other
 * character is percent-encoded, so an id containing '/' travels as %2F.
 */
export function docPath(id: string): string {
  for (const prefix of ['_design/', '_local/']) {
    if (id.startsWith(prefix)) return prefix + encodeURIComponent(id.slice(prefix.length));
  }
  return encodeURIComponent(id);
}

/** An attachment's path below its document: each `/`-separated segment encoded, as servers route it. */
export function attachmentPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** CouchDB's {error, reason} answer as a RefugeError; 5xx and 408/429 become retryable. */
export function httpError(status: number, body: unknown, what: string, cause?: unknown): RefugeError {
  const wire = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; reason?: unknown };
  const reason = typeof wire.reason === 'string' ? wire.reason : typeof wire.error === 'string' ? wire.error : `HTTP ${status}`;
  const transient = (status >= 500 && status !== 501) || status === 408 || status === 429;
  let code: ErrorCode;
  if (transient) code = 'unavailable';
  else if (isErrorCode(wire.error)) code = wire.error;
  else code = statusCode(status);
  return new RefugeError(code, `${what}: ${reason}`, { status, ...(cause !== undefined && { cause }) });
}

function statusCode(status: number): ErrorCode {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 405: return 'method_not_allowed';
    case 409: return 'conflict';
    case 412: return 'precondition_failed';
    case 413: return 'too_large';
    case 501: return 'not_implemented';
    default: return 'internal';
  }
}

/**
 * A user name or password from a URL, percent-decoded. A raw `%` not followed by two hex digits
 * (a password such as `50%off` written unencoded) is the caller's mistake: refused as such, not
 * left to escape as a URIError, an internal failure retried for ever.
 */
export function urlCredential(encoded: string, what = 'credential'): string {
  try {
    return decodeURIComponent(encoded);
  } catch (err) {
    throw new RefugeError('bad_request', `the URL's ${what} is not percent-encoded (write a % in it as %25)`, { cause: err });
  }
}

/**
 * Refuses a database URL no request could be made under: another scheme, or a query string (each
 * request appends its own path after the database's, and the query would land before it: a
 * `_revs_diff` posted to `/db?x=1/_revs_diff` is a new document in `db`).
 */
export function checkPeerUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RefugeError('bad_request', `unsupported protocol ${url.protocol} (http: or https:)`);
  }
  if (url.search !== '') throw new RefugeError('bad_request', 'a database URL takes no query string');
}

export class HttpClient {
  /** The database URL without credentials and without a trailing slash. */
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly transport: HttpTransport;
  readonly maxAnswerBytes: number;

  constructor(url: string | URL, options: HttpClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new RefugeError('bad_request', `not a URL: ${String(url)}`, { cause: err });
    }
    checkPeerUrl(parsed);
    if (options.headers) checkRequestHeaders(options.headers);
    this.headers = { accept: 'application/json', ...options.headers };
    const user = options.auth?.username ?? urlCredential(parsed.username, 'user name');
    const pass = options.auth?.password ?? urlCredential(parsed.password, 'password');
    if (user || pass) this.headers.authorization = `Basic ${base64(`${user}:${pass}`)}`;
    parsed.username = '';
    parsed.password = '';
    parsed.hash = '';
    this.url = parsed.href.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.transport = options.fetch ? fetchTransport(options.fetch) : defaultTransport;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  /**
   * Sends `req` and answers once its status has come: the caller reads the body and then clears
   * `timer` (request and stream.ts).
   */
  async open(req: HttpRequest): Promise<OpenRequest> {
    const method = req.method ?? 'GET';
    let href = req.path ? `${this.url}/${req.path}` : this.url;
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    if (qs) href += `?${qs}`;
    const headers = { ...this.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.raw) {
      headers['content-type'] = req.raw.contentType;
      headers['content-length'] = String(req.raw.length);
    }
    const payload = req.raw ? { length: req.raw.length, chunks: req.raw.chunks() } : req.body === undefined ? undefined : JSON.stringify(req.body);
    const what = `${method} ${href}`;
    const silenceMs = this.timeoutMs + (req.extraTimeoutMs ?? 0);
    const sendingMs = payload === undefined ? 0 : Math.ceil((payload.length / SLOWEST_UPLINK_BYTES_PER_S) * 1000);
    const timer = timeoutSignal(req.signal, silenceMs + sendingMs);
    try {
      const res = await this.transport({ url: href, method, headers, body: payload, signal: timer.signal });
      // The body is sent: from here on, silence alone counts.
      timer.touch(silenceMs);
      return { res, timer, what };
    } catch (err) {
      timer.clear();
      if (req.signal?.aborted) throw err;
      throw new RefugeError('unavailable', `${what}: ${describeFailure(err, timer.signal)}`, { cause: err });
    }
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method ?? 'GET';
    const { res, timer, what } = await this.open(req);
    try {
      if (req.idleMs !== undefined) timer.touch(req.idleMs);
      let text: string;
      const ear = new HeartbeatEar();
      const wait = req.waitMs === undefined ? undefined : quietWait(req.waitMs);
      try {
        text = await readText(res, timer.signal, () => timer.touch(), this.maxAnswerBytes, ear, wait);
      } catch (err) {
        // A long wait alone is no heartbeat: a server that waits silently after the opening is given the full time again.
        if (wait?.over && !req.signal?.aborted) return { status: res.status, body: undefined, heartbeats: ear.heard, quiet: true };
        if (req.signal?.aborted || isRefugeError(err, 'too_large')) throw err;
        throw new RefugeError('unavailable', `${what}: connection lost reading the answer (${describeFailure(err, timer.signal)})`, { cause: err });
      }
      // Nothing after a success's headers is an answer cut short as surely as one cut mid-way (a
      // body without a length ends where the connection does), never an empty one: a _revs_diff
      // read as nothing missing would let a checkpoint pass its revisions by for good.
      if (text === '' && res.status < 300 && res.status !== 204 && method !== 'HEAD') {
        throw new RefugeError('unavailable', `${what}: the answer is empty (HTTP ${res.status})`, { status: 502 });
      }
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch (err) {
        // An error status says what happened without a CouchDB body: a proxy's HTML 413 is a body
        // too large (the batch is halved), its 404 a missing endpoint (the _bulk_get fallback), its
        // 401/403 a refusal that retrying will not change.
        if (res.status >= 400 && !req.acceptStatus?.includes(res.status)) {
          throw httpError(res.status, { reason: `HTTP ${res.status}, an answer not JSON (${text.length} bytes)` }, what, err);
        }
        // A success whose body was cut short (a connection closed early, with no length to tell) or
        // garbled on the way: the peer's fault and usually passing, so retried as a lost connection
        // is; 502 if it lasts.
        throw new RefugeError('unavailable', `${what}: the answer is not JSON (HTTP ${res.status}, ${text.length} bytes)`, { cause: err, status: 502 });
      }
      if (res.status >= 400 && !req.acceptStatus?.includes(res.status)) throw httpError(res.status, body, what);
      return { status: res.status, body, heartbeats: ear.heard };
    } finally {
      timer.clear();
    }
  }
}

export function describeFailure(err: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof RefugeError) return signal.reason.reason;
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause?.code ? `${message} (${cause.code})` : message;
}
