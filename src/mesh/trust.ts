// The trust state, as pure data and pure functions: trusted peers (name, groups, addresses) and
// per-database grants. Stores (memory, file) persist it; `can` (grants.ts) decides from it.

import { RefugeError } from '../errors/index.ts';
import { validateDbName } from '../documents/index.ts';
import { isRefName } from '../refs/core.ts';
import { parsePeerId } from './identity.ts';
import { normaliseAddr } from './invite.ts';

export type Access = 'read' | 'write';
/** Who a grant names: anyone (read only), the members of a group, or one trusted peer. */
export type Subject = 'public' | `group:${string}` | `peer:${string}`;

export interface TrustedPeer {
  id: string;
  name?: string;
  groups: string[];
  /** Multiaddrs to dial it at (without `/p2p/<id>`). */
  addrs: string[];
  added: string;
}

export interface Grant {
  read: Subject[];
  write: Subject[];
}

export interface TrustState {
  version: 1;
  peers: Record<string, TrustedPeer>;
  /** By database name; `*` applies to every database. No entry: private. */
  grants: Record<string, Grant>;
}

/** The grants key that applies to every database of the node. */
export const ALL_DBS = '*';
/** Grants keys of refs: `ref:NAME`, and `ref:*` for every ref (no database name has a colon). */
export const REF_PREFIX = 'ref:';
export const ALL_REFS = 'ref:*';
export const refKey = (name: string): string => REF_PREFIX + name;
const GROUP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_NAME = 64;

export const emptyTrust = (): TrustState => ({ version: 1, peers: {}, grants: {} });

const bad = (reason: string) => new RefugeError('bad_request', reason);

export function checkGroup(group: unknown): string {
  if (typeof group !== 'string' || !GROUP.test(group)) throw bad(`a group name is 1-64 letters, digits, _ . - : ${JSON.stringify(group)}`);
  return group;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw bad(`a peer name is 1-${MAX_NAME} printable characters`);
  }
  if (parseable(name)) throw bad('a peer name must not look like a peer id');
  // Grants name their grantee `public`, `group:G`, `peer:ID` or by a peer's name: a peer called
  // `public` would turn "grant it" into "grant everyone".
  if (/^public$|^(group|peer):/i.test(name)) throw bad(`a peer name must not be public or start with group: or peer: (${JSON.stringify(name)})`);
  return name;
}

const parseable = (text: string): boolean => {
  try {
    parsePeerId(text);
    return true;
  } catch {
    return false;
  }
};

/** A grants key: a database name, `*`, `ref:NAME` or `ref:*`. */
export function checkDbKey(db: unknown): string {
  if (db === ALL_DBS || db === ALL_REFS) return db;
  if (typeof db === 'string' && db.startsWith(REF_PREFIX)) {
    if (!isRefName(db.slice(REF_PREFIX.length))) throw bad(`not a ref name: ${JSON.stringify(db.slice(REF_PREFIX.length, 100))}`);
    return db;
  }
  validateDbName(db as string);
  return db as string;
}

/** Parses `public`, `group:G` or `peer:ID` (the id normalised). */
export function parseSubject(text: unknown): Subject {
  if (text === 'public') return 'public';
  if (typeof text === 'string' && text.startsWith('group:')) return `group:${checkGroup(text.slice(6))}`;
  if (typeof text === 'string' && text.startsWith('peer:')) return `peer:${parsePeerId(text.slice(5)).toString()}`;
  throw bad(`a grant names public, group:NAME or peer:ID, not ${JSON.stringify(text)}`);
}

/** The peer a reference (id or name) designates, or undefined. */
export function findPeer(state: TrustState, ref: string): TrustedPeer | undefined {
  if (Object.hasOwn(state.peers, ref)) return state.peers[ref];
  return Object.values(state.peers).find((p) => p.name === ref);
}

export interface PeerInput {
  id: string;
  name?: string;
  groups?: readonly string[];
  addrs?: readonly string[];
}

/** Addresses kept per trusted peer. */
const MAX_ADDRS = 8;

/** Trusts a peer, or updates one already trusted (new name, more groups, newer addresses). */
export function addPeer(state: TrustState, input: PeerInput, now = new Date()): TrustState {
  const id = parsePeerId(input.id).toString();
  const name = input.name === undefined ? undefined : checkName(input.name);
  const holder = name === undefined ? undefined : Object.values(state.peers).find((p) => p.name === name);
  if (holder && holder.id !== id) throw new RefugeError('conflict', `the name ${name} is already used by ${holder.id}`);
  const old = state.peers[id];
  const peer: TrustedPeer = {
    id,
    groups: [...new Set([...(old?.groups ?? []), ...(input.groups ?? []).map(checkGroup)])].sort(),
    // The newest invite's addresses first; older ones kept behind them (the peer may be back there)
    // up to MAX_ADDRS, so a peer re-added at every new port does not pile up dead addresses.
    addrs: [...new Set([...(input.addrs ?? []).map((a) => normaliseAddr(a, id)), ...(old?.addrs ?? [])])].slice(0, MAX_ADDRS),
    added: old?.added ?? now.toISOString(),
  };
  const kept = name ?? old?.name;
  if (kept !== undefined) peer.name = kept;
  return { ...state, peers: { ...state.peers, [id]: peer } };
}

/** Stops trusting a peer and drops the grants that named it; not_found when it is not trusted. */
export function removePeer(state: TrustState, ref: string): TrustState {
  const peer = findPeer(state, ref);
  if (!peer) throw new RefugeError('not_found', `no trusted peer ${ref}`);
  const peers = { ...state.peers };
  delete peers[peer.id];
  const subject: Subject = `peer:${peer.id}`;
  const grants: Record<string, Grant> = {};
  for (const [db, g] of Object.entries(state.grants)) {
    const next = { read: g.read.filter((s) => s !== subject), write: g.write.filter((s) => s !== subject) };
    if (next.read.length + next.write.length > 0) grants[db] = next;
  }
  return { ...state, peers, grants };
}

/** Adds (join) or removes (leave) a trusted peer's group membership. */
export function setGroup(state: TrustState, ref: string, group: string, member: boolean): TrustState {
  const peer = findPeer(state, ref);
  if (!peer) throw new RefugeError('not_found', `no trusted peer ${ref}`);
  checkGroup(group);
  const groups = member ? [...new Set([...peer.groups, group])].sort() : peer.groups.filter((g) => g !== group);
  return { ...state, peers: { ...state.peers, [peer.id]: { ...peer, groups } } };
}

/** Grants (or, with `allow` false, revokes) `access` on database `db` (or `*`) to `subject`. */
export function setGrant(state: TrustState, db: string, access: Access, subject: Subject, allow: boolean): TrustState {
  checkDbKey(db);
  if (allow && db.startsWith('_')) throw bad(`system databases are never shared with peers: ${JSON.stringify(db)}`);
  const s = parseSubject(subject);
  if (access !== 'read' && access !== 'write') throw bad(`access is read or write, not ${JSON.stringify(access)}`);
  // The invariant: nothing is writable by a peer that is not trusted.
  if (allow && access === 'write' && s === 'public') throw new RefugeError('forbidden', 'write access cannot be public: grant it to a group or a peer');
  const old = state.grants[db] ?? { read: [], write: [] };
  const list = allow ? [...new Set([...old[access], s])].sort() : old[access].filter((x) => x !== s);
  const next = { ...old, [access]: list };
  const grants = { ...state.grants };
  if (next.read.length + next.write.length === 0) delete grants[db];
  else grants[db] = next;
  return { ...state, grants };
}

/** Validates a trust state read from storage (hand-edited files included); bad_request when wrong. */
export function parseTrustState(value: unknown): TrustState {
  const v = value as Partial<TrustState> | null;
  if (v === null || typeof v !== 'object' || v.version !== 1) throw bad('not a version 1 trust state');
  let state = emptyTrust();
  if (typeof (v.peers ?? {}) !== 'object' || typeof (v.grants ?? {}) !== 'object') throw bad('peers and grants are objects');
  for (const p of Object.values(v.peers ?? {}) as Array<Partial<TrustedPeer> | null>) {
    if (p === null || typeof p !== 'object') throw bad('a trusted peer is an object');
    const added = typeof p.added === 'string' && !Number.isNaN(Date.parse(p.added)) ? new Date(p.added) : new Date();
    state = addPeer(state, { id: p.id as string, name: p.name, groups: p.groups ?? [], addrs: p.addrs ?? [] }, added);
  }
  for (const [db, g] of Object.entries(v.grants ?? {}) as Array<[string, Partial<Grant> | null]>) {
    if (g === null || typeof g !== 'object') throw bad(`grants.${db} is an object`);
    for (const access of ['read', 'write'] as const) {
      if (g[access] !== undefined && !Array.isArray(g[access])) throw bad(`grants.${db}.${access} must be a list`);
      for (const s of g[access] ?? []) state = setGrant(state, db, access, s, true);
    }
  }
  return state;
}
