// The headers a replication endpoint may ask to send (CouchDB's `{url, headers}`): checked when the
// endpoint is given, as a 400, instead of failing every request of the replication as a network
// error retried until it gives up.

import { RefugeError } from '../errors/index.ts';

/** RFC 9110's token: what a header name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What Node and fetch write as a header value (no CR, LF or NUL). */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers that frame the message or the connection: the HTTP client sets them, and refuses them given. */
const FRAMING = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'content-length', 'te', 'trailer']);

/** Throws bad_request unless every member of `headers` is a header the client can send as given. */
export function checkRequestHeaders(headers: Record<string, unknown>, name = 'headers'): void {
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new RefugeError('bad_request', `${name} must be an object of strings`);
    if (!TOKEN.test(key)) throw new RefugeError('bad_request', `${name}: ${JSON.stringify(key)} is no header name`);
    if (FRAMING.has(key.toLowerCase())) throw new RefugeError('bad_request', `${name}: ${key} is set by the HTTP client, not given`);
    if (!VALUE.test(value)) throw new RefugeError('bad_request', `${name}: the value of ${key} holds a character no header value takes (a line break?)`);
  }
}
