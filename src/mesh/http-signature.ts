// Peer authentication on HTTP: a request signed with the node's Ed25519 key (the key behind its
// peer id), so grants hold on HTTP as they do on the mesh's own protocols. Portable: fetch and noble.
//
//   Authorization: Refuge-Peer id="12D3KooW…", ts="<ms>", nonce="<hex>", sig="<base64url>"
//   X-Refuge-Content-SHA256: <hex of the body>          (when there is a body)
//
// The signature covers the method, the host the request was sent to, the path with its query, the
// time, a nonce and the body's digest: it cannot be replayed elsewhere, later, twice, or with
// another body. The server checks the digest against the bytes it receives.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { base64url } from 'multiformats/bases/base64';
import { RefugeError } from '../errors/index.ts';
import { signBytes, verifyBytes, type NodeKey } from '../refs/core.ts';
import { parsePeerId, peerIdOf } from './identity.ts';
import { SeenCache } from './seen-cache.ts';

export const PEER_AUTH_SCHEME = 'Refuge-Peer';
export const CONTENT_SHA256_HEADER = 'x-refuge-content-sha256';
/** How far a request's time may be from the server's clock (either way). */
export const DEFAULT_SKEW_MS = 5 * 60_000;

const te = new TextEncoder();

function message(method: string, host: string, pathAndQuery: string, ts: string, nonce: string, digest: string): Uint8Array {
  return te.encode(`refuge-http/1\n${method.toUpperCase()}\n${host.toLowerCase()}\n${pathAndQuery}\n${ts}\n${nonce}\n${digest}`);
}

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return null;
  try {
    return base64url.baseDecode(text);
  } catch {
    return null;
  }
}

/** The headers that sign one request as the node whose key is `key`. */
export function signRequest(
  key: NodeKey,
  request: { method: string; url: string | URL; body?: Uint8Array | string | undefined },
  now: number = Date.now(),
): Record<string, string> {
  const url = new URL(request.url);
  const body = typeof request.body === 'string' ? te.encode(request.body) : request.body;
  const digest = body && body.length > 0 ? bytesToHex(sha256(body)) : '';
  const ts = String(now);
  const nonce = bytesToHex(randomBytes(16));
  const sig = signBytes(key, message(request.method, url.host, url.pathname + url.search, ts, nonce, digest));
  const headers: Record<string, string> = {
    authorization: `${PEER_AUTH_SCHEME} id="${peerIdOf(key.publicKey)}", ts="${ts}", nonce="${nonce}", sig="${base64url.baseEncode(sig)}"`,
  };
  if (digest) headers[CONTENT_SHA256_HEADER] = digest;
  return headers;
}

/**
 * A fetch that signs every request with `key` (for HttpPeer, HttpBlobStore, any HttpClient user).
 * Bodies must be strings or bytes: a stream cannot be hashed before it is sent.
 */
export function peerFetch(key: NodeKey, base: typeof fetch = globalThis.fetch.bind(globalThis)): typeof fetch {
  return async (input, init = {}) => {
    const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
    const method = init.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new RefugeError('bad_request', 'a peer-signed request needs its body as a string or bytes');
    }
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(signRequest(key, { method, url, body: body ?? undefined }))) headers.set(k, v);
    return base(input, { ...init, headers });
  };
}

export interface SignedRequest {
  method: string;
  /** The Host header the request arrived with. */
  host: string;
  /** Path and query, exactly as on the request line. */
  url: string;
  authorization: string;
  /** The X-Refuge-Content-SHA256 header, when given. */
  contentSha256?: string | undefined;
}

function parseParams(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  const re = /\s*([a-z]+)="([^"]*)"\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length && (m = re.exec(text)) !== null) {
    out.set(m[1]!, m[2]!);
    at = re.lastIndex;
  }
  return at === text.length ? out : null;
}

const unauthorized = (reason: string) => new RefugeError('unauthorized', `peer authentication failed: ${reason}`);

/**
 * Checks signed requests: a valid signature by the key of the peer id it names, a time within the
 * allowed skew, a nonce not seen before (remembered as long as its time is acceptable).
 */
export class PeerRequestVerifier {
  readonly #seen: SeenCache<true>;
  readonly #skewMs: number;
  readonly #now: () => number;

  constructor(options: { skewMs?: number; maxNonces?: number; now?: () => number } = {}) {
    this.#skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
    this.#now = options.now ?? Date.now;
    this.#seen = new SeenCache(options.maxNonces ?? 100_000, this.#now);
  }

  /** The peer id that signed the request; `unauthorized` when anything does not hold. */
  verify(req: SignedRequest): string {
    if (!req.authorization.startsWith(PEER_AUTH_SCHEME + ' ')) throw unauthorized(`not a ${PEER_AUTH_SCHEME} authorization`);
    const params = parseParams(req.authorization.slice(PEER_AUTH_SCHEME.length + 1));
    const id = params?.get('id');
    const ts = params?.get('ts');
    const nonce = params?.get('nonce');
    const sigText = params?.get('sig');
    if (!params || !id || !ts || !nonce || !sigText) throw unauthorized('id, ts, nonce and sig are all needed');
    if (!/^[0-9]{1,16}$/.test(ts) || !/^[0-9a-f]{16,64}$/.test(nonce)) throw unauthorized('malformed ts or nonce');
    const digest = req.contentSha256 ?? '';
    if (digest !== '' && !/^[0-9a-f]{64}$/.test(digest)) throw unauthorized('malformed content digest');
    let publicKey: Uint8Array | undefined;
    try {
      const peer = parsePeerId(id);
      publicKey = peer.type === 'Ed25519' ? peer.publicKey.raw : undefined;
    } catch {
      publicKey = undefined;
    }
    if (!publicKey) throw unauthorized('the id is not an Ed25519 peer id');
    const now = this.#now();
    const at = Number(ts);
    if (Math.abs(now - at) > this.#skewMs) throw unauthorized('the request time is too far from the server clock');
    const sig = fromBase64url(sigText);
    if (!sig || !verifyBytes(publicKey, message(req.method, req.host, req.url, ts, nonce, digest), sig)) throw unauthorized('bad signature');
    const seenKey = `${id} ${nonce}`;
    if (this.#seen.get(seenKey)) throw unauthorized('replayed request');
    this.#seen.set(seenKey, true, at + this.#skewMs + 1);
    return id;
  }
}
