// Where a view group keeps its data inside a shared KvStore, every key under the group's prefix P:
//   P m                         -> meta JSON {seq, rows: [row count per view]}
//   P r<view>: <key> 00 <docid> [00 <n>]   -> JSON [key, value]   (n: 2nd, 3rd... equal emit of a doc)
//   P b <docid>                 -> the doc's rows: "<view>:<key>" entries joined by 00 (back-index)
// Encoded keys never contain 00 and doc ids cannot, so a row key parses back unambiguously and
// rows sort by (key in view collation, doc id bytes), CouchDB's order.

export const ROW_SEP = '\u0000';

export interface GroupMeta {
  seq: number;
  /** Rows per view, in the group's view order. */
  rows: number[];
  /** The database recount the group was last rebuilt after (Indexer.rebuiltFor); absent for none. */
  rebuiltFor?: number;
}

export class GroupLayout {
  readonly metaKey: string;
  private readonly backPrefix: string;

  constructor(readonly prefix: string) {
    this.metaKey = prefix + 'm';
    this.backPrefix = prefix + 'b';
  }

  /** The part of a row key shared by every row of `view` (ends in ASCII ':'). */
  viewPrefix(view: number): string {
    return `${this.prefix}r${view}:`;
  }

  /** A back-index entry: the view number and the encoded key. */
  entry(view: number, enc: string): string {
    return `${view}:${enc}`;
  }

  /** Row key of an entry for `docId`; `dup` numbers equal entries of one document. */
  rowKeyOfEntry(entry: string, docId: string, dup: number): string {
    return `${this.prefix}r${entry}${ROW_SEP}${docId}${dup > 0 ? ROW_SEP + dupChar(dup) : ''}`;
  }

  backKey(docId: string): string {
    return this.backPrefix + docId;
  }

  /** The whole group: what cleanup deletes. */
  range(): { gte: string; lt: string } {
    return { gte: this.prefix, lt: this.prefix.slice(0, -1) + String.fromCharCode(this.prefix.charCodeAt(this.prefix.length - 1) + 1) };
  }
}

// One code point per repeat number, ascending, never a surrogate.
const dupChar = (n: number): string => String.fromCodePoint(n + 0x30 < 0xd800 ? n + 0x30 : n + 0x830);

/** Row keys for the entries of one document, numbering repeats of an entry so none collide. */
export function rowKeysOf(layout: GroupLayout, entries: readonly string[], docId: string): string[] {
  const seen = new Map<string, number>();
  return entries.map((e) => {
    const n = seen.get(e) ?? 0;
    seen.set(e, n + 1);
    return layout.rowKeyOfEntry(e, docId, n);
  });
}

/** Splits a row key (without the view prefix) into its encoded key and doc id. */
export function parseRowSuffix(suffix: string): { enc: string; id: string } {
  const a = suffix.indexOf(ROW_SEP);
  const b = suffix.indexOf(ROW_SEP, a + 1);
  return { enc: suffix.slice(0, a), id: b < 0 ? suffix.slice(a + 1) : suffix.slice(a + 1, b) };
}

/** The view number of a back-index entry. */
export function entryView(entry: string): number {
  return Number.parseInt(entry, 10);
}
