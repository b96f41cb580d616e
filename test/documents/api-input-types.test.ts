// The library refuses arguments of the wrong kind with a bad_request RefugeError, before anything
// is made or written: a null options object (a `= {}` default takes only undefined), a misspelt
// durability (taken as not 'durable', it wrote without syncing), a string autoIndex, a null engine,
// an attachment name that is no string, a signal that is no AbortSignal, and replication ends or
// options that are neither peers nor settings, and a node's limits and intervals. None escapes as a
// TypeError or an internal error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { openDatabase, replicate } from '../../src/index.ts';
import { openNode } from '../../src/node/index.ts';
import { tempDir } from '../helpers/db.ts';

async function refused(label: string, f: () => unknown): Promise<void> {
  await assert.rejects(
    (async () => f())(),
    (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, 'bad_request', `${label}: ${String(err)}`);
      return true;
    },
    label,
  );
}

test('calls with options, names or signals of the wrong kind are bad requests, and change nothing', async (t) => {
  const db = await openDatabase('types', { engine: 'memory' });
  t.after(() => db.destroy());
  await db.put({ _id: 'a' });
  await refused('put null options', () => db.put({ _id: 'b' }, null as never));
  await refused('get null options', () => db.get('a', null as never));
  await refused('allDocs null options', () => db.allDocs(null as never));
  await refused('changes null options', () => db.changes(null as never));
  await refused('subscribe null options', () => db.subscribe(null as never).next());
  await refused('subscribe signal 5', () => db.subscribe({ signal: 5 as never }).next());
  await refused('attachment name 5', () => db.putAttachment('a', 5 as never, undefined, new Uint8Array([1]), 'text/plain'));
  await refused('setAutoIndex "no"', () => db.setAutoIndex('no' as never));
  await refused('get attsSince "x"', () => db.get('a', { attsSince: 'x' as never }));
  await refused('changes maxDocBytes -1', () => db.changes({ maxDocBytes: -1 } as never));
  const info = await db.info();
  assert.deepEqual([info.docCount, info.updateSeq, info.autoIndex], [1, 1, true]);
});

test('opening with options of the wrong kind is refused before anything is made on disk', async (t) => {
  const dir = await tempDir('refuge-open-types-');
  t.after(dir.cleanup);
  await refused('null options', () => openDatabase('x', null as never));
  await refused('engine null', () => openDatabase('x', { engine: null as never, dataDir: dir.path }));
  await refused('durability "Durable"', () => openDatabase('x', { dataDir: dir.path, durability: 'Durable' as never }));
  await refused('autoIndex "no"', () => openDatabase('x', { dataDir: dir.path, autoIndex: 'no' as never }));
  await refused('dataDir 5', () => openDatabase('x', { dataDir: 5 as never }));
  await assert.rejects(openDatabase('ABC', { dataDir: dir.path }), { code: 'illegal_database_name' });
  await refused('openNode durability "Durable"', () => openNode({ dataDir: `${dir.path}/node`, durability: 'Durable' as never }));
  await refused('openNode null', () => openNode(null as never));
  const node = await openNode({ engine: 'memory' });
  try {
    for (const options of [null, { since: -1 }, { since: 'x' }, { limit: 1.5 }, { descending: 'yes' }]) {
      await refused(`dbUpdates ${JSON.stringify(options)}`, () => node.dbUpdates(options as never));
    }
  } finally {
    await node.close();
  }
  // The node's own options too, before it locks or makes anything (a bad interval was a 1 ms timer).
  for (const options of [
    { maxOpenDbs: 0 }, { passwordIterations: 0 }, { sandbox: { timeoutMs: -1 } }, { sandbox: { memoryBytes: 'x' } },
    { autoCompaction: { intervalMs: -5 } }, { autoCompaction: 'x' }, { blobGc: { intervalMs: 'x' } }, { blobGc: { graceMs: -1 } }, { onDamage: 'x' },
  ]) {
    await refused(`openNode ${JSON.stringify(options)}`, () => openNode({ dataDir: `${dir.path}/node`, ...(options as object) }));
  }
  assert.deepEqual(await readdir(dir.path), [], 'no blob store, database or node directory was made');
  // A file where the data directory should be (or on its path) is said to be one.
  await writeFile(`${dir.path}/afile`, 'x');
  for (const dataDir of [`${dir.path}/afile`, `${dir.path}/afile/sub`]) {
    await refused(`openDatabase in ${dataDir}`, () => openDatabase('x', { dataDir }));
    await refused(`openNode in ${dataDir}`, () => openNode({ dataDir }));
  }
});

test('replication ends that are no peers, and options that are no settings, are bad requests', async (t) => {
  const a = await openDatabase('ra', { engine: 'memory' });
  const b = await openDatabase('rb', { engine: 'memory' });
  t.after(async () => {
    await a.destroy();
    await b.destroy();
  });
  for (const end of [null, undefined, 5, {}]) {
    await refused(`source ${JSON.stringify(end)}`, () => replicate(end as never, b).done);
    await refused(`target ${JSON.stringify(end)}`, () => replicate(a, end as never).done);
  }
  await refused('options null', () => replicate(a, b, null as never).done);
  await refused('continuous "yes"', () => replicate(a, b, { continuous: 'yes' as never }).done);
  await refused('retry "x"', () => replicate(a, b, { retry: 'x' as never }).done);
});
