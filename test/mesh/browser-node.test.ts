// startBrowserNode in Node, on IndexedDB (fake-indexeddb, as a browser build runs it): a node that
// listens nowhere dials a trusted node over WebSockets only, and their shared database syncs both
// ways; its key, trust and data outlive a restart. test/browser/mesh-in-chromium.test.ts runs it in Chromium.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/fake-idb.ts';
import { indexedDbEngine } from '../../src/storage-browser/index.ts';
import { KvTrustStore, addPeer, setGrant, startBrowserNode, storedNodeKey, type TrustState } from '../../src/mesh/index.ts';
import { assertSameTrees } from '../replication/helpers/trees.ts';
import { holds, nextEvent, sharing, startSyncingPeer } from './helpers.ts';

/** Trust in `peer` (dialled at `addrs`) with read and write on `db`. */
const trusting = (peer: string, addrs: string[], db: string) => (s: TrustState): TrustState => {
  let next = addPeer(s, { id: peer, addrs });
  for (const access of ['read', 'write'] as const) next = setGrant(next, db, access, `peer:${peer}`, true);
  return next;
};

test('a node that listens nowhere dials a trusted node over WebSockets, and a shared database syncs both ways across a restart', async (t) => {
  const { peer: home } = await startSyncingPeer(t);
  const onHome = await home.node.createDb('notes');
  await onHome.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `home-${i}`, i })));
  const ws = home.mesh.addresses().filter((a) => a.includes('/ws/'));
  assert.equal(ws.length, 1, `one WebSocket address among ${home.mesh.addresses().join(' ')}`);

  const engine = indexedDbEngine();
  const name = `tab-${process.pid}`;
  const key = await storedNodeKey(engine, name);
  assert.deepEqual(await storedNodeKey(engine, name), key, 'the key is kept on the engine');

  const up = nextEvent(home.mesh, 'peer:up');
  // Its trust is kept on the engine too (nobody at first): trusting home makes it dial home.
  const tab0 = await startBrowserNode({ engine, name, sync: { replicate: { checkpointInterval: 0 } } });
  assert.deepEqual((await tab0.trust.current()).peers, {});
  await home.trust.update(sharing(tab0.mesh.peerId, 'notes'));
  await tab0.trust.update(trusting(home.mesh.peerId, ws, 'notes'));
  let tab = tab0;
  t.after(() => tab.close());
  // A second node on the same name (another tab) is refused while this one runs.
  await assert.rejects(startBrowserNode({ engine, name }), /already open/);
  assert.deepEqual(tab.mesh.addresses(), [], 'it listens nowhere');
  assert.equal((await up).peerId, tab.mesh.peerId);

  // Home's docs reach the tab (its database is created: the grant lets home write there), and the
  // tab's edits reach home.
  const created = await nextEvent(tab.sync, 'paused', (e) => e.db === 'notes' && e.error === undefined);
  assert.equal(created.peerId, home.mesh.peerId);
  const onTab = await tab.node.db('notes');
  await onTab.put({ _id: 'from-tab', v: 1 });
  const edit = await onHome.get('home-1');
  await onHome.put({ ...edit, v: 'home edit' });
  await Promise.all([holds(onHome, 31), holds(onTab, 31, (doc) => doc._id === 'home-1' && doc.v === 'home edit')]);
  assert.equal(await assertSameTrees(onHome, onTab), 31);

  // Stopped and started again on the same engine: the same peer id, the data kept, syncing again.
  const down = nextEvent(home.mesh, 'peer:down');
  await tab.close();
  await down;
  await onHome.put({ _id: 'while-away' });
  const back = nextEvent(home.mesh, 'peer:up');
  // Nothing given but the engine: the same key, the same trust (so it dials home again), the same data.
  tab = await startBrowserNode({ engine, name, sync: { replicate: { checkpointInterval: 0 } } });
  assert.equal(tab.mesh.peerId, tab0.mesh.peerId);
  assert.deepEqual(Object.keys((await tab.trust.current()).peers), [home.mesh.peerId]);
  await back;
  const again = await tab.node.db('notes');
  await holds(again, 32);
  assert.equal(await assertSameTrees(onHome, again), 32);
});

test('a damaged key or trust record kept on the engine stops the start, never becomes a new identity or "trust nobody"', async () => {
  const engine = indexedDbEngine();
  const name = `damaged-${process.pid}`;
  const put = async (location: string, key: string, value: string) => {
    const store = await engine.open({ location });
    await store.batch([{ type: 'put', key, value }]);
    await store.close();
  };
  await put(`${name}/identity`, 'ed25519', '{"secretKey":"zz","publicKey":"00"}');
  await assert.rejects(storedNodeKey(engine, name), { code: 'internal', message: /damaged/ });
  await assert.rejects(startBrowserNode({ engine, name }), { code: 'internal' });

  const other = `${name}-trust`;
  await storedNodeKey(engine, other);
  await put(`${other}/trust`, 'state', '{"version":1,"peers":"not a map"}');
  await assert.rejects(KvTrustStore.open(engine, `${other}/trust`), { code: 'internal', message: /damaged/ });
  await assert.rejects(startBrowserNode({ engine, name: other }), { code: 'internal' });
});
