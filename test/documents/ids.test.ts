// Generated document ids: time-ordered, so ids made later, by this generator or by a new one (a
// restarted node), sort after every id made before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdGenerator } from '../../src/documents/index.ts';

test('a generator makes ids in CouchDB uuid form, each after the one before, whatever its clock says', () => {
  // The clock stands still, then goes back: ids still increase.
  const times = [1_000, 1_000, 1_000, 500, 2_000, 2_000];
  const gen = new IdGenerator(() => times.shift() ?? 0);
  const ids = Array.from({ length: 8 }, () => gen.next());
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/, 'CouchDB uuid form');
  assert.deepEqual(ids.filter((id, i) => i > 0 && id <= ids[i - 1]!), [], `every id after the one before: ${ids.join(' ')}`);
  assert.equal(ids[0]!.slice(0, 14), (1000).toString(16).padStart(14, '0'), 'the time leads');
  const real = new IdGenerator().next();
  assert.ok(Math.abs(Number.parseInt(real.slice(0, 14), 16) / 1000 - Date.now()) < 60_000, `microseconds since the epoch: ${real}`);
});

test('a generator made later (a restarted node) makes ids after those of an earlier one', () => {
  const ids: string[] = [];
  // Each generator stands for a process started a second after the previous one stopped, its
  // ids made faster than one a microsecond (so ahead of its clock).
  for (let g = 0; g < 20; g++) {
    const start = 1_700_000_000_000_000 + g * 1_000_000;
    const gen = new IdGenerator(() => start);
    for (let i = 0; i < 1000; i++) ids.push(gen.next());
  }
  assert.deepEqual(ids.filter((id, i) => i > 0 && id <= ids[i - 1]!), [], 'every id after the one before');
});

test('generators running side by side (two nodes, one clock) never make the same id', () => {
  const clock = () => 1_700_000_000_000_000;
  const a = new IdGenerator(clock);
  const b = new IdGenerator(clock);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    seen.add(a.next());
    seen.add(b.next());
  }
  assert.equal(seen.size, 10000, 'no id made twice');
});
