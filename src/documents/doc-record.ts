// The stored record of one document: metadata (winner, sequence, revision tree) and the winning
// body, as `{"r":REV,"d":0|1,"s":SEQ,"t":TREE}\n<body json>` (TREE: rev-tree-codec.ts). The fixed head
// lets listings read the winner without parsing the tree, and the body is parsed only when a document is built.

import type { Rev, RevTree } from './rev-tree.ts';
import { revGeneration } from './rev-tree.ts';
import { decodeTree, decodeTreeText, encodeTreeText } from './rev-tree-codec.ts';
import { lineStart } from './rev-line.ts';
import type { JsonObject } from './types.ts';

/**
 * A document's record. Read for a write, its tree is kept as stored text and built only when
 * asked for: an edit that extends a line of revisions (rev-line.ts) rewrites the text instead,
 * and for a history of 1000 revisions building the tree was most of the edit's time.
 */
export class DocRecord {
  private built: RevTree | undefined;

  constructor(
    readonly id: string,
    tree: RevTree | undefined,
    /** The tree's stored text when at hand (encodeTreeText's, or an older form): one of the two is given. */
    readonly treeText: string | undefined,
    /** Winning leaf. */
    readonly rev: Rev,
    readonly deleted: boolean,
    readonly seq: number,
    /** Body of the winning revision, without special fields. */
    readonly body: JsonObject,
    /** `body` as stored (JSON.stringify of it), when known: kept when a record is read to be rewritten. */
    readonly bodyJson: string | undefined,
  ) {
    this.built = tree;
  }

  get tree(): RevTree {
    return (this.built ??= decodeTreeText(this.treeText!));
  }

  /** Whether the tree holds `rev`: known without building it when it is older than a stored line. */
  holds(rev: Rev): boolean {
    if (this.built === undefined && this.treeText !== undefined && revGeneration(rev) < lineStart(this.treeText)) return false;
    return this.tree.has(rev);
  }
}

export interface DocMeta {
  tree: RevTree;
  rev: Rev;
  deleted: boolean;
  seq: number;
}

/** What encodeRecord writes: a record, or its fields (the tree as text when it is at hand). */
export interface RecordFields extends DocMeta {
  treeText?: string | undefined;
  body: JsonObject;
}

/**
 * Built by hand rather than through JSON.stringify of an intermediate object: this runs once per
 * written document. Safe because revision ids are validated `N-<hex>` strings (no escaping needed).
 */
export function encodeRecord(rec: RecordFields): string {
  return encodeHead(rec) + '\n' + JSON.stringify(rec.body);
}

/** The record with `meta` in place of its head, its body's text kept as it is (compaction). */
export function replaceHead(value: string, meta: DocMeta): string {
  const nl = value.indexOf('\n');
  return encodeHead(meta) + (nl < 0 ? '\n{}' : value.slice(nl));
}

function encodeHead(rec: DocMeta & { treeText?: string | undefined }): string {
  return '{"r":"' + rec.rev + '","d":' + (rec.deleted ? 1 : 0) + ',"s":' + rec.seq + ',"t":' + (rec.treeText ?? encodeTreeText(rec.tree)) + '}';
}

export function decodeMeta(value: string): DocMeta {
  const nl = value.indexOf('\n');
  const m = JSON.parse(nl < 0 ? value : value.slice(0, nl));
  return { tree: decodeTree(m.t), rev: m.r, deleted: m.d === 1, seq: m.s };
}

/** Winner rev, deleted flag and seq, read from the fixed head without any JSON parsing. */
export function decodeHead(value: string): { rev: Rev; deleted: boolean; seq: number } {
  // {"r":"<rev>","d":<0|1>,"s":<seq>,"t":...   (revs never contain a quote)
  const revEnd = value.indexOf('"', 6);
  const seqStart = revEnd + 12;
  return {
    // Parsed, not sliced: a slice would be a view that keeps the whole record string alive for as
    // long as the rev is held (every row of a listing would pin its record).
    rev: JSON.parse(value.slice(5, revEnd + 1)) as Rev,
    deleted: value.charCodeAt(revEnd + 6) === 49 /* 1 */,
    seq: Number(value.slice(seqStart, value.indexOf(',', seqStart))),
  };
}

/**
 * The winning document `{_id, _rev, ...body}` in one JSON.parse of the stored body with the two
 * fields spliced in front: no intermediate object to copy. Bodies never hold `_id` or `_rev`.
 */
export function decodeWinnerDoc(id: string, rev: Rev, value: string): JsonObject {
  return JSON.parse(winnerDocJson(id, rev, value));
}

/**
 * decodeWinnerDoc's document as text, without parsing it: the stored body is JSON.stringify's own
 * text, so this is the same document, with `_id` and `_rev` first as CouchDB writes them (a
 * JSON.stringify of the parsed document puts integer-like keys before them).
 */
export function winnerDocJson(id: string, rev: Rev, value: string): string {
  const nl = value.indexOf('\n');
  const head = '{"_id":' + JSON.stringify(id) + ',"_rev":"' + rev + '"';
  if (nl < 0 || value.length - nl <= 3) return head + '}';
  return head + ',' + value.slice(nl + 2);
}

export function decodeBody(value: string): JsonObject {
  const nl = value.indexOf('\n');
  return nl < 0 ? {} : JSON.parse(value.slice(nl + 1));
}

export function decodeRecord(id: string, value: string): DocRecord {
  return decodeWhole(id, value, false);
}

/**
 * The winner's body as stored, in a string of its own: the old winner's `r!` value when an update
 * supersedes it. `bodyJson` is a slice of the record read, and a slice keeps the whole record (its
 * tree too, which grows with every revision) alive while the body is kept: in a memory store until
 * compaction (10.9 KB of heap an update of a document edited 500 times, 1.4 KB now), in LevelDB's
 * unflushed writes until they are written.
 */
export function oldBodyJson(record: DocRecord): string {
  // Prepending a character and slicing it off again copies the characters out of the record.
  return record.bodyJson === undefined ? JSON.stringify(record.body) : (' ' + record.bodyJson).slice(1);
}

/**
 * A record read to be rewritten: it keeps its body's stored text, which becomes the old winner's
 * `r!` body when an update supersedes it, instead of serializing the parsed body again.
 */
export function decodeRecordForWrite(id: string, value: string): DocRecord {
  return decodeWhole(id, value, true);
}

function decodeWhole(id: string, value: string, keepJson: boolean): DocRecord {
  const nl = value.indexOf('\n');
  const json = nl < 0 ? undefined : value.slice(nl + 1);
  const body = json === undefined ? {} : JSON.parse(json);
  // A record read to be rewritten lives as long as its write group, which keeps its body's text
  // anyway: its head may be read by hand, in slices of it, and its tree kept as text.
  const head = keepJson ? headByHand(value, nl < 0 ? value.length : nl) : undefined;
  if (head !== undefined) return new DocRecord(id, undefined, head.treeText, head.rev, head.deleted, head.seq, body, json);
  const meta = decodeMeta(value);
  return new DocRecord(id, meta.tree, undefined, meta.rev, meta.deleted, meta.seq, body, keepJson ? json : undefined);
}

/**
 * Whether a stored record's tree is a single run of revisions, so its one leaf is the winner: told
 * from the head as written, without parsing the tree (false for any other layout).
 */
export function singleLeaf(value: string): boolean {
  const nl = value.indexOf('\n');
  const head = headByHand(value, nl < 0 ? value.length : nl);
  return head !== undefined && lineStart(head.treeText) > 0;
}

/**
 * The head as encodeHead writes it, `{"r":REV,"d":0|1,"s":SEQ,"t":TREE}` ending at `end`, read
 * without JSON.parse, its tree left as text: an edit that extends a line never builds it. Revs
 * are written without escapes, since they hold no quotes, backslashes or control characters.
 * Undefined for any other layout, which JSON.parse then reads.
 */
function headByHand(value: string, end: number): { rev: Rev; deleted: boolean; seq: number; treeText: string } | undefined {
  if (!value.startsWith('{"r":"')) return undefined;
  const revEnd = value.indexOf('"', 6);
  if (revEnd < 0 || !value.startsWith('","d":', revEnd) || !value.startsWith(',"s":', revEnd + 7)) return undefined;
  const d = value.charCodeAt(revEnd + 6);
  const seqStart = revEnd + 12;
  const seqEnd = value.indexOf(',', seqStart);
  if ((d !== 48 && d !== 49) || seqEnd < 0 || !value.startsWith(',"t":[', seqEnd)) return undefined;
  const seq = Number(value.slice(seqStart, seqEnd));
  if (!Number.isSafeInteger(seq) || value.charCodeAt(end - 1) !== 125 /* } */ || value.charCodeAt(end - 2) !== 93 /* ] */) return undefined;
  return { rev: value.slice(6, revEnd), deleted: d === 49, seq, treeText: value.slice(seqEnd + 5, end - 1) };
}
