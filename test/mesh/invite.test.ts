// Identity (the node key is the libp2p key) and invites (token, bare peer id, /p2p multiaddr).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateNodeKey, verifyBytes } from '../../src/refs/keys.ts';
import { INVITE_PREFIX, encodeInvite, meshPrivateKey, parseInvite, peerIdOf } from '../../src/mesh/index.ts';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';

test('the libp2p key is the node key: same public key, same peer id, signatures verify both ways', async () => {
  const key = generateNodeKey();
  const pk = await meshPrivateKey(key);
  assert.deepEqual(pk.publicKey.raw, key.publicKey);
  assert.equal(peerIdFromPrivateKey(pk).toString(), peerIdOf(key.publicKey));
  assert.match(peerIdOf(key.publicKey), /^12D3KooW/);
  const msg = new TextEncoder().encode('ref update');
  assert.equal(verifyBytes(key.publicKey, msg, await pk.sign(msg)), true);
});

test('invites round-trip; a bare id and a /p2p multiaddr are accepted too', () => {
  const id = peerIdOf(generateNodeKey().publicKey);
  const token = encodeInvite({ id, addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${id}`, '/ip4/127.0.0.1/tcp/4002/ws'] });
  assert.ok(token.startsWith(INVITE_PREFIX));
  assert.match(token, /^[A-Za-z0-9:_-]+$/, 'one copy-pasteable word');
  assert.deepEqual(parseInvite(`  ${token}\n`), { id, addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'] });
  assert.deepEqual(parseInvite(id), { id, addrs: [] });
  assert.deepEqual(parseInvite(`/ip4/127.0.0.1/tcp/9/p2p/${id}`), { id, addrs: ['/ip4/127.0.0.1/tcp/9'] });
});

test('damaged invites are refused with bad_request', () => {
  const id = peerIdOf(generateNodeKey().publicKey);
  const other = peerIdOf(generateNodeKey().publicKey);
  const cases = [
    `${INVITE_PREFIX}!!!`,
    `${INVITE_PREFIX}${Buffer.from('{"v":2}').toString('base64url')}`,
    `${INVITE_PREFIX}${Buffer.from(JSON.stringify({ v: 1, id: 'x', addrs: [] })).toString('base64url')}`,
    `${INVITE_PREFIX}${Buffer.from(JSON.stringify({ v: 1, id, addrs: ['not an addr'] })).toString('base64url')}`,
    `${INVITE_PREFIX}${Buffer.from(JSON.stringify({ v: 1, id, addrs: [`/ip4/1.2.3.4/tcp/1/p2p/${other}`] })).toString('base64url')}`,
    '/ip4/127.0.0.1/tcp/9',
    'hello',
    '',
  ];
  for (const c of cases) assert.throws(() => parseInvite(c), { code: 'bad_request' }, c);
});

test('relay (circuit) addresses survive an invite round trip; a final /p2p must be the invited peer', () => {
  const id = peerIdOf(generateNodeKey().publicKey);
  const relay = peerIdOf(generateNodeKey().publicKey);
  const circuit = `/ip4/10.0.0.1/tcp/4001/p2p/${relay}/p2p-circuit`;
  const invite = parseInvite(encodeInvite({ id, addrs: [`${circuit}/p2p/${id}`, circuit, '/ip4/192.168.1.5/tcp/4001'] }));
  assert.deepEqual(invite, { id, addrs: [circuit, '/ip4/192.168.1.5/tcp/4001'] });
  assert.deepEqual(parseInvite(`${circuit}/p2p/${id}`), { id, addrs: [circuit] });
  assert.throws(() => encodeInvite({ id, addrs: [`${circuit}/p2p/${relay}`] }), { code: 'bad_request' });
});
