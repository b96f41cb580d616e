// Invites: one copy-pasteable token (`refuge-invite:` + base64url JSON) naming a peer id and the
// multiaddrs it listens on. Accepting one also accepts a bare peer id or a `/…/p2p/<id>` multiaddr.

import { multiaddr } from '@multiformats/multiaddr';
import { base64url } from 'multiformats/bases/base64';
import { RefugeError } from '../errors/index.ts';
import { parsePeerId } from './identity.ts';

export const INVITE_PREFIX = 'refuge-invite:';
const INVITE_VERSION = 1;
const MAX_ADDRS = 32;

export interface Invite {
  /** The peer id (`12D3KooW…`). */
  id: string;
  /** Multiaddrs without the trailing `/p2p/<id>` (it is the id above). */
  addrs: string[];
}

/** `addr` as a multiaddr; bad_request when it is none (checked before anything is done with it). */
export function parseAddr(addr: string): ReturnType<typeof multiaddr> {
  try {
    return multiaddr(addr);
  } catch (err) {
    throw new RefugeError('bad_request', `not a multiaddr: ${JSON.stringify(addr)}`, { cause: err });
  }
}

/**
 * Drops a trailing `/p2p/<id>` (refusing one that names another peer) and validates the rest. Only
 * a final `/p2p` names the invited peer: a circuit address (`…/p2p/<relay>/p2p-circuit`) keeps its
 * relay's.
 */
export function normaliseAddr(addr: string, id: string): string {
  const ma = parseAddr(addr);
  const components = ma.getComponents();
  const last = components[components.length - 1];
  if (last?.name !== 'p2p') return ma.toString();
  if (last.value !== id) throw new RefugeError('bad_request', `${addr} names another peer than ${id}`);
  const text = ma.toString();
  return text.slice(0, text.lastIndexOf(`/p2p/${last.value}`));
}

export function encodeInvite(invite: Invite): string {
  const id = parsePeerId(invite.id).toString();
  const addrs = [...new Set(invite.addrs.map((a) => normaliseAddr(a, id)))];
  return INVITE_PREFIX + base64url.baseEncode(new TextEncoder().encode(JSON.stringify({ v: INVITE_VERSION, id, addrs })));
}

/** An invite token, a peer id, or a multiaddr ending in `/p2p/<id>`. */
export function parseInvite(text: string): Invite {
  const s = text.trim();
  if (s.startsWith(INVITE_PREFIX)) return decodeInvite(s.slice(INVITE_PREFIX.length));
  if (s.startsWith('/')) {
    const id = /\/p2p\/([^/]+)$/.exec(s)?.[1];
    if (id === undefined) throw new RefugeError('bad_request', 'a multiaddr invite must end in /p2p/<peer id>');
    const peer = parsePeerId(id).toString();
    return { id: peer, addrs: [normaliseAddr(s, peer)] };
  }
  return { id: parsePeerId(s).toString(), addrs: [] };
}

function decodeInvite(body: string): Invite {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.baseDecode(body)));
  } catch (err) {
    throw new RefugeError('bad_request', 'the invite is damaged (not base64url JSON)', { cause: err });
  }
  const v = value as { v?: unknown; id?: unknown; addrs?: unknown };
  if (v === null || typeof v !== 'object') throw new RefugeError('bad_request', 'the invite is damaged');
  if (v.v !== INVITE_VERSION) throw new RefugeError('bad_request', `unsupported invite version ${JSON.stringify(v.v)}`);
  const id = parsePeerId(v.id).toString();
  if (!Array.isArray(v.addrs) || v.addrs.length > MAX_ADDRS || !v.addrs.every((a) => typeof a === 'string')) {
    throw new RefugeError('bad_request', `an invite lists at most ${MAX_ADDRS} addresses as strings`);
  }
  return { id, addrs: [...new Set((v.addrs as string[]).map((a) => normaliseAddr(a, id)))] };
}
