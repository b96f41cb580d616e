// An edit that extends the only leaf of a tree stored as a single run (a document edited over and
// over: a counter, a config, a presence), made on the stored text: no tree is built, stemmed or
// encoded again, which for a history at revs_limit (1000) was most of an edit's time. A new
// document's one-revision line is written as text the same way.

import { revGeneration, type Rev } from './rev-tree.ts';

export interface LineEdit {
  /** The tree's text once extended and stemmed. */
  text: string;
  /** The extended tree's text before stemming, when stemming dropped revisions. */
  grown: string | undefined;
  /** Revisions stemming dropped, the extended leaf aside, whose bodies were kept. */
  stemmedBodies: Rev[];
  /** Whether the extended leaf had a body kept, and whether stemming kept the leaf itself. */
  leafAvailable: boolean;
  leafKept: boolean;
}

/** The text of a new document's tree: its one revision, `rev` (generation 1), with a body. */
export function newLine(rev: Rev, deleted: boolean): string {
  return '[1,null,"' + (deleted ? '3' : '2') + '","' + rev.slice(rev.indexOf('-') + 1) + '"]';
}

/** The generation a tree's text starts at when it is a single run (rev-tree-codec.ts), else 0. */
export function lineStart(text: string): number {
  if (text.charCodeAt(0) !== 91 /* [ */) return 0;
  let gen = 0;
  let i = 1;
  for (let d = text.charCodeAt(i) - 48; d >= 0 && d <= 9 && i < 16; d = text.charCodeAt(++i) - 48) gen = gen * 10 + d;
  return text.charCodeAt(i) === 44 /* , */ ? gen : 0;
}

/**
 * The tree stored as `text` with `rev` (a child of `leaf`, deleted or not) added and stemmed to
 * `limit` revisions as stem() does a line: its newest ones. Undefined unless `text` is a single
 * run ending at `leaf`, and `rev` one generation above it.
 */
export function extendLine(text: string, leaf: Rev, rev: Rev, deleted: boolean, limit: number): LineEdit | undefined {
  const gen = lineStart(text);
  if (gen === 0 || !(limit >= 1)) return undefined;
  let j = text.indexOf(',') + 1;
  if (text.startsWith('null', j)) j += 4;
  else {
    // The first revision's parent is a generation below it, so it is none of the run's.
    if (text.charCodeAt(j) !== 34 /* " */ || revGeneration(text.slice(j + 1, j + 17)) !== gen - 1) return undefined;
    j = text.indexOf('"', j + 1) + 1;
    if (j === 0) return undefined;
  }
  if (!text.startsWith(',"', j)) return undefined;
  const flagsStart = j + 2;
  const flagsEnd = text.indexOf('"', flagsStart);
  const count = flagsEnd - flagsStart;
  const end = text.length;
  // The last hash, between the last two quotes: hashes hold none.
  const lastOpen = text.lastIndexOf('"', end - 3);
  if (count < 1 || lastOpen <= flagsEnd || text.charCodeAt(end - 1) !== 93 || text.charCodeAt(end - 2) !== 34) return undefined;
  const leafGen = gen + count - 1;
  if (revGeneration(leaf) !== leafGen || revGeneration(rev) !== leafGen + 1) return undefined;
  if (leaf.slice(leaf.indexOf('-') + 1) !== text.slice(lastOpen + 1, end - 2)) return undefined;
  const hash = rev.slice(rev.indexOf('-') + 1);
  const flag = deleted ? '3' : '2';
  const leafAvailable = ((text.charCodeAt(flagsEnd - 1) - 48) & 2) !== 0;
  const drop = count + 1 - limit;
  const grown = text.slice(0, flagsEnd) + flag + text.slice(flagsEnd, end - 1) + ',"' + hash + '"]';
  if (drop <= 0) return { text: grown, grown: undefined, stemmedBodies: [], leafAvailable, leafKept: true };
  // Stemming keeps the `limit` newest: the first `drop` go, the last of them named as parent.
  const stemmedBodies: Rev[] = [];
  let p = flagsEnd + 1;
  let parent = '';
  for (let k = 0; k < drop; k++) {
    const close = text.indexOf('"', p + 2);
    parent = gen + k + '-' + text.slice(p + 2, close);
    if (((text.charCodeAt(flagsStart + k) - 48) & 2) !== 0 && k < count - 1) stemmedBodies.push(parent);
    p = close + 1;
  }
  const stemmed = '[' + (gen + drop) + ',"' + parent + '","' + text.slice(flagsStart + drop, flagsEnd) + flag + '"' + text.slice(p, end - 1) + ',"' + hash + '"]';
  return { text: stemmed, grown, stemmedBodies, leafAvailable, leafKept: drop < count };
}
