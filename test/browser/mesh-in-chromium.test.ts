// A browser tab as a mesh peer: the mesh bundled for browsers (no Node built-ins), a whole node in
// Debian's Chromium on IndexedDB (startBrowserNode), dialling a Refuge node over libp2p WebSockets
// (Noise, Yamux) and syncing a shared database both ways with it, attachments carried as blobs; and
// two tabs in two browsers syncing with each other through a hub's relay. A query flooded from the
// node is answered by the tab.
// Skipped where Chromium is missing (scripts/ensure-system-packages.sh installs it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { holds, nextEvent, sharing, startPeerNode, startSyncingPeer } from '../mesh/helpers.ts';
import { noChromium, openAppPage, servePage } from './chromium.ts';

const entry = fileURLToPath(new URL('./mesh-entry.ts', import.meta.url));

test('a tab in Chromium is a mesh peer: it dials a node over WebSockets and a shared database syncs both ways, attachments included', { skip: noChromium }, async (t) => {
  const pages = await servePage(t, entry);
  const { peer: home } = await startSyncingPeer(t);
  const notes = await home.node.createDb('notes');
  await notes.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `n${String(i).padStart(2, '0')}`, i, side: 'node' })));
  await notes.put({ _id: 'n-att', _attachments: { 'note.txt': { content_type: 'text/plain', data: Buffer.from('from the node').toString('base64') } } });
  const ws = home.mesh.addresses().filter((a) => a.includes('/ws/'));

  const { page, errors } = await openAppPage(t, pages.origin, 'refugeMesh');
  const tabId = await page.evaluate(async ({ homeId, homeAddrs }) => {
    const { IndexedDbBlobStore, indexedDbEngine, MemoryTrustStore, addPeer, setGrant, startBrowserNode } = (globalThis as any).refugeMesh;
    const trust = new MemoryTrustStore();
    await trust.update((s: unknown) => {
      let next = addPeer(s, { id: homeId, addrs: homeAddrs });
      for (const access of ['read', 'write']) next = setGrant(next, 'notes', access, `peer:${homeId}`, true);
      return next;
    });
    const blobs = await IndexedDbBlobStore.open({ name: 'tab-blobs' });
    const tab = await startBrowserNode({ engine: indexedDbEngine(), name: 'tab', blobs, trust, sync: { replicate: { checkpointInterval: 0 } } });
    const g = globalThis as any;
    g.tab = tab;
    g.pulled = new Promise<void>((resolve) => {
      const off = tab.sync.on('paused', (e: { db: string; error?: unknown }) => {
        if (e.db === 'notes' && e.error === undefined) {
          off();
          resolve();
        }
      });
    });
    return tab.mesh.peerId as string;
  }, { homeId: home.mesh.peerId, homeAddrs: ws });

  // Trusted once connected: the tab's connection to home becomes a trusted peer's.
  const up = nextEvent(home.mesh, 'peer:up', (e) => e.peerId === tabId);
  await home.trust.update(sharing(tabId, 'notes'));
  await up;

  const inTab = await page.evaluate(async () => {
    const { tab, pulled } = globalThis as any;
    await pulled;
    const db = await tab.node.db('notes');
    const before = (await db.info()).docCount;
    const att = await db.get('n-att', { attachments: true });
    await db.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `t${String(i).padStart(2, '0')}`, i, side: 'tab' })));
    const n05 = await db.get('n05');
    await db.put({ ...n05, side: 'edited in the tab' });
    await db.put({ _id: 't-att', _attachments: { 'photo.bin': { content_type: 'application/octet-stream', data: btoa(String.fromCharCode(...Array.from({ length: 5000 }, (_, k) => (k * 7) % 256))) } } });
    return { before, note: atob(att._attachments['note.txt'].data) };
  });
  assert.equal(inTab.before, 21, "home's documents reached the tab");
  assert.equal(inTab.note, 'from the node', "and home's attachment, as a blob kept in the tab's IndexedDB");

  await holds(notes, 52, (doc) => doc._id === 'n05' && doc.side === 'edited in the tab');
  const photo = (await notes.get('t-att', { attachments: true }))._attachments as Record<string, { data: string }>;
  assert.deepEqual([...Buffer.from(photo['photo.bin']!.data, 'base64')], Array.from({ length: 5000 }, (_, k) => (k * 7) % 256));

  // Same winners and revision histories on both sides.
  const onHome = (await notes.allDocs()).rows.map((r) => [r.id, r.value!.rev]);
  const onTab = await page.evaluate(async () => {
    const db = await (globalThis as any).tab.node.db('notes');
    return (await db.allDocs()).rows.map((r: { id: string; value: { rev: string } }) => [r.id, r.value.rev]);
  });
  assert.deepEqual(onTab, onHome);

  // A query flooded from home is answered by the tab too, from its IndexedDB, under the grants the
  // tab gives home (the answer is signed by the tab's key and checked on arrival).
  const asked = home.mesh.queries.ask({ kind: 'find', selector: { side: 'tab' }, db: 'notes' }, { ttl: 2, limit: 50, timeoutMs: 20_000 });
  let fromTab: Array<{ _id: string }> = [];
  for await (const answer of asked) {
    if (answer.peer !== tabId) continue;
    fromTab = (answer.docs ?? []) as Array<{ _id: string }>;
    break;
  }
  assert.equal(fromTab.length, 30);

  // The tab stops its node: home sees it go.
  const down = nextEvent(home.mesh, 'peer:down', (e) => e.peerId === tabId);
  await page.evaluate(() => (globalThis as any).tab.close());
  await down;
  assert.deepEqual(errors, []);
});

test('two tabs in two Chromiums sync with each other through a hub: neither listens, the hub relays, each found the other by its id alone', { skip: noChromium }, async (t) => {
  const pages = await servePage(t, entry);
  const hub = await startPeerNode({ hub: true });
  t.after(() => hub.close());
  const hubWs = hub.mesh.addresses().filter((a) => a.includes('/ws/'));

  // Each tab: a node registered with the hub (so it is reachable through the hub's relay).
  const openTab = async (name: string) => {
    const { page, errors } = await openAppPage(t, pages.origin, 'refugeMesh');
    const id = await page.evaluate(async ({ name, hubs }) => {
      const { IndexedDbBlobStore, indexedDbEngine, startBrowserNode } = (globalThis as any).refugeMesh;
      const g = globalThis as any;
      g.tab = await startBrowserNode({ engine: indexedDbEngine(), name, blobs: await IndexedDbBlobStore.open({ name: `${name}-blobs` }), hubs, sync: { replicate: { checkpointInterval: 0 } } });
      // Registered once the hub knows an address of ours through its relay.
      await new Promise<void>((resolve) => {
        if (g.tab.mesh.addresses().some((a: string) => a.includes('/p2p-circuit'))) return resolve();
        const off = g.tab.mesh.on('hub:registered', (e: { addrs: string[] }) => {
          if (e.addrs.some((a) => a.includes('/p2p-circuit'))) {
            off();
            resolve();
          }
        });
      });
      return g.tab.mesh.peerId as string;
    }, { name, hubs: hubWs });
    return { page, errors, id };
  };
  const [a, b] = await Promise.all([openTab('tab-a'), openTab('tab-b')]);

  // Each trusts the other by id only (no address): the hub says where, the relay is the way.
  const trustEachOther = (tab: typeof a, other: string) =>
    tab.page.evaluate(async (other) => {
      const { addPeer, setGrant } = (globalThis as any).refugeMesh;
      const { tab } = globalThis as any;
      const up = new Promise<void>((resolve) => {
        const off = tab.mesh.on('peer:up', (e: { peerId: string }) => {
          if (e.peerId === other) {
            off();
            resolve();
          }
        });
      });
      await tab.trust.update((s: unknown) => {
        let next = addPeer(s, { id: other });
        for (const access of ['read', 'write']) next = setGrant(next, 'notes', access, `peer:${other}`, true);
        return next;
      });
      (globalThis as any).otherUp = up;
    }, other);
  await trustEachOther(a, b.id);
  await trustEachOther(b, a.id);

  // a writes; b pulls (and makes its own `notes`), then writes back; both end with the same revs.
  const written = await a.page.evaluate(async () => {
    const { tab, otherUp } = globalThis as any;
    await otherUp;
    const db = await tab.node.createDb('notes');
    await db.bulkDocs(Array.from({ length: 25 }, (_, i) => ({ _id: `a${String(i).padStart(2, '0')}`, i })));
    return (await db.info()).docCount;
  });
  assert.equal(written, 25);
  const inB = await b.page.evaluate(async (aId: string) => {
    const { tab, otherUp } = globalThis as any;
    await otherUp;
    // The pull may have run before this listens (a loaded machine): a `notes` already here will do.
    const db = await new Promise<any>((resolve) => {
      const off = tab.sync.on('paused', (e: { db: string; error?: unknown; progress: { docsWritten: number } }) => {
        if (e.db === 'notes' && e.error === undefined && e.progress.docsWritten > 0) {
          off();
          resolve(tab.node.db('notes'));
        }
      });
      void tab.node.exists('notes').then((here: boolean) => {
        if (here) {
          off();
          resolve(tab.node.db('notes'));
        }
      });
    });
    for await (const _ of db.subscribe({ since: 0 })) if ((await db.info()).docCount >= 25) break;
    await db.put({ _id: 'from-b' });
    // Neither tab listens: its connections to the other go through the hub's relay.
    const toA = tab.mesh.libp2p.getConnections().filter((c: any) => c.remotePeer.toString() === aId);
    const relayed = toA.length > 0 && toA.every((c: any) => c.remoteAddr.toString().includes('/p2p-circuit'));
    return { count: (await db.info()).docCount, relayed };
  }, a.id);
  assert.deepEqual(inB, { count: 26, relayed: true });
  const revsOf = (tab: typeof a) =>
    tab.page.evaluate(async () => {
      const db = await (globalThis as any).tab.node.db('notes');
      for await (const _ of db.subscribe({ since: 0 })) if ((await db.info()).docCount >= 26) break;
      return (await db.allDocs()).rows.map((r: { id: string; value: { rev: string } }) => [r.id, r.value.rev]);
    });
  const [revsA, revsB] = await Promise.all([revsOf(a), revsOf(b)]);
  assert.equal(revsA.length, 26);
  assert.deepEqual(revsA, revsB);
  await Promise.all([a.page.evaluate(() => (globalThis as any).tab.close()), b.page.evaluate(() => (globalThis as any).tab.close())]);
  assert.deepEqual([...a.errors, ...b.errors], []);
});
