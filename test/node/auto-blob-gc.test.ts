// A node collects, by itself, the attachment blobs its documents stopped naming, as CouchDB's
// compaction gives their space back: after a compaction, a stemming write, a purge, a database's
// deletion or an unpin (Kubo's periodic gc, on by default here for the node's own store, and only
// over what dropped references named: a blob stored by hand is never its to delete).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openNode, type OpenNodeOptions, type RefugeNode } from '../../src/node/index.ts';
import { MemoryBlobStore, type BlobId } from '../../src/blobs/index.ts';
import type { GcReport } from '../../src/gc/index.ts';
import type { Database } from '../../src/documents/index.ts';
import { tempDir } from '../helpers/db.ts';

/**
 * The timer never fires in these tests unless one asks: each looks itself, as the timer would. No
 * quiet time after the last blob added either, unless a test is about it.
 */
const NO_TIMER = { intervalMs: 3_600_000, quietMs: 0 };

async function withNode(options: OpenNodeOptions, fn: (node: RefugeNode) => Promise<void>): Promise<void> {
  const dir = await tempDir('refuge-auto-blob-gc-');
  const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', autoCompaction: false, ...options });
  try {
    await fn(node);
  } finally {
    await node.close();
    await dir.cleanup();
  }
}

const inline = (text: string) => ({ content_type: 'text/plain', data: Buffer.from(text).toString('base64') });

async function digestOf(db: Database, id: string, name: string): Promise<BlobId> {
  const doc = (await db.get(id)) as { _attachments: Record<string, { digest: BlobId }> };
  return doc._attachments[name]!.digest;
}

/** Writes `id` with attachment `name` holding `first`, then replaces it with `second`: answers both blobs. */
async function replaced(db: Database, id: string, name: string, first: string, second: string): Promise<{ old: BlobId; current: BlobId }> {
  const r1 = await db.put({ _id: id, _attachments: { [name]: inline(first) } });
  const old = await digestOf(db, id, name);
  await db.put({ _id: id, _rev: r1.rev, _attachments: { [name]: inline(second) } });
  return { old, current: await digestOf(db, id, name) };
}

const idOfText = (text: string): BlobId => `sha256-${createHash('sha256').update(text).digest('hex')}`;

async function readAttachment(db: Database, id: string, name: string): Promise<string> {
  const { read } = await db.getAttachment(id, name);
  const chunks: Uint8Array[] = [];
  for await (const c of read) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

test('a compaction that drops an old revision lets its attachment blob go; the current one stays', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('photos');
    const { old, current } = await replaced(db, 'a', 'pic', 'first version of the picture', 'second version of the picture');

    // Blobs were only added: a collection for them is due hourly, not now.
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'no collection right after uploads');
    assert.ok(await node.blobs.has(old), 'the old revision still names its blob until compaction');

    assert.equal((await db.compact()).droppedBodies, 1);
    const report = await node.collectBlobsWhereDue();
    assert.ok(report, 'a compaction that dropped a body makes a collection due');
    assert.deepEqual(report.deleted, [old]);
    assert.equal(report.deletedBytes, 'first version of the picture'.length);
    assert.equal(await node.blobs.has(old), false, 'the blob only the dropped revision named is gone');
    assert.equal(await node.blobs.has(current), true, 'the winner\'s blob stays');
    assert.equal(await readAttachment(db, 'a', 'pic'), 'second version of the picture');
    // Nothing dropped since: nothing due.
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'no second collection without a new drop');
    // A compaction that drops nothing makes nothing due.
    assert.equal((await db.compact()).droppedBodies, 0);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'a compaction that dropped nothing');
  });
});

test('revisions a write stems past revs_limit let their attachment blobs go too, no compaction needed', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('stemmed');
    await db.setRevsLimit(2);
    let rev = (await db.put({ _id: 'a', _attachments: { f: inline('version 1') } })).rev;
    const first = await digestOf(db, 'a', 'f');
    rev = (await db.put({ _id: 'a', _rev: rev, _attachments: { f: inline('version 2') } })).rev;
    const second = await digestOf(db, 'a', 'f');
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'nothing stemmed yet');
    await db.put({ _id: 'a', _rev: rev, _attachments: { f: inline('version 3') } });
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [first], 'revision 1 stemmed with its body');
    assert.equal(await node.blobs.has(second), true, 'revision 2 is still in the tree, its body kept');
  });
});

test('a write refused after its attachments were stored (a conflict) lets their blobs go; one another document names stays', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('refused');
    const r1 = await db.put({ _id: 'a', _attachments: { f: inline('the first version') } });
    await db.put({ _id: 'a', _rev: r1.rev, n: 2 });
    // Both name a revision that is no leaf any more: conflicts, after their bytes were stored.
    const rows = await db.bulkDocs([
      { _id: 'a', _rev: r1.rev, _attachments: { f: inline('never written') } },
      { _id: 'a', _rev: r1.rev, _attachments: { f: inline('the first version') } },
    ]);
    assert.ok(rows.every((r) => 'error' in r && r.error === 'conflict'), JSON.stringify(rows));
    const stored = idOfText('never written');
    assert.equal(await node.blobs.has(stored), true, 'stored before the write was refused');
    const report = await node.collectBlobsWhereDue();
    assert.ok(report, 'a refused write makes a collection due');
    assert.deepEqual(report.deleted, [stored]);
    assert.equal(await node.blobs.has(idOfText('the first version')), true, 'still named by revision 1');
  });
});

test('a streamed body\'s blobs, stored before validate_doc_update refused its document, go too', async () => {
  const { AttachmentBytes } = await import('../../src/documents/index.ts');
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('validated');
    await db.put({ _id: '_design/v', validate_doc_update: 'function (doc) { if (doc.refuse) throw({ forbidden: "refused" }); }' });
    // As the HTTP layer hands on a streamed or multipart body: the bytes already stored, named by id.
    const blob = await node.blobs.put(new TextEncoder().encode('streamed, then refused'));
    const data = AttachmentBytes.ofBlob(node.blobs, blob.id, blob.size);
    const [row] = await db.bulkDocs([{ _id: 'r', refuse: true, _attachments: { f: { content_type: 'text/plain', data } } }]);
    assert.equal(row && 'error' in row ? row.error : undefined, 'forbidden', JSON.stringify(row));
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [blob.id]);
  });
});

test('an attachment uploaded on its own, whose document write is then refused or loses a race, lets its blob go', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('uploads');
    await db.put({ _id: '_design/v', validate_doc_update: 'function (doc) { if (doc._attachments && doc._attachments.bad) throw({ forbidden: "no bad attachments" }); }' });
    const r1 = await db.put({ _id: 'a' });

    // Refused by validate_doc_update after the bytes were stored (the rule sees the attachment only then).
    await assert.rejects(db.putAttachment('a', 'bad', r1.rev, new TextEncoder().encode('refused upload'), 'text/plain'), (err: Error & { code?: string }) => err.code === 'forbidden');
    const refused = idOfText('refused upload');
    assert.equal(await node.blobs.has(refused), true, 'stored before the write was refused');

    // Another write lands while the bytes stream in: the upload's edit is then a conflict.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let streaming!: () => void;
    const started = new Promise<void>((resolve) => (streaming = resolve));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('lost the ');
      streaming();
      await gate;
      yield new TextEncoder().encode('race');
    }
    const upload = db.putAttachment('a', 'f', r1.rev, body(), 'text/plain');
    await started;
    await db.put({ _id: 'a', _rev: r1.rev, n: 2 });
    release();
    await assert.rejects(upload, (err: Error & { code?: string }) => err.code === 'conflict');
    const lost = idOfText('lost the race');
    assert.equal(await node.blobs.has(lost), true, 'stored before the write lost the race');

    const report = await node.collectBlobsWhereDue();
    assert.ok(report, 'an upload whose document was not written makes a collection due');
    assert.deepEqual([...report.deleted].sort(), [lost, refused].sort());
    assert.equal(await node.blobs.has(lost), false, 'the blob of the lost upload is gone');
    assert.equal(await node.blobs.has(refused), false, 'the blob of the refused upload is gone');
  });
});

test('a deleted database, a purge and an unpin each let their blobs go; blobs still named elsewhere stay', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const gone = await node.createDb('gone');
    const kept = await node.createDb('kept');
    await gone.put({ _id: 'x', _attachments: { only: inline('only in the deleted database'), shared: inline('in both databases') } });
    await kept.put({ _id: 'y', _attachments: { shared: inline('in both databases') } });
    const only = await digestOf(gone, 'x', 'only');
    const shared = await digestOf(kept, 'y', 'shared');
    await node.deleteDb('gone');
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [only]);
    assert.equal(await node.blobs.has(shared), true, 'a blob another database names stays');

    const p = await kept.put({ _id: 'purged', _attachments: { f: inline('purged with its document') } });
    const purgedBlob = await digestOf(kept, 'purged', 'f');
    await kept.purge({ purged: [p.rev] });
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [purgedBlob]);

    const pinned = await node.blobs.put(new TextEncoder().encode('kept by a pin alone'));
    await node.pins.add(pinned.id);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'a pin added makes nothing due');
    assert.equal(await node.pins.remove(pinned.id), true);
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [pinned.id]);
    assert.equal(await readAttachment(kept, 'y', 'shared'), 'in both databases');
  });
});

/** A memory node (its blobs aged by Date, which the test moves) with the automatic gc's own timing. */
async function withClockedNode(t: TestContext, fn: (node: RefugeNode) => Promise<void>): Promise<void> {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
  const node = await openNode({ engine: 'memory', autoCompaction: false, blobGc: { intervalMs: 3_600_000 } });
  try {
    await fn(node);
  } finally {
    await node.close();
  }
}

test('an hour\'s grace: a blob stored within the last hour stays, and is collected at the look after', async (t) => {
  await withClockedNode(t, async (node) => {
    const db = await node.createDb('young');
    const { old } = await replaced(db, 'a', 'f', 'just uploaded, soon replaced', 'the replacement');
    await db.compact();
    t.mock.timers.tick(15 * 60_000);
    const report = await node.collectBlobsWhereDue();
    assert.ok(report, 'due after the compaction, the store quiet for five minutes');
    assert.deepEqual(report.deleted, [], 'kept: stored a quarter of an hour ago');
    assert.equal(report.young, 1);
    assert.equal(await node.blobs.has(old), true);
    t.mock.timers.tick(30 * 60_000);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'the young blob is looked at again hourly, not at each look');
    t.mock.timers.tick(30 * 60_000);
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [old], 'an hour later it is old enough');
    assert.equal(await readAttachment(db, 'a', 'f'), 'the replacement');
  });
});

test('nothing is collected while blobs are being added (a snapshot, an upload under way)', async (t) => {
  await withClockedNode(t, async (node) => {
    const db = await node.createDb('busy');
    const { old } = await replaced(db, 'a', 'f', 'stored two hours ago, then replaced', 'its replacement');
    t.mock.timers.tick(2 * 3600_000);
    await db.compact();
    // A client stores blobs every four minutes (the blocks of a long snapshot not named yet).
    for (let i = 0; i < 5; i++) {
      await node.blobs.put(new TextEncoder().encode(`block ${i} of a snapshot under way`));
      t.mock.timers.tick(4 * 60_000);
      assert.equal(await node.collectBlobsWhereDue(), undefined, `postponed while blobs keep coming (${i})`);
    }
    assert.equal(await node.blobs.has(old), true);
    t.mock.timers.tick(60_000);
    const report = await node.collectBlobsWhereDue();
    assert.ok(report, 'five quiet minutes: collected');
    assert.deepEqual(report.deleted, [old], 'the attachment the compaction dropped');
    assert.equal(report.young, 0, 'the blocks were never named: not among what it looks at');
    for (let i = 0; i < 5; i++) assert.equal(await node.blobs.has(idOfText(`block ${i} of a snapshot under way`)), true, `block ${i} stays`);
  });
});

test('a hold keeps gc off: automatic collections wait, gc by hand is refused, until released or lapsed', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
  const node = await openNode({ engine: 'memory', autoCompaction: false, blobGc: { ...NO_TIMER, graceMs: 0 } });
  try {
    const db = await node.createDb('held');
    const { old } = await replaced(db, 'a', 'f', 'dropped while a snapshot runs', 'kept');
    await db.compact();
    const hold = node.gcHolds.open(60_000);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'the automatic collection waits');
    await assert.rejects(node.collectBlobGarbage({ graceMs: 0 }), (e: Error & { code?: string }) => e.code === 'conflict');
    assert.equal(await node.blobs.has(old), true);
    assert.equal(node.gcHolds.release(hold.id), true);
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [old], 'released: the waiting collection runs');

    const { old: second } = await replaced(db, 'b', 'f', 'dropped under a hold that lapses', 'kept too');
    await db.compact();
    const lapsing = node.gcHolds.open(60_000);
    t.mock.timers.tick(30_000);
    node.gcHolds.renew(lapsing.id, 60_000);
    t.mock.timers.tick(59_000);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'renewed: still held');
    t.mock.timers.tick(1_000);
    assert.equal(node.gcHolds.count, 0, 'not renewed again: lapsed');
    assert.throws(() => node.gcHolds.renew(lapsing.id), (e: Error & { code?: string }) => e.code === 'not_found');
    assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [second]);
  } finally {
    await node.close();
  }
});

test('a damaged tree (a pinned root that is missing) stops a collection before it deletes anything, quietly', async () => {
  const { cidOfBlobId, DAG_PB_CODEC } = await import('../../src/files/blocks.ts');
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('damaged');
    const { old } = await replaced(db, 'a', 'f', 'would go, but for the damage', 'stays');
    const absent = (await node.blobs.put(new TextEncoder().encode('a tree node, then lost'))).id;
    await node.pins.add(cidOfBlobId(absent, DAG_PB_CODEC).toString());
    await node.blobs.delete(absent);
    await db.compact();
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'no report, no throw');
    assert.equal(await node.blobs.has(old), true, 'nothing deleted while a reachable blob is missing');
    const status = node.blobGcStatus()!;
    assert.match(status.failed?.reason ?? '', /missing/, `the status says why: ${JSON.stringify(status.failed)}`);
    assert.equal(status.candidates, 1, 'the candidate waits for the next attempt');
    assert.ok((status.dueAt ?? 0) >= Date.now() + 3_500_000, 'an hour later');
    await assert.rejects(node.collectBlobGarbage({ graceMs: 0 }), (e: Error & { code?: string }) => e.code === 'conflict');
  });
});

test('the timer collects by itself once references were dropped', async () => {
  let collected!: (r: GcReport) => void;
  const reported = new Promise<GcReport>((resolve) => (collected = resolve));
  await withNode({ blobGc: { intervalMs: 20, quietMs: 0, graceMs: 0, onCollected: (r) => collected(r) } }, async (node) => {
    const db = await node.createDb('timed');
    const { old } = await replaced(db, 'a', 'f', 'replaced, then compacted away', 'what stays');
    await db.compact();
    const report = await reported;
    assert.deepEqual(report.deleted, [old]);
    assert.equal(await node.blobs.has(old), false);
  });
});

test('on by default for the node\'s own store, where a blob stored by hand is never its to delete; off for a store given to it or when turned off', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
  const own = await openNode({ engine: 'memory', autoCompaction: false });
  try {
    const db = await own.createDb('d');
    const { old } = await replaced(db, 'a', 'f', 'one', 'two');
    const byHand = await own.blobs.put(new TextEncoder().encode('stored with PUT /_blobs, never pinned'));
    await db.compact();
    t.mock.timers.tick(2 * 3600_000);
    assert.deepEqual((await own.collectBlobsWhereDue())?.deleted, [old], 'a memory node with memory blobs collects by default');
    assert.equal(await own.blobs.has(byHand.id), true, 'named by nothing, but never dropped by anything: kept');
    // Gc by hand sweeps the whole store.
    assert.deepEqual((await own.collectBlobGarbage({ graceMs: 0 })).deleted, [byHand.id]);
  } finally {
    await own.close();
  }
  for (const options of [{ blobs: new MemoryBlobStore() }, { blobGc: false as const }]) {
    const node = await openNode({ engine: 'memory', autoCompaction: false, ...options });
    try {
      const db = await node.createDb('d');
      await replaced(db, 'a', 'f', 'one', 'two');
      await db.compact();
      assert.equal(await node.collectBlobsWhereDue(), undefined, `no automatic gc with ${JSON.stringify(Object.keys(options))}`);
    } finally {
      await node.close();
    }
  }
});

test('a compaction reads old revisions for the attachments it may drop only in a database that ever had some', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const bodyScans = async (name: string, attachments: boolean): Promise<number> => {
      const db = await node.createDb(name);
      const r1 = await db.put({ _id: 'a', n: 1, ...(attachments && { _attachments: { f: inline(`in ${name}`) } }) });
      await db.put({ _id: 'a', _rev: r1.rev, n: 2 });
      const store = db.core.store;
      const scan = store.scan.bind(store);
      let scans = 0;
      store.scan = ((range, ...rest) => {
        if ((range as { gte?: string }).gte === 'r!') scans++;
        return scan(range, ...rest);
      }) as typeof store.scan;
      assert.equal((await db.compact()).droppedBodies, 1);
      return scans;
    };
    assert.equal(await bodyScans('plain', false), 0, 'never had attachments: not read');
    assert.equal(await bodyScans('photos', true), 1, 'had some: read once');
  });
});

test('a compaction of documents without attachments makes no collection due', async () => {
  await withNode({ blobGc: { ...NO_TIMER, graceMs: 0 } }, async (node) => {
    const db = await node.createDb('plain');
    const r1 = await db.put({ _id: 'a', n: 1 });
    await db.put({ _id: 'a', _rev: r1.rev, n: 2 });
    assert.equal((await db.compact()).droppedBodies, 1);
    assert.equal(await node.collectBlobsWhereDue(), undefined, 'no attachment dropped: no collection');
    assert.equal(await node.collectBlobsWhereDue(), undefined);
  });
});

/** A node on one LevelDB data directory, opened again for each `inNode` (a restart in between). */
async function withRestarts(fn: (inNode: (fn: (node: RefugeNode) => Promise<void>, graceMs?: number) => Promise<void>) => Promise<void>): Promise<void> {
  const dir = await tempDir('refuge-auto-blob-gc-restart-');
  try {
    await fn(async (inNode, graceMs = 0) => {
      const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'fast', autoCompaction: false, blobGc: { ...NO_TIMER, graceMs } });
      try {
        await inNode(node);
      } finally {
        await node.close();
      }
    });
  } finally {
    await dir.cleanup();
  }
}

test('candidates outlive a restart: a database deleted and a compaction just before the node stopped are collected after it starts again', async () => {
  await withRestarts(async (inNode) => {
    let ofGone: BlobId, old: BlobId, current: BlobId;
    await inNode(async (node) => {
      const gone = await node.createDb('gone');
      await gone.put({ _id: 'a', _attachments: { f: inline('only the deleted database names this') } });
      ofGone = await digestOf(gone, 'a', 'f');
      const kept = await node.createDb('kept');
      ({ old, current } = await replaced(kept, 'b', 'g', 'replaced before the restart', 'current after the restart'));
      await node.deleteDb('gone');
      assert.equal((await kept.compact()).droppedBodies, 1);
    });
    await inNode(async (node) => {
      const report = await node.collectBlobsWhereDue();
      assert.ok(report, 'candidates noted before the restart make a collection due');
      assert.deepEqual([...report.deleted].sort(), [ofGone, old].sort());
      assert.equal(await node.blobs.has(current), true, 'the winner\'s blob stays');
      assert.equal(await node.collectBlobsWhereDue(), undefined, 'settled candidates are not due again');
    });
    // Settled candidates left the log: nothing is due after another restart either.
    await inNode(async (node) => {
      assert.equal(await node.collectBlobsWhereDue(), undefined, 'nothing carried over a second restart');
    });
  });
});

test('a candidate young at the last collection is kept in the log until a later one settles it, across a restart', async () => {
  await withRestarts(async (inNode) => {
    let old: BlobId;
    await inNode(async (node) => {
      const db = await node.createDb('photos');
      ({ old } = await replaced(db, 'a', 'pic', 'young when first looked at', 'the current picture'));
      await db.compact();
      const report = await node.collectBlobsWhereDue();
      assert.equal(report?.young, 1, 'kept as young within the grace period');
      assert.equal(await node.blobs.has(old), true, 'a young blob stays');
    }, 3_600_000);
    await inNode(async (node) => {
      assert.deepEqual((await node.collectBlobsWhereDue())?.deleted, [old], 'the young candidate came back with the node');
    });
  });
});

test('a carried candidate that gc by hand already deleted settles quietly', async () => {
  await withRestarts(async (inNode) => {
    let blob: BlobId;
    await inNode(async (node) => {
      const db = await node.createDb('gone');
      await db.put({ _id: 'a', _attachments: { f: inline('deleted by hand before the node looked') } });
      blob = await digestOf(db, 'a', 'f');
      await node.deleteDb('gone');
    });
    await inNode(async (node) => {
      assert.deepEqual((await node.collectBlobGarbage({ graceMs: 0 })).deleted, [blob], 'gc by hand takes it first');
      const report = await node.collectBlobsWhereDue();
      assert.deepEqual(report?.deleted, [], 'the automatic collection finds nothing left to delete, and no error');
      assert.equal(await node.collectBlobsWhereDue(), undefined, 'settled');
    });
  });
});

test('a node killed just as a compaction dropped a revision collects its attachment after it starts again: noted before the drop', async () => {
  const dir = await tempDir('refuge-auto-blob-gc-crash-');
  try {
    const fixture = fileURLToPath(new URL('../fixtures/crash-after-drop.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const lines: string[] = [];
    for await (const line of createInterface({ input: child.stdout! })) lines.push(line);
    assert.equal(await exited, 'SIGKILL', `the child was to be killed in the compaction: ${lines.join(' | ')}`);
    const old = lines[0] as BlobId;

    const node = await openNode({ dataDir: dir.path, engine: 'leveldb', durability: 'durable', autoCompaction: false, blobGc: { ...NO_TIMER, graceMs: 0 } });
    try {
      assert.equal(await node.blobs.has(old), true, 'the blob outlived the crash');
      const report = await node.collectBlobsWhereDue();
      assert.ok(report, 'the compaction\'s candidate came back with the node');
      assert.deepEqual(report.deleted, [old]);
      assert.equal(await readAttachment(await node.db('photos'), 'a', 'pic'), 'the new picture');
    } finally {
      await node.close();
    }
  } finally {
    await dir.cleanup();
  }
});
