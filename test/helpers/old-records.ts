// Records as earlier versions stored them, written under a database through its store: the tree
// as the flat array [REV,PARENT,FLAGS,...] or, before it, the object {REV:[PARENT,FLAGS]}. Their
// encoders are kept here as those versions had them, for tests that such records still read and edit.

import type { Database } from '../../src/core.ts';
import { decodeMeta } from '../../src/documents/doc-record.ts';
import type { RevTree } from '../../src/documents/rev-tree.ts';

export type OldForm = 'flat' | 'object';

const flagsOf = (n: { deleted: boolean; available: boolean }) => (n.deleted ? 1 : 0) | (n.available ? 2 : 0);

function flatTree(tree: RevTree): string {
  let t = '';
  for (const [rev, n] of tree) t += (t === '' ? '"' : ',"') + rev + '",' + (n.parent === null ? 'null' : '"' + n.parent + '"') + ',' + flagsOf(n);
  return '[' + t + ']';
}

function objectTree(tree: RevTree): string {
  let t = '';
  for (const [rev, n] of tree) t += (t === '' ? '"' : ',"') + rev + '":[' + (n.parent === null ? 'null' : '"' + n.parent + '"') + ',' + flagsOf(n) + ']';
  return '{' + t + '}';
}

/** A stored record's value with its tree written in `form`, all else as it was. */
export function oldRecord(value: string, form: OldForm): string {
  const nl = value.indexOf('\n');
  const m = decodeMeta(value);
  const tree = form === 'flat' ? flatTree(m.tree) : objectTree(m.tree);
  return '{"r":"' + m.rev + '","d":' + (m.deleted ? 1 : 0) + ',"s":' + m.seq + ',"t":' + tree + '}' + (nl < 0 ? '' : value.slice(nl));
}

/** Rewrites every document record of `db` in `form`, once its writes are in storage. */
export async function rewriteRecords(db: Database, form: OldForm): Promise<void> {
  await db.info();
  const ops: Array<{ type: 'put'; key: string; value: string }> = [];
  for await (const chunk of db.core.store.scan({ gte: 'd!', lt: 'd"' }, 512)) {
    for (const [key, value] of chunk) ops.push({ type: 'put', key, value: oldRecord(value, form) });
  }
  if (ops.length > 0) await db.core.store.batch(ops);
}
