// The one authorisation decision of the mesh, pure: may this peer read or write that database?
// Default private; `public` opens reads to anyone; groups and peer grants need the peer to be trusted.

import { ALL_DBS, ALL_REFS, REF_PREFIX, refKey, type Access, type Subject, type TrustState } from './trust.ts';

/**
 * True when `peerId` may `access` database `db` (or, for a `ref:NAME` key, that ref) under `state`.
 * Read and write are separate (write does not imply read). `public` counts for reads only;
 * `group:G` and `peer:ID` only while the peer is trusted, so removing a peer revokes everything
 * but public reads. `*` covers every database but the system ones, `ref:*` every ref.
 */
export function can(state: TrustState, peerId: string, access: Access, db: string): boolean {
  // System databases (`_users`, `_replicator`, ...) hold credentials and jobs: never a peer's,
  // whatever a grant (`*` included) says, as over HTTP.
  if (db.startsWith('_')) return false;
  const peer = Object.hasOwn(state.peers, peerId) ? state.peers[peerId] : undefined;
  const own = Object.hasOwn(state.grants, db) ? state.grants[db]![access] : [];
  const wildcard = db.startsWith(REF_PREFIX) ? ALL_REFS : ALL_DBS;
  const all = db !== wildcard && Object.hasOwn(state.grants, wildcard) ? state.grants[wildcard]![access] : [];
  const subjects: Subject[] = [...own, ...all];
  for (const s of subjects) {
    if (s === 'public') {
      if (access === 'read') return true;
    } else if (peer !== undefined) {
      if (s === `peer:${peerId}`) return true;
      if (s.startsWith('group:') && peer.groups.includes(s.slice(6))) return true;
    }
  }
  return false;
}

export interface DbAccess {
  read: boolean;
  write: boolean;
}

export function accessOf(state: TrustState, peerId: string, db: string): DbAccess {
  return { read: can(state, peerId, 'read', db), write: can(state, peerId, 'write', db) };
}

export const isTrusted = (state: TrustState, peerId: string): boolean => Object.hasOwn(state.peers, peerId);

/** The databases (among `dbs`) a peer may read or write, with what it may do. */
export function sharedWith(state: TrustState, peerId: string, dbs: readonly string[]): Array<DbAccess & { db: string }> {
  const out: Array<DbAccess & { db: string }> = [];
  for (const db of dbs) {
    const a = accessOf(state, peerId, db);
    if (a.read || a.write) out.push({ db, ...a });
  }
  return out;
}

/** May `peerId` read (or write) the ref `name`? */
export const canRef = (state: TrustState, peerId: string, access: Access, name: string): boolean => can(state, peerId, access, refKey(name));

/**
 * Blobs have no grants of their own (yet): a trusted peer that may read at least one database or
 * ref may read blobs by id (never the list of them); other peers only the blobs of the trees of refs
 * they may read (ref-reach.ts). Ids are SHA-256 digests, so a reader must already know one; scoping
 * a trusted peer's reads through attachment references too is the stricter rule still to come.
 */
export function canReadBlobs(state: TrustState, peerId: string, dbs: readonly string[]): boolean {
  if (!isTrusted(state, peerId)) return false;
  const refKeys = Object.keys(state.grants).filter((k) => k.startsWith(REF_PREFIX));
  return [ALL_DBS, ...dbs, ...refKeys].some((db) => can(state, peerId, 'read', db));
}

/** Blobs may be stored here by a trusted peer that may write at least one database (or `*`). */
export function canWriteBlobs(state: TrustState, peerId: string, dbs: readonly string[]): boolean {
  if (!isTrusted(state, peerId)) return false;
  return [ALL_DBS, ...dbs].some((db) => can(state, peerId, 'write', db));
}
