// The `_users` database stores no clear password: a user document's `password` becomes CouchDB's
// PBKDF2 fields on every write path (put, bulk, replicated), and the key is CouchDB's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { openNode } from '../../src/node/index.ts';
import { derivedKey, withHashedPassword } from '../../src/node/user-passwords.ts';

test('the derived key is PBKDF2-SHA-256 over the salt as text, as CouchDB computes it', async () => {
  const salt = '0123456789abcdef0123456789abcdef';
  const expected = pbkdf2Sync('secret', Buffer.from(salt, 'utf8'), 10, 32, 'sha256').toString('hex');
  assert.equal(await derivedKey('secret', salt, 10), expected);
  // Only user documents with a clear password change.
  const other = { _id: 'notauser', password: 'x' };
  assert.equal(await withHashedPassword(other, 10), other);
  const noPassword = { _id: 'org.couchdb.user:bob', name: 'bob' };
  assert.equal(await withHashedPassword(noPassword, 10), noPassword);
});

test('_users keeps PBKDF2 fields, never the password, whether written by put, bulk or replication', async (t) => {
  const node = await openNode({ engine: 'memory' });
  t.after(() => node.close());
  const users = await node.createDb('_users');
  const user = { _id: 'org.couchdb.user:bob', name: 'bob', type: 'user', roles: [], password: 'hunter2' };
  await users.put(user);
  await users.bulkDocs([{ ...user, _id: 'org.couchdb.user:amy', name: 'amy', password: 'pw2' }]);
  await users.bulkDocs([{ ...user, _id: 'org.couchdb.user:rep', name: 'rep', _rev: '1-abc' }], { newEdits: false });
  for (const [name, password] of [['bob', 'hunter2'], ['amy', 'pw2'], ['rep', 'hunter2']] as const) {
    const doc = await users.get(`org.couchdb.user:${name}`);
    assert.equal(doc.password, undefined, name);
    assert.deepEqual([doc.password_scheme, doc.pbkdf2_prf, doc.iterations], ['pbkdf2', 'sha256', 600_000]);
    assert.match(doc.salt as string, /^[0-9a-f]{32}$/);
    assert.equal(doc.derived_key, pbkdf2Sync(password, Buffer.from(doc.salt as string, 'utf8'), 600_000, 32, 'sha256').toString('hex'));
  }
  // The caller's object is left as it was; other databases store a `password` field as any other.
  assert.equal(user.password, 'hunter2');
  const notes = await node.createDb('notes');
  await notes.put({ _id: 'org.couchdb.user:bob', password: 'plain' });
  assert.equal((await notes.get('org.couchdb.user:bob')).password, 'plain');
});

test('a _users written by a version that stored passwords in clear is hashed when the node opens it: no clear password stays, the user logs in', async (t) => {
  const { tempDir } = await import('../helpers/db.ts');
  const dir = await tempDir('refuge-users-upgrade-');
  let node = await openNode({ dataDir: dir.path, durability: 'fast' });
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  const users = await node.createDb('_users');
  // What an older version stored: the document as written, its password in clear.
  users.setWritePreparation(undefined);
  await users.put({ _id: 'org.couchdb.user:bob', name: 'bob', type: 'user', roles: ['team'], password: 'bobpw' });
  assert.equal((await users.get('org.couchdb.user:bob')).password, 'bobpw');
  await node.close();
  node = await openNode({ dataDir: dir.path, durability: 'fast' });
  const doc = await (await node.db('_users')).get('org.couchdb.user:bob');
  assert.equal(doc.password, undefined);
  assert.deepEqual(doc.roles, ['team']);
  assert.equal(doc.derived_key, pbkdf2Sync('bobpw', Buffer.from(doc.salt as string, 'utf8'), doc.iterations as number, 32, 'sha256').toString('hex'));
  // Nor in the revision before: its body is compacted away.
  const history = await (await node.db('_users')).get('org.couchdb.user:bob', { revsInfo: true });
  const older = (history._revs_info as Array<{ rev: string; status: string }>).find((r) => r.rev.startsWith('1-'));
  assert.equal(older?.status, 'missing');
});
