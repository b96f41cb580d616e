// validate_doc_update over a bulk write in one sandbox call per validator: each document judged
// against the stored winner as the write found it (a tombstone for a deleted one, null for a new
// one), with its own userCtx and secObj, and a document past the time limit refused alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNode } from '../../src/node/index.ts';
import { createSandbox } from '../../src/sandbox/index.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/db.ts';

const VDU = `function (newDoc, oldDoc, userCtx, secObj) {
  if (newDoc.spin) { for (;;) {} }
  if (userCtx.seen) throw({forbidden: 'userCtx was changed by an earlier document'});
  userCtx.seen = true;
  secObj.members = 'changed';
  if (!oldDoc) { if (newDoc.v !== 1) throw({forbidden: 'new: v must be 1'}); return; }
  if (oldDoc._deleted) throw({forbidden: 'deleted at ' + oldDoc._rev});
  if (newDoc.v !== oldDoc.v + 1) throw({unauthorized: 'v must follow ' + oldDoc.v});
}`;

test('a bulk write is validated against each stored winner, one context per document', async (t) => {
  const dir = await tempDir('refuge-vdu-batch-');
  t.after(dir.cleanup);
  const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', sandbox: { timeoutMs: 300 } });
  t.after(() => node.close());
  await node.createDb('v');
  const db = await node.db('v');
  const a = await db.put({ _id: 'a', v: 1 });
  const gone = await db.put({ _id: 'gone', v: 1 });
  const removed = await db.remove('gone', gone.rev);
  await db.put({ _id: '_design/rules', validate_doc_update: VDU });

  const res = await db.bulkDocs([
    { _id: 'a', _rev: a.rev, v: 2 },
    { _id: 'b', v: 1 },
    { _id: 'c', v: 2 },
    { _id: 'gone', v: 1 },
    { _id: 'slow', v: 1, spin: true },
    { _id: 'd', v: 1 },
  ]);
  assert.equal((res[0] as { ok?: boolean }).ok, true);
  assert.equal((res[1] as { ok?: boolean }).ok, true);
  assert.deepEqual(res[2], { id: 'c', error: 'forbidden', reason: 'new: v must be 1' });
  assert.deepEqual(res[3], { id: 'gone', error: 'forbidden', reason: `deleted at ${removed.rev}` });
  assert.equal((res[4] as { error?: string }).error, 'timeout');
  assert.equal((res[5] as { ok?: boolean }).ok, true);
  assert.equal((await db.get('a')).v, 2);
  await assert.rejects(db.get('slow'), { code: 'not_found' });

  // An edit judged against the winner stored before this write, not one an earlier slot made.
  const again = await db.bulkDocs([{ _id: 'a', _rev: (await db.get('a'))._rev, v: 5 }]);
  assert.deepEqual(again[0], { id: 'a', error: 'unauthorized', reason: 'v must follow 2' });
});

test('validateMany answers per document, as validate does one by one', async () => {
  const sb = await createSandbox({ timeoutMs: 2000 });
  try {
    const fn = sb.compile(`function (newDoc, oldDoc, userCtx, secObj) {
      if (newDoc.kind === 'forbid') throw({forbidden: 'no ' + newDoc._id});
      if (newDoc.kind === 'auth') throw({unauthorized: userCtx.name + ' may not'});
      if (newDoc.kind === 'error') throw new TypeError('broken ' + (oldDoc && oldDoc.n));
      if (secObj.admins.names[0] !== 'root') throw({forbidden: 'secObj lost'});
    }`);
    const pairs = [
      [{ _id: 'ok' }, null],
      [{ _id: 'f', kind: 'forbid' }, null],
      [{ _id: 'u', kind: 'auth' }, { _id: 'u', n: 1 }],
      [{ _id: 'e', kind: 'error' }, { _id: 'e', n: 7 }],
      [{ _id: 'ok2' }, { _id: 'ok2' }],
    ] as const;
    const userCtx = { name: 'ann', roles: [] };
    const secObj = { admins: { names: ['root'], roles: [] } };
    const many = await sb.validateMany(fn, pairs, userCtx, secObj);
    const one = pairs.map(([n, o]) => {
      try {
        sb.validate(fn, n, o, userCtx, secObj);
        return undefined;
      } catch (err) {
        return err;
      }
    });
    assert.equal(many.length, 5);
    assert.deepEqual(many.map((e) => e && [e.code, e.reason]), one.map((e) => e && [(e as RefugeError).code, (e as RefugeError).reason]));
    assert.deepEqual(many[1] && [many[1].code, many[1].reason], ['forbidden', 'no f']);
    assert.deepEqual(many[2] && [many[2].code, many[2].reason], ['unauthorized', 'ann may not']);
    assert.ok(many[3] instanceof RefugeError && many[3].code === 'sandbox_error' && /broken 7/.test(many[3].reason));
    assert.equal(many[0], undefined);
    assert.equal(many[4], undefined);
  } finally {
    sb.dispose();
  }
});
