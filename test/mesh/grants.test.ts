// can(peer, read|write, db) against a plain statement of the rules, over every combination of grant
// subjects, group memberships and trust; then the named cases the rules exist for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateNodeKey } from '../../src/refs/keys.ts';
import { ALL_DBS, ALL_REFS, addPeer, can, canRef, emptyTrust, peerIdOf, removePeer, setGrant, type Access, type Subject, type TrustState } from '../../src/mesh/index.ts';

const P = peerIdOf(generateNodeKey().publicKey);
const Q = peerIdOf(generateNodeKey().publicKey);
const STRANGER = peerIdOf(generateNodeKey().publicKey);

const UNIVERSE: Subject[] = ['public', 'group:g1', 'group:g2', `peer:${P}`, `peer:${Q}`];
const STAR: Subject[] = ['public', 'group:g1', `peer:${P}`];
const subsets = <T>(items: T[]): T[][] => Array.from({ length: 2 ** items.length }, (_, m) => items.filter((_, i) => m & (1 << i)));

/** Who `peerId` is: untrusted, or trusted with some groups. */
const PEER_STATES: Array<{ label: string; peers: TrustState['peers'] }> = [
  { label: 'untrusted', peers: {} },
  { label: 'trusted, no group', peers: { [P]: { id: P, groups: [], addrs: [], added: '' } } },
  { label: 'trusted in g1', peers: { [P]: { id: P, groups: ['g1'], addrs: [], added: '' } } },
  { label: 'trusted in g1 and g2', peers: { [P]: { id: P, groups: ['g1', 'g2'], addrs: [], added: '' } } },
];

/** The rules, stated plainly. */
function oracle(state: TrustState, peerId: string, access: Access, db: string): boolean {
  // System databases are nobody's, whatever the grants.
  if (db.startsWith('_')) return false;
  const peer = state.peers[peerId];
  const subjects = [...(state.grants[db]?.[access] ?? []), ...(state.grants[ALL_DBS]?.[access] ?? [])];
  return subjects.some((s) => {
    if (s === 'public') return access === 'read';
    if (!peer) return false;
    if (s.startsWith('peer:')) return s === `peer:${peerId}`;
    return peer.groups.includes(s.slice('group:'.length));
  });
}

test('can() agrees with the rules over every combination (db grants x * grants x trust x access)', () => {
  let checked = 0;
  const dbSets = subsets(UNIVERSE);
  const starSets = subsets(STAR);
  for (const who of PEER_STATES) {
    for (const read of dbSets) {
      for (const write of dbSets) {
        for (const starRead of starSets) {
          for (const starWrite of [[], STAR, [`peer:${P}`] as Subject[]]) {
            // Built by hand, public writes included, to check can() refuses them on its own too.
            const state: TrustState = { version: 1, peers: who.peers, grants: { notes: { read, write }, _users: { read, write }, [ALL_DBS]: { read: starRead, write: starWrite } } };
            for (const access of ['read', 'write'] as const) {
              for (const db of ['notes', 'other', '_users', '_replicator']) {
                for (const peer of [P, STRANGER]) {
                  const got = can(state, peer, access, db);
                  if (got !== oracle(state, peer, access, db)) {
                    assert.fail(`${who.label}: can(${peer === P ? 'P' : 'stranger'}, ${access}, ${db}) = ${got} with ${JSON.stringify(state.grants)}`);
                  }
                  checked++;
                }
              }
            }
          }
        }
      }
    }
  }
  assert.ok(checked > 500_000);
});

test('default private: a trusted peer without grants may do nothing', () => {
  const state = addPeer(emptyTrust(), { id: P, groups: ['g1'] });
  for (const access of ['read', 'write'] as const) assert.equal(can(state, P, access, 'notes'), false);
});

test('public opens reads to anyone, never writes (refused when granted, ignored when forged)', () => {
  const state = setGrant(emptyTrust(), 'pub', 'read', 'public', true);
  assert.equal(can(state, STRANGER, 'read', 'pub'), true);
  assert.equal(can(state, STRANGER, 'write', 'pub'), false);
  assert.equal(can(state, STRANGER, 'read', 'other'), false);
  assert.throws(() => setGrant(state, 'pub', 'write', 'public', true), { code: 'forbidden' });
  const forged: TrustState = { ...state, grants: { pub: { read: [], write: ['public'] } } };
  assert.equal(can(forged, STRANGER, 'write', 'pub'), false);
});

test('read and write are separate; * covers every database', () => {
  let state = addPeer(emptyTrust(), { id: P });
  state = setGrant(state, 'inbox', 'write', `peer:${P}`, true);
  assert.equal(can(state, P, 'write', 'inbox'), true);
  assert.equal(can(state, P, 'read', 'inbox'), false, 'write does not imply read');
  state = setGrant(state, ALL_DBS, 'read', `peer:${P}`, true);
  assert.equal(can(state, P, 'read', 'anything'), true);
  assert.equal(can(state, P, 'write', 'anything'), false);
});

test('grants need trust: a peer grant for a stranger, a group the stranger claims, and removal revoke', () => {
  let state = setGrant(emptyTrust(), 'notes', 'read', `peer:${STRANGER}`, true);
  assert.equal(can(state, STRANGER, 'read', 'notes'), false, 'named but not trusted');
  state = addPeer(state, { id: P, name: 'laptop', groups: ['family'] });
  state = setGrant(state, 'notes', 'write', 'group:family', true);
  state = setGrant(state, 'notes', 'read', `peer:${P}`, true);
  state = setGrant(state, 'pub', 'read', 'public', true);
  assert.equal(can(state, P, 'write', 'notes'), true);
  assert.equal(can(state, Q, 'write', 'notes'), false);
  state = removePeer(state, 'laptop');
  assert.equal(can(state, P, 'write', 'notes'), false);
  assert.equal(can(state, P, 'read', 'notes'), false);
  assert.equal(can(state, P, 'read', 'pub'), true, 'public stays public');
  assert.deepEqual(state.grants.notes?.read, [`peer:${STRANGER}`], 'the removed peer is dropped from grants');
});

test('odd database names never match inherited properties', () => {
  const state = addPeer(emptyTrust(), { id: P });
  for (const db of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    assert.equal(can(state, P, 'read', db), false);
    assert.equal(can(state, P, 'write', db), false);
  }
});

test('refs have their own grants: ref:NAME and ref:*, never the databases\' * (nor the reverse)', () => {
  let s = addPeer(emptyTrust(), { id: P });
  s = setGrant(s, ALL_DBS, 'read', `peer:${P}`, true);
  assert.equal(canRef(s, P, 'read', 'photos'), false, 'a grant on every database is not one on refs');
  s = setGrant(s, 'ref:photos', 'read', 'public', true);
  assert.equal(canRef(s, STRANGER, 'read', 'photos'), true);
  assert.equal(canRef(s, STRANGER, 'read', 'photos/2024'), false, 'a ref name is exact, not a prefix');
  assert.equal(canRef(s, STRANGER, 'write', 'photos'), false);
  s = setGrant(s, ALL_REFS, 'write', `peer:${P}`, true);
  assert.equal(canRef(s, P, 'write', 'anything/else'), true);
  assert.equal(can(s, P, 'write', 'somedb'), false, 'a grant on every ref is not one on databases');
  assert.throws(() => setGrant(s, 'ref:bad@name', 'read', 'public', true), { code: 'bad_request' });
});

test('system databases cannot be granted, and no grant reaches them (a `*` grant included)', () => {
  const P2 = P;
  assert.throws(() => setGrant(emptyTrust(), '_users', 'read', 'public', true), (e: Error & { code?: string }) => e.code === 'bad_request');
  assert.throws(() => setGrant(emptyTrust(), '_replicator', 'write', `peer:${P2}`, true), (e: Error & { code?: string }) => e.code === 'bad_request');
  let state = addPeer(emptyTrust(), { id: P2 });
  state = setGrant(setGrant(state, ALL_DBS, 'read', 'public', true), ALL_DBS, 'write', `peer:${P2}`, true);
  assert.equal(can(state, P2, 'read', 'notes'), true);
  for (const db of ['_users', '_replicator', '_global_changes']) {
    assert.equal(can(state, P2, 'read', db), false, db);
    assert.equal(can(state, P2, 'write', db), false, db);
  }
});
