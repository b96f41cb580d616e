// Purge against an independent model: random revision trees (conflicts, tombstones, bodies kept or
// known by id only), random leaves purged. What remains is exactly the branches of the leaves kept,
// with CouchDB's winner, and every keyspace agrees; purging every leaf leaves no trace at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRefugeError, openCoreDatabase, type Database } from '../../src/core.ts';
import { decodeRecord } from '../../src/documents/doc-record.ts';
import { logicalEntries } from '../../src/documents/postings.ts';
import { encodeIndexValue, makeIndexKey } from '../../src/query/index.ts';
import { dump, traces } from '../helpers/store.ts';

interface Node {
  rev: string;
  parent: number | null;
  gen: number;
  deleted: boolean;
  /** Written with its body (otherwise known only as an ancestor in a leaf's history). */
  written: boolean;
}

const nodeSpec = fc.record({ parent: fc.nat(), deleted: fc.boolean(), written: fc.boolean(), purge: fc.boolean() });

/** Node i's parent is an earlier node or none (a new root: stemmed or independent histories). */
function buildTree(specs: ReadonlyArray<{ parent: number; deleted: boolean; written: boolean }>): Node[] {
  const nodes: Node[] = [];
  specs.forEach((s, i) => {
    const p = i === 0 ? -1 : (s.parent % (i + 1)) - 1;
    const parent = p < 0 ? null : p;
    const gen = parent === null ? 1 + (s.parent % 3) : nodes[parent]!.gen + 1;
    nodes.push({ rev: `${gen}-${(i + 1).toString(16).padStart(32, '0')}`, parent, gen, deleted: s.deleted, written: s.written });
  });
  return nodes;
}

const path = (nodes: Node[], i: number): number[] => {
  const out: number[] = [];
  for (let c: number | null = i; c !== null; c = nodes[c]!.parent) out.push(c);
  return out;
};
const body = (i: number) => ({ n: i, tag: `t${i % 3}` });

/** CouchDB's winner, written out independently of rev-tree.ts. */
function modelWinner(nodes: Node[], leafIdx: number[]): number {
  return [...leafIdx].sort((a, b) => {
    const x = nodes[a]!;
    const y = nodes[b]!;
    if (x.deleted !== y.deleted) return x.deleted ? 1 : -1;
    if (x.gen !== y.gen) return y.gen - x.gen;
    return x.rev < y.rev ? 1 : -1;
  })[0]!;
}

async function record(db: Database, id: string) {
  await db.info();
  const raw = await db.core.store.get(`d!${id}`);
  return raw === undefined ? undefined : decodeRecord(id, raw);
}

let n = 0;

test('purging random leaves of random trees leaves exactly the kept branches, in every keyspace', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(nodeSpec, { minLength: 1, maxLength: 9 }), fc.boolean(), fc.boolean(), async (specs, purgeAll, extraRevs) => {
      const db = await openCoreDatabase(`purge-prop-${n++}`);
      try {
        const nodes = buildTree(specs);
        const isLeaf = (i: number) => !nodes.some((m) => m.parent === i);
        const leafIdx = nodes.map((_, i) => i).filter(isLeaf);
        // Writes in index order: ancestors before descendants, each with its full history.
        for (const [i, node] of nodes.entries()) {
          if (!node.written && !isLeaf(i)) continue;
          const ids = path(nodes, i).map((k) => nodes[k]!.rev.slice(nodes[k]!.rev.indexOf('-') + 1));
          const deleted = isLeaf(i) && node.deleted;
          await db.bulkDocs([{ _id: 'x', _rev: node.rev, _revisions: { start: node.gen, ids }, ...(deleted ? { _deleted: true } : {}), ...body(i) }], { newEdits: false });
        }
        for (const leaf of leafIdx) nodes[leaf]!.written = true;
        // Leaves that were written deleted only count as deleted when they still are leaves.
        for (const [i, node] of nodes.entries()) if (!isLeaf(i)) node.deleted = false;
        const control = await db.put({ _id: 'y', tag: 't0' });
        await db.put({ _id: 'y', _rev: control.rev, tag: 't1' });

        const chosen = purgeAll ? leafIdx : leafIdx.filter((i) => specs[i]!.purge);
        const named = chosen.map((i) => nodes[i]!.rev);
        // Internal and unknown revisions in the request are ignored.
        if (extraRevs) named.push(...nodes.filter((_, i) => !isLeaf(i)).map((m) => m.rev), '99-' + 'e'.repeat(32));
        const res = await db.purge({ x: named });
        assert.deepEqual([...res.purged.x!].sort(), chosen.map((i) => nodes[i]!.rev).sort());

        const keptLeaves = leafIdx.filter((i) => !chosen.includes(i));
        const info = await db.info();
        if (keptLeaves.length === 0) {
          assert.deepEqual(await traces(db, 'x'), []);
          await assert.rejects(db.get('x'), (e: unknown) => isRefugeError(e, 'not_found'));
          assert.deepEqual((await db.changes()).results.map((r) => r.id), ['y']);
          assert.deepEqual((await db.allDocs()).rows.map((r) => r.id), ['y']);
          assert.deepEqual([info.docCount, info.docDelCount], [1, 0]);
          return;
        }
        const kept = new Set(keptLeaves.flatMap((i) => path(nodes, i)));
        const rec = (await record(db, 'x'))!;
        assert.deepEqual([...rec.tree.keys()].sort(), [...kept].map((i) => nodes[i]!.rev).sort());
        const win = modelWinner(nodes, keptLeaves);
        assert.equal(rec.rev, nodes[win]!.rev);
        assert.equal(rec.deleted, nodes[win]!.deleted);
        assert.deepEqual(rec.body, body(win));
        // One sequence entry, matching the record: the newest one when a leaf went (the doc moved).
        const all = await dump(db);
        const seqs = (all.s ?? []).filter(([, v]) => JSON.parse(v)[0] === 'x');
        assert.equal(seqs.length, 1);
        const entry = JSON.parse(seqs[0]![1]) as unknown[];
        assert.deepEqual(entry.slice(0, 3), ['x', rec.rev, rec.deleted ? 1 : 0]);
        // A fourth member says the tree is one run: never for a tree with more than one leaf.
        if (entry.length > 3) assert.deepEqual([entry[3], keptLeaves.length], [1, 1], 'only a tree of one leaf is marked one run');
        if (chosen.length > 0) assert.equal(rec.seq, info.updateSeq);
        else assert.ok(rec.seq < info.updateSeq);
        // Bodies under r!: exactly the kept revisions that have one, the winner's being in the record.
        const bodies = (all.r ?? []).filter(([k]) => k.startsWith('r!x\u0000')).map(([k]) => k.slice(4)).sort();
        assert.deepEqual(bodies, [...kept].filter((i) => i !== win && nodes[i]!.written).map((i) => nodes[i]!.rev).sort());
        const open = await db.getOpenRevs('x', 'all');
        assert.deepEqual(open.map((r) => ('ok' in r ? r.ok._rev : r.missing)).sort(), keptLeaves.map((i) => nodes[i]!.rev).sort());
        // Path index: the winner's entries, or none for a tombstone.
        const expected: string[] = [];
        if (!rec.deleted) db.core.indexEntries(body(win), (p, v) => expected.push(makeIndexKey(p, encodeIndexValue(v), 'x')));
        assert.deepEqual(logicalEntries(all.i ?? []).filter((k) => k.endsWith('\u0000x')).sort(), expected.sort());
        assert.deepEqual([info.docCount, info.docDelCount], rec.deleted ? [1, 1] : [2, 0]);
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: 150 },
  );
});
