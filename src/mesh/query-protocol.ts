// `/refuge/query/1.0.0`: the messages of flooded queries (a query signed by its asker, results signed
// by their answerers and routed back), their limits, and the signing/validation both the router and
// the transports rely on.

import { isBlobId, type BlobId } from '../blobs/id.ts';
import { canonicalJson, validateDbName, type Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { normalizeSelector } from '../query/selector-normalize.ts';
import { isPeerId } from './identity.ts';
import { ALL_DBS } from './trust.ts';

export const QUERY_PROTOCOL = '/refuge/query/1.0.0';
/** Hop limit: nodes at most this many hops from the asker answer. */
export const DEFAULT_TTL = 3;
export const MAX_TTL = 8;
export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 10_000;
export const DEFAULT_QUERY_MS = 3_000;
/** No query lives longer: seen-cache entries and routes expire with it. */
export const MAX_QUERY_MS = 60_000;
/** One message (a query, or one node's results for one database). */
export const MAX_QUERY_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What is asked: documents matching a Mango selector in one database (or `*`), or who has a blob. */
export type Question = { kind: 'find'; selector: Record<string, unknown>; db: string } | { kind: 'blob'; blob: BlobId };

export interface SignedQuery {
  v: 1;
  /** Random; the seen-caches key on it. */
  id: string;
  /** The asker's peer id: answers are evaluated with its grants, and it signed the query. */
  origin: string;
  question: Question;
  /** Hop limit, 1..MAX_TTL. */
  ttl: number;
  /** Documents wanted in all (each node returns at most this many). */
  limit: number;
  /** Epoch ms after which nobody answers or forwards (nodes' clocks are assumed roughly in sync). */
  deadline: number;
  /** Ed25519 signature (base64) by the origin's node key over `signedBytes(query)`. */
  sig: string;
}

/** One node's answer: documents of one database, or that it holds the blob. */
export interface QueryResult {
  peer: string;
  db?: string;
  docs?: Doc[];
  blob?: { id: BlobId; size: number };
  /**
   * On the wire: Ed25519 signature (hex) by `peer` over `resultBytes(query id, result)`, so relays
   * on the way back can drop an answer but not forge or alter one. The asker checks it and strips it.
   */
  sig?: string;
}

/**
 * `hops` is how far the query has come (1 at the asker's neighbours). It is not signed (it changes
 * at each hop), so a lying relay could extend the reach; the deadline and seen-caches bound that.
 */
export type QueryMessage = { type: 'query'; query: SignedQuery; hops: number } | { type: 'result'; id: string; result: QueryResult };

const encoder = new TextEncoder();

/** The bytes the origin signs: everything but the signature, in canonical JSON. */
export function signedBytes(q: Omit<SignedQuery, 'sig'>): Uint8Array {
  const { v, id, origin, question, ttl, limit, deadline } = q;
  return encoder.encode(canonicalJson({ v, id, origin, question, ttl, limit, deadline }));
}

/** The bytes an answering node signs: the query it answers and its result, in canonical JSON. */
export function resultBytes(queryId: string, r: Omit<QueryResult, 'sig'>): Uint8Array {
  const { peer, db, docs, blob } = r;
  return encoder.encode(canonicalJson({ v: 1, query: queryId, peer, db: db ?? null, docs: docs ?? null, blob: blob ?? null }));
}

const bad = (reason: string) => new RefugeError('bad_request', reason);
const isInt = (v: unknown, min: number, max: number): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks a question an application or a peer gives (selector parsed, db name valid). */
export function checkQuestion(value: unknown): Question {
  if (!isObject(value)) throw bad('a question is an object');
  if (value.kind === 'blob') {
    if (!isBlobId(value.blob)) throw bad('a blob question names a sha256-<hex> blob id');
    return { kind: 'blob', blob: value.blob };
  }
  if (value.kind !== 'find') throw bad('a question is of kind find or blob');
  if (!isObject(value.selector)) throw bad('a selector is a JSON object');
  normalizeSelector(value.selector);
  if (value.db !== ALL_DBS) validateDbName(value.db as string);
  return { kind: 'find', selector: value.selector, db: value.db as string };
}

/** Shape checks of a message from a peer (signatures are the router's job); bad_request when wrong. */
export function checkMessage(value: unknown): QueryMessage {
  if (!isObject(value)) throw bad('a query message is an object');
  if (value.type === 'query') {
    const q = value.query as Partial<SignedQuery> | undefined;
    if (!isObject(q) || q.v !== 1) throw bad('a version 1 query');
    if (typeof q.id !== 'string' || q.id.length < 8 || q.id.length > 64) throw bad('a query id is 8-64 characters');
    if (!isPeerId(q.origin)) throw bad('a query names its origin peer');
    if (!isInt(q.ttl, 1, MAX_TTL) || !isInt(q.limit, 1, MAX_QUERY_LIMIT) || !isInt(q.deadline, 0, Number.MAX_SAFE_INTEGER)) throw bad('ttl, limit or deadline out of range');
    if (typeof q.sig !== 'string' || q.sig.length > 200) throw bad('a query carries its signature');
    if (!isInt(value.hops, 1, q.ttl)) throw bad('hops must be 1..ttl');
    const query: SignedQuery = { v: 1, id: q.id, origin: q.origin, question: checkQuestion(q.question), ttl: q.ttl, limit: q.limit, deadline: q.deadline, sig: q.sig };
    return { type: 'query', query, hops: value.hops };
  }
  if (value.type === 'result') {
    const r = value.result;
    if (typeof value.id !== 'string' || !isObject(r) || !isPeerId(r.peer)) throw bad('a result names its query and its peer');
    if (r.docs !== undefined && (!Array.isArray(r.docs) || !r.docs.every(isObject) || typeof r.db !== 'string')) throw bad('result docs are objects of a named db');
    if (r.blob !== undefined && (!isObject(r.blob) || !isBlobId(r.blob.id) || !isInt(r.blob.size, 0, Number.MAX_SAFE_INTEGER))) throw bad('a blob result is {id, size}');
    if (typeof r.sig !== 'string' || r.sig.length > 200) throw bad('a result carries its signature');
    return { type: 'result', id: value.id, result: r as unknown as QueryResult };
  }
  throw bad('a query message is of type query or result');
}

/** How many documents (or blob sightings) a result counts for against the limit. */
export const resultWeight = (r: QueryResult): number => (r.docs ? r.docs.length : 1);
