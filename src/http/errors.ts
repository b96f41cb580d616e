// Every failure leaves the server as CouchDB's `{"error","reason"}` with CouchDB's status: our own
// RefugeErrors as they are, framework errors (bad JSON, oversize bodies, media types) translated.

import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { reasonWire } from './wire.ts';

/** CouchDB's 415 for a body (or a bodiless POST) that does not say application/json. */
export const badContentType = (cause?: unknown): RefugeError =>
  new RefugeError('bad_content_type', 'Content-Type must be application/json', cause === undefined ? {} : { cause });

/**
 * A request body nested deeper than the code walking it can recurse (a `_security` object, keys,
 * ids thousands of levels deep: documents have their own limit) is the client's, not a failure of
 * the server: 400, as for any malformed body.
 */
function tooDeep(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

export function toWireError(err: unknown): RefugeError {
  // Wrapped as internal on its way up, or not: a stack overflow is the depth of what was sent.
  if (tooDeep(err) || (isRefugeError(err, 'internal') && tooDeep(err.cause))) {
    return new RefugeError('bad_request', 'the request nests values too deeply', { cause: err });
  }
  if (isRefugeError(err)) return err;
  const e = err as Partial<FastifyError> & { status?: number };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RefugeError('too_large', 'Request entity too large', { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return badContentType(err);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RefugeError('bad_request', 'Request body must not be empty', { cause: err });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RefugeError('bad_request', 'Invalid Content-Length', { cause: err });
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new RefugeError('bad_request', 'Invalid URL', { cause: err });
  }
  const status = e.statusCode ?? e.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new RefugeError('bad_request', e.message ?? 'Bad request', { cause: err, status });
  }
  return new RefugeError('internal', 'Internal server error', { cause: err });
}

/** A value Node writes as a header (visible latin1 and tabs); any other makes writeHead throw. */
const writableHeader = (value: unknown): boolean => (Array.isArray(value) ? value : [value]).every((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(String(v)));

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toWireError(err);
  // A header the failed answer had set that Node refuses to write would fail this answer too, and
  // Fastify would send its own body instead of CouchDB's: dropped.
  for (const [name, value] of Object.entries(reply.getHeaders())) if (!writableHeader(value)) reply.removeHeader(name);
  if (e.status >= 500 && e.code !== 'not_implemented') {
    req.log.error({ err }, 'request failed');
  }
  // As CouchDB: no challenge by default, so a browser app's request never pops up the browser's own
  // login box; a client that wants one names it in X-CouchDB-WWW-Authenticate.
  const challenge = req.headers['x-couchdb-www-authenticate'];
  if (e.code === 'unauthorized' && typeof challenge === 'string' && challenge !== '') reply.header('WWW-Authenticate', challenge);
  // CouchDB names the methods a 405 would take in Allow too; its reason lists them ("Only GET,HEAD allowed").
  const allowed = e.code === 'method_not_allowed' ? /^Only ([A-Z]+(?:,[A-Z]+)*) allowed$/.exec(e.reason)?.[1] : undefined;
  if (allowed !== undefined) reply.header('Allow', allowed);
  void reply.code(e.status).type('application/json').send(JSON.stringify({ error: e.code, reason: reasonWire(e.reasonValue) }));
}

/**
 * The routes' error handler. A request whose database was deleted under it finds it closed: that
 * is the 404 it would have got a moment later, not a server error.
 */
export function dbAwareErrorHandler(exists: (db: string) => Promise<boolean>) {
  return async (err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const db = (req.params as { db?: unknown } | undefined)?.db;
    if (isRefugeError(err, 'closed') && typeof db === 'string' && !(await exists(db).catch(() => true))) {
      return errorHandler(new RefugeError('not_found', 'Database does not exist.', { cause: err }), req, reply);
    }
    return errorHandler(err, req, reply);
  };
}

/** A CouchDB error written straight to a socket (no response object left to answer with), which then closes. */
function answerSocket(socket: Duplex, status: number, text: string, error: string, reason: string, headers = ''): void {
  const body = JSON.stringify({ error, reason });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${text}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * The answer under way on this connection to a request before the one that failed to parse, if
 * any: Node gives it the socket (`_httpMessage`) and queues the later ones. Its request was read
 * whole; one still reading its body is the request the parse error is about.
 */
function earlierAnswer(socket: Duplex): ServerResponse | undefined {
  const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  return res && !res.writableFinished && res.req?.complete ? res : undefined;
}

/**
 * Requests Node's HTTP parser rejects before any route runs (unknown methods, oversized headers,
 * broken framing) still get CouchDB's JSON error, then the connection closes. Bytes that fail to
 * parse behind pipelined requests wait for those requests' answers: answering at once (and closing)
 * lost an answer to a write that was made.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const pending = earlierAnswer(socket);
  // Node hands the socket to the next queued answer on 'finish', before 'close' comes.
  if (pending) return void pending.once('close', () => clientErrorHandler(err, socket));
  if (err.code === 'HPE_HEADER_OVERFLOW') return answerSocket(socket, 431, 'Request Header Fields Too Large', 'too_large', 'Request headers (or URL) too large');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return answerSocket(socket, 408, 'Request Timeout', 'timeout', 'Request timed out');
  answerSocket(socket, 400, 'Bad Request', 'bad_request', 'Malformed HTTP request');
}

/**
 * A WebSocket upgrade `ws` refuses before its handshake (`wsClientError`: not a GET, an Upgrade other
 * than websocket, a missing or bad Sec-WebSocket-Key or -Version): CouchDB's JSON error, where ws
 * would write a bare text/html line. Node hands every request with an Upgrade to the WebSocket
 * plugin, on any path, so these come after the route's hooks (authentication) have passed it.
 */
export function wsClientErrorHandler(err: Error, socket: Duplex): void {
  if (socket.destroyed) return;
  if (/method/i.test(err.message)) {
    return answerSocket(socket, 405, 'Method Not Allowed', 'method_not_allowed', 'Only GET allowed: a WebSocket upgrade is a GET', 'Allow: GET\r\n');
  }
  // RFC 6455 4.4: a refused version names the ones the server speaks.
  const versions = /version/i.test(err.message) ? 'Sec-WebSocket-Version: 13, 8\r\n' : '';
  answerSocket(socket, 400, 'Bad Request', 'bad_request', `Invalid WebSocket upgrade: ${err.message}`, versions);
}
