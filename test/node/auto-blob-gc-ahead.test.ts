// The node's own gc notes what a compaction or purge may drop before it drops anything (synced), so a
// crash in the middle of one leaves those blobs candidates at the next start; what it did not drop
// leaves the log again. A unit test of AutoBlobGc, with a candidate log in memory that records its writes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoBlobGc, type CandidateLog, type CollectAmong } from '../../src/node/auto-blob-gc.ts';
import type { GcReport } from '../../src/gc/index.ts';

/** A log in memory; each write waits for `gate` when one is set, and is recorded once done. */
class RecordingLog implements CandidateLog {
  readonly ids = new Set<string>();
  readonly writes: string[] = [];
  gate: Promise<void> | undefined;
  async load(): Promise<string[]> {
    return [...this.ids];
  }
  async add(ids: readonly string[], sync?: boolean): Promise<void> {
    await this.gate;
    for (const id of ids) this.ids.add(id);
    this.writes.push(`add${sync ? ' synced' : ''} ${[...ids].sort().join(',')}`);
  }
  async remove(ids: readonly string[]): Promise<void> {
    await this.gate;
    for (const id of ids) this.ids.delete(id);
    this.writes.push(`remove ${[...ids].sort().join(',')}`);
  }
}

const report = (deleted: string[] = []): GcReport => ({ roots: 0, reachable: 0, missing: [], scanned: 0, deleted: deleted as GcReport['deleted'], deletedBytes: 0, young: 0, dryRun: false });

/** A gc that never looks by itself (no timer in reach, no quiet time) over `collect`. */
function gcWith(log: RecordingLog, collect: CollectAmong = async () => report()): AutoBlobGc {
  return new AutoBlobGc(collect, { intervalMs: 3_600_000, quietMs: 0, graceMs: 0 }, () => false, log);
}

test('what a drop may drop is in the log, synced, before the drop is let go on; dropped, it is due without another write', async () => {
  const log = new RecordingLog();
  const gc = gcWith(log);
  try {
    let open!: () => void;
    log.gate = new Promise<void>((resolve) => (open = resolve));
    let noted = false;
    const ahead = gc.referencesMayDrop(['b1', 'b2', 'b1']).then((end) => {
      noted = true;
      return end;
    });
    // Two turns of the event loop: the note waits for its write, however long that takes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(noted, false, 'the drop waits until the log holds what it may drop');
    open();
    log.gate = undefined;
    const end = await ahead;
    assert.deepEqual(log.writes, ['add synced b1,b2']);
    assert.equal(gc.status().candidates, 0, 'not a candidate before anything was dropped');

    end(true);
    assert.equal(gc.status().candidates, 2, 'dropped: both are candidates');
    assert.deepEqual((await gc.lookNow())?.deleted, []);
    await gc.stop();
    assert.deepEqual(log.writes, ['add synced b1,b2', 'remove b1,b2'], 'written once ahead, removed once settled');
    assert.equal(log.ids.size, 0);
  } finally {
    await gc.stop();
  }
});

test('a drop that dropped nothing takes its note back; a candidate noted otherwise stays', async () => {
  const log = new RecordingLog();
  const gc = gcWith(log);
  try {
    gc.referencesDropped(['stemmed']);
    const end = await gc.referencesMayDrop(['stemmed', 'kept']);
    end(false);
    await gc.stop();
    assert.deepEqual(log.writes, ['add stemmed', 'add synced kept,stemmed', 'remove kept']);
    assert.deepEqual([...log.ids].sort(), ['stemmed'], 'the stemmed blob is still a candidate');
  } finally {
    await gc.stop();
  }
});

test('a collection that settles a blob while a drop naming it is under way leaves it in the log for that drop', async () => {
  const log = new RecordingLog();
  // The collection finds everything still named (nothing deleted): it settles its candidates.
  const gc = gcWith(log);
  try {
    gc.referencesDropped(['shared']);
    const end = await gc.referencesMayDrop(['shared']);
    // The compaction has not dropped yet: the collection finds the blob named and settles it...
    assert.deepEqual((await gc.lookNow())?.deleted, []);
    assert.ok(log.ids.has('shared'), '...but the log keeps it: the drop under way counts on its note');
    // A crash here: the next start finds it. Without one, the drop ends and it is a candidate again.
    end(true);
    assert.equal(gc.status().candidates, 1);
    await gc.lookNow();
    await gc.stop();
    assert.equal(log.ids.size, 0, 'settled after the drop');
  } finally {
    await gc.stop();
  }
});

test('a log that fails to write lets the drop go on, and its candidates are noted after it', async () => {
  const log = new RecordingLog();
  let failing = true;
  const add = log.add.bind(log);
  log.add = async (ids, sync) => {
    if (failing) throw new Error('catalog failing');
    return add(ids, sync);
  };
  const gc = gcWith(log);
  try {
    const end = await gc.referencesMayDrop(['b']);
    failing = false;
    end(true);
    await gc.stop();
    assert.deepEqual(log.writes, ['add b'], 'noted after the drop, as the note ahead was not written');
  } finally {
    await gc.stop();
  }
});
