// Durability: a writer in durable mode is killed with SIGKILL mid-stream; every write it had
// acknowledged must be there when the database is reopened, with consistent counts and index.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/index.ts';
import { tempDir } from '../helpers/db.ts';

const writer = fileURLToPath(new URL('../fixtures/crash-writer.ts', import.meta.url));
const mixedWriter = fileURLToPath(new URL('../fixtures/crash-mixed-writer.ts', import.meta.url));

/** Runs a writer child, passing it each line it prints until `stop` says so, then kills it with SIGKILL. */
async function killWhen(script: string, args: string[], stop: (line: string) => boolean): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for await (const line of lines) {
    if (line === 'ready') continue;
    if (stop(line)) {
      child.kill('SIGKILL');
      break;
    }
  }
  assert.equal(await exited, 'SIGKILL');
}

/** Kills the writer once `acks` writes were acknowledged: the kill lands in the middle of the stream. */
async function killMidStream(dataDir: string, mode: 'durable' | 'fast', acks: number): Promise<string[]> {
  const acked: string[] = [];
  await killWhen(writer, [dataDir, mode], (line) => acked.push(line) >= acks);
  return acked;
}

test('every write acknowledged in durable mode survives kill -9', async (t) => {
  const dir = await tempDir('refuge-crash-');
  t.after(dir.cleanup);
  const acked = await killMidStream(dir.path, 'durable', 300);

  const db = await openDatabase('crash', { dataDir: dir.path, durability: 'durable' });
  t.after(() => db.close());
  const all = await db.allDocs({ keys: acked });
  const missing = all.rows.filter((r) => r.error).map((r) => r.key);
  assert.deepEqual(missing, [], 'acknowledged writes lost');
  const info = await db.info();
  assert.ok(info.docCount >= acked.length);
  // The counters, the changes feed and the records agree with each other after the crash.
  const listed = await db.allDocs();
  assert.equal(listed.rows.length, info.docCount);
  const changes = await db.changes();
  assert.equal(changes.results.length, info.docCount);
  assert.equal(changes.lastSeq, info.updateSeq);
  // The path index was written in the same atomic batches.
  const singles = [];
  for await (const row of db.query({ path: 'nested/path/[]', gte: 0, lt: '' })) singles.push(row.id);
  assert.equal(singles.length, listed.rows.filter((r) => r.key.startsWith('single-')).length);
  // And the database takes writes again.
  await db.put({ _id: 'after-crash' });
});

test('fast mode after kill -9: opens cleanly, keeps a prefix of the acknowledged writes, stays consistent', async (t) => {
  const dir = await tempDir('refuge-crash-fast-');
  t.after(dir.cleanup);
  const acked = await killMidStream(dir.path, 'fast', 3000);
  const db = await openDatabase('crash', { dataDir: dir.path, durability: 'fast' });
  t.after(() => db.close());
  const rows = (await db.allDocs({ keys: acked })).rows;
  const present = rows.map((r) => !r.error);
  // Change sets are flushed in order and atomically: what survives is a prefix of what was acked.
  const firstMissing = present.indexOf(false);
  if (firstMissing >= 0) assert.ok(present.slice(firstMissing).every((p) => !p), 'a later write survived an earlier lost one');
  const info = await db.info();
  assert.equal((await db.allDocs()).rows.length, info.docCount);
  const changes = await db.changes();
  assert.equal(changes.results.length, info.docCount);
  assert.equal(changes.lastSeq, info.updateSeq);
  await db.put({ _id: 'after-crash' });
});

type MixedAck = { id: string; rev: string; deleted?: boolean; conflict?: boolean } | { compact: number };

/** Runs the mixed writer and kills it as soon as it says it started its `compactions`-th compaction. */
async function killDuringCompaction(dataDir: string, compactions: number): Promise<MixedAck[]> {
  const acked: MixedAck[] = [];
  let seen = 0;
  await killWhen(mixedWriter, [dataDir], (line) => {
    const ack = JSON.parse(line) as MixedAck;
    acked.push(ack);
    return 'compact' in ack && ++seen >= compactions;
  });
  return acked;
}

test('updates, deletions, conflicts and compactions killed with -9: every acknowledged revision is kept, every leaf readable', async (t) => {
  const dir = await tempDir('refuge-crash-mixed-');
  t.after(dir.cleanup);
  const acked = await killDuringCompaction(dir.path, 12);
  const writes = acked.filter((a): a is Exclude<MixedAck, { compact: number }> => 'id' in a);
  assert.ok(writes.some((w) => w.deleted) && writes.some((w) => w.conflict), 'the stream had deletions and conflicts');

  const db = await openDatabase('crash', { dataDir: dir.path, durability: 'durable' });
  t.after(() => db.close());
  const check = async () => {
    // Every acknowledged revision is in its document's tree.
    const asked = new Map<string, string[]>();
    for (const w of writes) asked.set(w.id, [...(asked.get(w.id) ?? []), w.rev]);
    assert.deepEqual([...(await db.revsDiff(asked))], [], 'acknowledged revisions lost');
    // Every leaf, winning or not, deleted or not, still has its body.
    for (const id of asked.keys()) {
      for (const leaf of await db.getOpenRevs(id, 'all')) assert.ok('ok' in leaf, `${id}: a leaf lost its body`);
    }
    const info = await db.info();
    const listed = await db.allDocs({ includeDocs: true });
    assert.equal(listed.rows.length, info.docCount);
    assert.ok(listed.rows.every((r) => r.doc && typeof r.doc.n === 'number'));
    const changes = await db.changes();
    assert.equal(changes.results.length, info.docCount + info.docDelCount);
    assert.equal(changes.lastSeq, info.updateSeq);
    // The path index agrees with the winners.
    const indexed = [];
    for await (const row of db.query({ path: 'n', gt: true, lt: '' })) indexed.push(row.id);
    assert.deepEqual(indexed.sort(), listed.rows.map((r) => r.id).sort());
  };
  await check();
  // It compacts and takes writes again, and still holds everything.
  await db.compact();
  await check();
  await db.put({ _id: 'after-crash', n: 0 });
});

test('a log damaged in the middle: LevelDB drops the damaged block; the database recounts and stays consistent', async (t) => {
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const dir = await tempDir('refuge-corrupt-');
  t.after(dir.cleanup);
  let db = await openDatabase('c', { dataDir: dir.path, durability: 'durable' });
  for (let k = 0; k < 10; k++) {
    await db.bulkDocs(Array.from({ length: 300 }, (_, j) => ({ _id: `d${k}-${j}`, n: k * 1000 + j, pad: 'z'.repeat(200) })));
  }
  assert.equal((await db.info()).docCount, 3000);
  await db.close();
  // Bytes flipped a third of the way into the newest log: one block fails its checksum.
  const location = `${dir.path}/c`;
  const log = `${location}/${readdirSync(location).filter((f) => f.endsWith('.log')).sort().pop()}`;
  const bytes = readFileSync(log);
  for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 3) + i]! ^= 0xff;
  writeFileSync(log, bytes);
  db = await openDatabase('c', { dataDir: dir.path, durability: 'durable' });
  t.after(() => db.close());
  const info = await db.info();
  const listed = (await db.allDocs()).rows.length;
  const changed = (await db.changes()).results.length;
  assert.ok(listed < 3000, 'a block was dropped (the test damaged something)');
  assert.equal(info.docCount, listed);
  assert.equal(changed, listed);
  assert.ok(info.updateSeq >= 3000, 'no sequence is given twice');
  // The path index was rebuilt from what is there: a query agrees with the listing.
  const found = await db.find({ selector: { n: { $gte: 0 } }, limit: 10_000 });
  assert.equal(found.docs.length, listed);
  // New writes count from there, with new sequences.
  await db.put({ _id: 'after', n: -1 });
  const after = await db.info();
  assert.equal(after.docCount, listed + 1);
  assert.ok(after.updateSeq > info.updateSeq);
});

test('a node says which database opened with damaged data dropped (onDamage), as nothing else would', async (t) => {
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const { openNode } = await import('../../src/node/index.ts');
  const dir = await tempDir('refuge-damage-');
  t.after(dir.cleanup);
  let node = await openNode({ dataDir: dir.path, durability: 'durable' });
  const db = await node.createDb('c');
  for (let k = 0; k < 10; k++) await db.bulkDocs(Array.from({ length: 300 }, (_, j) => ({ _id: `d${k}-${j}`, pad: 'z'.repeat(200) })));
  await node.close();
  const location = `${dir.path}/dbs/c`;
  const log = `${location}/${readdirSync(location).filter((f) => f.endsWith('.log')).sort().pop()}`;
  const bytes = readFileSync(log);
  for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 3) + i]! ^= 0xff;
  writeFileSync(log, bytes);
  const told: Array<[string, string]> = [];
  node = await openNode({ dataDir: dir.path, durability: 'durable', onDamage: (name, loss) => told.push([name, loss]) });
  t.after(() => node.close());
  assert.ok((await (await node.db('c')).info()).docCount < 3000);
  assert.equal(told.length, 1);
  assert.equal(told[0]![0], 'c');
  assert.match(told[0]![1], /dropping \d+ bytes/);
});

test('a lost write that moved a document leaves no second change row for it: entries no record points at go', async (t) => {
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const dir = await tempDir('refuge-corrupt-moved-');
  t.after(dir.cleanup);
  let db = await openDatabase('c', { dataDir: dir.path, durability: 'durable' });
  const v1 = await db.put({ _id: 'x', v: 1 });
  // One write moves x to a new sequence among padding that spans several log blocks...
  const v2 = (await db.bulkDocs([{ _id: 'x', _rev: v1.rev, v: 2 }, ...Array.from({ length: 400 }, (_, i) => ({ _id: `pad-${i}`, pad: 'p'.repeat(300) }))]))[0] as { rev: string };
  // ...and a later one moves it again, removing the entry the first one added.
  await db.put({ _id: 'x', _rev: v2.rev, v: 3 });
  await db.put({ _id: 'y' });
  await db.close();
  // The padding write's block is damaged: LevelDB drops that write whole.
  const location = `${dir.path}/c`;
  const log = `${location}/${readdirSync(location).filter((f) => f.endsWith('.log')).sort().pop()}`;
  const bytes = readFileSync(log);
  const at = bytes.indexOf('pad-200') + 100;
  assert.ok(at > 100);
  for (let i = 0; i < 64; i++) bytes[at + i]! ^= 0xff;
  writeFileSync(log, bytes);
  db = await openDatabase('c', { dataDir: dir.path, durability: 'durable' });
  t.after(() => db.close());
  const rows = (await db.changes()).results;
  const listed = (await db.allDocs()).rows.map((r) => r.id);
  assert.deepEqual(rows.map((r) => r.id).sort(), listed.sort());
  assert.equal((await db.info()).docCount, listed.length);
  assert.equal((await db.get('x')).v, 3);
});

test('a recount cut short is done again at the next open (its pending mark is stored before it starts)', async (t) => {
  const { leveldbEngine } = await import('../../src/storage-node/index.ts');
  const dir = await tempDir('refuge-recount-pending-');
  t.after(dir.cleanup);
  let db = await openDatabase('c', { dataDir: dir.path });
  await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
  await db.close();
  // As a process killed during a recount leaves it: wrong counters, marked pending.
  const store = await leveldbEngine().open({ location: `${dir.path}/c` });
  const meta = JSON.parse((await store.get('m!info'))!) as Record<string, unknown>;
  await store.batch([{ type: 'put', key: 'm!info', value: JSON.stringify({ ...meta, docCount: 999, recountPending: true }) }], { sync: true });
  await store.close();
  db = await openDatabase('c', { dataDir: dir.path });
  t.after(() => db.close());
  assert.equal((await db.info()).docCount, 3);
});
