// How a record stores its revision tree: as CouchDB's paths, runs of revisions each the parent of
// the next, written once each; and every older stored form, still read.

import { revGeneration, type Rev, type RevNode, type RevTree } from './rev-tree.ts';

/*
 * A run is `[GEN,PARENT,"FLAGS","HASH",...]`: its i-th revision is `${GEN + i}-${HASH_i}`, whose
 * parent is the revision before it, PARENT (null or any rev, held or not) for the first; FLAGS
 * holds a digit per revision (bit 0 deleted, bit 1 body available). A tree that is one run is
 * stored as that run, any other as the list of its runs: `[[...],[...]]`, `[]` when empty.
 * Older records hold the flat `["REV",PARENT,FLAGS,...]` (each rev written twice, as itself and
 * as its child's parent: ~80 bytes a revision, ~36 in a run) or a rev -> [parent, flags] object.
 * Runs follow the tree's own order, so a tree read back iterates as it was written.
 */

/** A stored tree in any of its forms, as JSON.parse gives it. */
export type StoredTree = Array<unknown> | Record<Rev, [Rev | null, number]>;

/** Where a revision's generation ends (its `-`), or -1 unless it is written as runs rebuild it. */
function genEnd(rev: Rev): number {
  const first = rev.charCodeAt(0);
  if (first < 49 || first > 57) return -1;
  for (let i = 1; i < 16; i++) {
    const c = rev.charCodeAt(i);
    if (c === 45 /* - */) return i;
    if (c < 48 || c > 57) return -1;
  }
  return -1;
}

const flagOf = (n: RevNode): number => (n.deleted ? 1 : 0) | (n.available ? 2 : 0);

/** The tree's stored text, in runs. */
export function encodeTreeText(tree: RevTree): string {
  let runs = '';
  let count = 0;
  let head = '';
  let flags = '';
  let hashes = '';
  let prev: Rev | null = null;
  let prevGen = 0;
  for (const [rev, node] of tree) {
    const dash = genEnd(rev);
    // Revisions are validated `N-hash` (N without leading zeros): anything else, which no run can
    // spell back, keeps the flat form.
    if (dash < 0) return encodeFlatText(tree);
    const gen = revGeneration(rev);
    if (node.parent === prev && prev !== null && gen === prevGen + 1) {
      flags += flagOf(node);
    } else {
      if (prev !== null) {
        runs += (count++ === 0 ? '' : ',') + head + flags + '"' + hashes + ']';
      }
      head = '[' + gen + ',' + (node.parent === null ? 'null' : '"' + node.parent + '"') + ',"';
      flags = '' + flagOf(node);
      hashes = '';
    }
    hashes += ',"' + rev.slice(dash + 1) + '"';
    prev = rev;
    prevGen = gen;
  }
  if (prev === null) return '[]';
  const last = head + flags + '"' + hashes + ']';
  return count === 0 ? last : '[' + runs + ',' + last + ']';
}

/** The flat form `["REV",PARENT,FLAGS,...]` records were written in before runs. */
export function encodeFlatText(tree: RevTree): string {
  let t = '';
  for (const [rev, n] of tree) {
    t += (t === '' ? '"' : ',"') + rev + '",' + (n.parent === null ? 'null' : '"' + n.parent + '"') + ',' + flagOf(n);
  }
  return '[' + t + ']';
}

/** A stored tree in any of its forms, parsed: runs, the flat array, or the older object. */
export function decodeTree(data: StoredTree): RevTree {
  const out: RevTree = new Map();
  if (!Array.isArray(data)) {
    for (const rev in data) {
      const [parent, flags] = data[rev]!;
      out.set(rev, node(parent, flags));
    }
  } else if (typeof data[0] === 'number') addRun(out, data);
  else if (Array.isArray(data[0])) for (const run of data) addRun(out, run as unknown[]);
  else {
    for (let i = 0; i + 2 < data.length; i += 3) out.set(data[i] as Rev, node(data[i + 1] as Rev | null, data[i + 2] as number));
  }
  return out;
}

function node(parent: Rev | null, flags: number): RevNode {
  return { parent, deleted: (flags & 1) !== 0, available: (flags & 2) !== 0 };
}

function addRun(out: RevTree, run: readonly unknown[]): void {
  const gen = run[0] as number;
  const flags = run[2] as string;
  let parent = run[1] as Rev | null;
  for (let i = 3; i < run.length; i++) {
    const rev = gen + i - 3 + '-' + (run[i] as string);
    out.set(rev, node(parent, flags.charCodeAt(i - 3) - 48));
    parent = rev;
  }
}

/**
 * A stored tree's text, in any of its forms. Through JSON.parse: reading runs by hand measured no
 * faster, building the map of revisions is most of the time either way.
 */
export function decodeTreeText(text: string): RevTree {
  return decodeTree(JSON.parse(text) as StoredTree);
}
