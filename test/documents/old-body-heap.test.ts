// The body an update keeps for the revision it supersedes is kept on its own: not as a slice of the
// record it was read from, which held that whole record (its tree, growing with every revision) for
// as long as the body is kept — until compaction in a memory store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWithGc } from '../helpers/gc-child.ts';

test('an update of a document edited over and over leaves the heap of its old body, not of its old record', async () => {
  const { perUpdate, revisions } = await runWithGc<{ perUpdate: number; revisions: number }>(new URL('../fixtures/hot-doc-heap.ts', import.meta.url));
  assert.equal(revisions, 401);
  // About 1.5 KB an update here (the body, its keys and the index's postings); each old record
  // kept whole made it grow with the history, ~10 KB an update over 400 of them.
  assert.ok(perUpdate < 4000, `an update left ${perUpdate.toFixed(0)} bytes of heap behind`);
});
