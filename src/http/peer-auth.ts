// Requests signed by a mesh peer (`Authorization: Refuge-Peer …`): the peer is identified by its key
// and may do exactly what the node's grants let it — read or write a database, read blobs — and
// nothing else (no admin role, no server-wide route). The check itself is supplied by the mesh.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { RefugeError } from '../errors/index.ts';

export const PEER_AUTH_PREFIX = 'Refuge-Peer ';
export const CONTENT_SHA256 = 'x-refuge-content-sha256';

/** What a node lets signed peers do (the mesh's trust and grants behind it). */
export interface PeerAccess {
  /** The peer id that signed the request; throws `unauthorized` when the signature does not hold. */
  authenticate(req: { method: string; host: string; url: string; authorization: string; contentSha256?: string | undefined }): string;
  may(peerId: string, access: 'read' | 'write', db: string): Promise<boolean>;
  mayReadBlobs(peerId: string): Promise<boolean>;
}

export type PeerTarget =
  | { kind: 'open' }
  /** A database, or a ref as `ref:NAME` (the grants key of refs). */
  | { kind: 'db'; db: string; access: 'read' | 'write' }
  | { kind: 'blobs' }
  | { kind: 'other' };

/** POSTs that only read: CouchDB's query endpoints. */
const READING_POSTS = new Set(['_all_docs', '_local_docs', '_design_docs', '_bulk_get', '_revs_diff', '_missing_revs', '_changes', '_find', '_explain', '_ensure_full_commit']);
const OPEN = new Set(['/', '/_up']);

/** Which grant a request needs. Database-level administration (create, delete, compact) is not a grant. */
export function peerTarget(method: string, path: string): PeerTarget {
  if (OPEN.has(path)) return { kind: 'open' };
  // Every segment as the router sees it: `/db/%5Fcompact` is routed as `/db/_compact`.
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return { kind: 'other' };
  }
  const first = parts[0] ?? '';
  const reading = method === 'GET' || method === 'HEAD';
  if (first === '_refs') {
    // A ref's values (with history) under the ref's grant; its signer's public key is public anyway.
    const name = parts.slice(1).join('/');
    if (!reading || name === '') return { kind: 'other' };
    return name === '_key' ? { kind: 'open' } : { kind: 'db', db: `ref:${name}`, access: 'read' };
  }
  if (first === '_blobs') {
    // A peer reads blobs whose ids it knows (from documents and refs it may read), never the list
    // of what this node holds: the listing and the blob changes feed are the node's own.
    const sub = parts[1] ?? '';
    if (reading && parts.length === 2 && sub !== '' && !sub.startsWith('_')) return { kind: 'blobs' };
    return method === 'POST' && parts.length === 2 && sub === '_stat' ? { kind: 'blobs' } : { kind: 'other' };
  }
  if (first === '' || first.startsWith('_')) return { kind: 'other' };
  const rest = parts.slice(1);
  if (rest.length === 0 || rest[0] === '') {
    // GET the database's info; POST a new document to it; creating or deleting it is no grant's.
    if (reading) return { kind: 'db', db: first, access: 'read' };
    return method === 'POST' ? { kind: 'db', db: first, access: 'write' } : { kind: 'other' };
  }
  if (['_compact', '_view_cleanup', '_security', '_revs_limit', '_purge', '_purged_infos_limit', '_sync_shards'].includes(rest[0]!)) return reading && rest[0] !== '_compact' ? { kind: 'db', db: first, access: 'read' } : { kind: 'other' };
  if (reading) return { kind: 'db', db: first, access: 'read' };
  if (method === 'POST') {
    if (rest.length === 1 && READING_POSTS.has(rest[0]!)) return { kind: 'db', db: first, access: 'read' };
    if (rest.length === 2 && rest[1] === 'queries' && ['_all_docs', '_design_docs', '_local_docs'].includes(rest[0]!)) return { kind: 'db', db: first, access: 'read' };
    // POST /db/_design/d/_view/v (queries) and /_search/i read; so do `queries` batches.
    if (rest[0] === '_design' && (rest[2] === '_view' || rest[2] === '_search')) return { kind: 'db', db: first, access: 'read' };
  }
  return { kind: 'db', db: first, access: 'write' };
}

/** Decides a signed request: resolves with the peer id, or throws unauthorized / forbidden. */
export async function authorizePeer(
  access: PeerAccess | undefined,
  req: { method: string; host: string; url: string; authorization: string; contentSha256?: string | undefined },
): Promise<string> {
  if (!access) throw new RefugeError('unauthorized', 'peer authentication is not enabled on this node (it is not on the mesh)');
  const peerId = access.authenticate(req);
  const target = peerTarget(req.method, req.url.split('?', 1)[0]!);
  let allowed: boolean;
  switch (target.kind) {
    case 'open':
      allowed = true;
      break;
    case 'db':
      allowed = await access.may(peerId, target.access, target.db);
      break;
    case 'blobs':
      allowed = await access.mayReadBlobs(peerId);
      break;
    default:
      allowed = false;
  }
  if (!allowed) throw new RefugeError('forbidden', `peer ${peerId} may not ${req.method} ${req.url.split('?', 1)[0]}`);
  return peerId;
}

/**
 * The request body passed through a SHA-256 that must match the signed digest: the bytes a handler
 * reads are exactly the ones the peer signed (a mismatch fails the body, so nothing is stored). The
 * body is hashed as it is read, and only then: a check fed as the bytes came failed, for a route
 * that never read them (a refused write), with no one listening, and that uncaught error ended the process.
 */
export function digestChecked(payload: NodeJS.ReadableStream, expected: string | undefined): NodeJS.ReadableStream {
  return Readable.from(checked(payload, expected), { objectMode: false });
}

async function* checked(payload: NodeJS.ReadableStream, expected: string | undefined): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let seen = 0;
  for await (const chunk of payload as AsyncIterable<Buffer>) {
    seen += chunk.length;
    hash.update(chunk);
    yield chunk;
  }
  if (seen === 0 && expected === undefined) return;
  if (hash.digest('hex') !== expected) throw new RefugeError('unauthorized', 'peer authentication failed: the body is not the one signed');
}
