// The stored record of one document: metadata (revision tree, winner, sequence) and the winning
// body, as `<meta json>\n<body json>` so listings that need no body never parse it.

import type { Rev, RevTree } from './rev-tree.ts';
import { decodeTree } from './rev-tree.ts';
import type { JsonObject } from './types.ts';

export interface DocRecord {
  id: string;
  tree: RevTree;
  /** Winning leaf. */
  rev: Rev;
  deleted: boolean;
  seq: number;
  /** Body of the winning revision, without special fields. */
  body: JsonObject;
}

export interface DocMeta {
  tree: RevTree;
  rev: Rev;
  deleted: boolean;
  seq: number;
}

/**
 * Built by hand rather than through JSON.stringify of an intermediate object: this runs once per
 * written document. Safe because revision ids are validated `N-<hex>` strings (no escaping needed).
 */
export function encodeRecord(rec: DocRecord): string {
  let t = '';
  for (const rev in rec.tree) {
    const n = rec.tree[rev]!;
    const flags = (n.deleted ? 1 : 0) | (n.available ? 2 : 0);
    t += (t === '' ? '"' : ',"') + rev + '":[' + (n.parent === null ? 'null' : '"' + n.parent + '"') + ',' + flags + ']';
  }
  return '{"t":{' + t + '},"r":"' + rec.rev + '","d":' + (rec.deleted ? 1 : 0) + ',"s":' + rec.seq + '}\n' + JSON.stringify(rec.body);
}

export function decodeMeta(value: string): DocMeta {
  const nl = value.indexOf('\n');
  const m = JSON.parse(nl < 0 ? value : value.slice(0, nl));
  return { tree: decodeTree(m.t), rev: m.r, deleted: m.d === 1, seq: m.s };
}

/** Winner rev, deleted flag and seq without decoding the tree. */
export function decodeHead(value: string): { rev: Rev; deleted: boolean; seq: number } {
  const nl = value.indexOf('\n');
  const m = JSON.parse(nl < 0 ? value : value.slice(0, nl));
  return { rev: m.r, deleted: m.d === 1, seq: m.s };
}

export function decodeBody(value: string): JsonObject {
  const nl = value.indexOf('\n');
  return nl < 0 ? {} : JSON.parse(value.slice(nl + 1));
}

export function decodeRecord(id: string, value: string): DocRecord {
  return { id, ...decodeMeta(value), body: decodeBody(value) };
}
