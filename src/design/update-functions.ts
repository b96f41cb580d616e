// CouchDB's update functions (`updates` in a design document): `function(doc, req)` returns
// `[newDoc or null, response]`; the new document is saved through the ordinary write path, so
// validate_doc_update and conflicts apply as to any write.

import type { Database, Doc, UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { DesignDocs } from './design-docs.ts';

/** What an update function answers besides the document: a string (HTML) or CouchDB's response object. */
export interface UpdateResponse {
  code?: number;
  headers?: Record<string, string>;
  body?: string;
  json?: unknown;
  base64?: string;
}

export interface UpdateOutcome {
  response: UpdateResponse;
  /** The saved document's id and new revision, when the function returned one. */
  saved?: { id: string; rev: string };
}

export interface UpdateCall {
  ddoc: string;
  name: string;
  /** The document id of `PUT .../_update/name/{docid}`; undefined for a POST without one. */
  docId?: string;
  /** CouchDB's request object (info, id, uuid, method, path, query, headers, body, userCtx, secObj...). */
  req: Record<string, unknown>;
  userCtx: UserCtx;
}

function renderError(reason: string): RefugeError {
  return new RefugeError('render_error', reason);
}

function asResponse(value: unknown): UpdateResponse {
  if (typeof value === 'string') return { body: value };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw renderError('the update function must return [doc, response] with a string or object response');
  const r = value as Record<string, unknown>;
  const out: UpdateResponse = {};
  if (r.code !== undefined) {
    // Not 1xx: an informational status is no final answer, and the client would wait for the real one.
    if (!Number.isInteger(r.code) || (r.code as number) < 200 || (r.code as number) > 599) throw renderError('response code must be an HTTP status from 200 to 599');
    out.code = r.code as number;
  }
  if (r.headers !== undefined) {
    if (r.headers === null || typeof r.headers !== 'object' || Array.isArray(r.headers)) throw renderError('response headers must be an object');
    out.headers = {};
    for (const [k, v] of Object.entries(r.headers)) {
      // A header name or value that could split the response, or that Node would refuse to write
      // (a control or non-latin1 character: the answer failed after the document was saved), is refused.
      if (typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || !/^[\t\x20-\x7e\x80-\xff]*$/.test(v)) throw renderError(`bad response header ${JSON.stringify(k)}`);
      out.headers[k] = v;
    }
  }
  if (r.json !== undefined) out.json = r.json;
  else if (typeof r.base64 === 'string') out.base64 = r.base64;
  else if (r.body !== undefined) {
    if (typeof r.body !== 'string') throw renderError('response body must be a string');
    out.body = r.body;
  }
  return out;
}

/** The current winner of `id`, or null when it does not exist or is deleted (as CouchDB passes it). */
async function current(db: Database, id: string | undefined): Promise<Doc | null> {
  if (id === undefined) return null;
  try {
    return await db.get(id);
  } catch (err) {
    if (isRefugeError(err, 'not_found')) return null;
    throw err;
  }
}

export async function runUpdate(db: Database, docs: DesignDocs, call: UpdateCall): Promise<UpdateOutcome> {
  const ddoc = await docs.get(call.ddoc);
  const source = (ddoc.updates as Record<string, unknown> | undefined)?.[call.name];
  if (typeof source !== 'string') throw new RefugeError('not_found', `missing update function ${call.name} on design doc ${ddoc._id}`);
  const doc = await current(db, call.docId);
  const { sandbox, fn } = await docs.sandboxes.compile(ddoc, source);
  const result = await sandbox.callAsync(fn, [doc, { ...call.req, id: call.docId ?? null }]);
  if (!Array.isArray(result) || result.length !== 2) throw renderError('undefined response from update function');
  const [newDoc, response] = result as [unknown, unknown];
  const out: UpdateOutcome = { response: asResponse(response) };
  if (newDoc === null || newDoc === undefined) return out;
  if (typeof newDoc !== 'object' || Array.isArray(newDoc)) throw renderError('the document an update function returns must be an object or null');
  const toSave = newDoc as Doc;
  if (toSave._id === undefined || toSave._id === '') throw new RefugeError('illegal_docid', 'Document id must not be empty');
  const written = await db.put(toSave, { userCtx: call.userCtx });
  out.saved = { id: written.id, rev: written.rev };
  return out;
}
