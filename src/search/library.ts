// The full-text library behind SearchIndex, and how documents are laid out in it.
//
// Chosen by measurement (bench/search.ts reproduces it; Node 20, 100,000 texts of 6-13 words drawn
// Zipf-like from 5,000 words, 2,000 mixed queries: one term, two terms, a 4-letter prefix):
//                        index 100k      heap    replace 20k   query (top 25 + total)       save
//   MiniSearch 7.2.0     1.14 s          106 MB  0.35 s        275 q/s, p50 1.1 ms, p99 33 ms 0.39 s / 12.5 MB
//   FlexSearch 0.8.212   0.90 s          60 MB   114 s (*)     9,250 q/s, p50 7 us, p99 1.4 ms 0.04 s / 6.3 MB
//     tokenize:'forward' 3.39-4.0 s      183 MB  2.2 s (**)    6,640 q/s (prefix only works this way)
//   (*) without `fastupdate`; 0.19 s with it. (**) with `fastupdate`.
// FlexSearch answers far faster, but it does not score (no BM25: no `order: [score]` to give), does
// not count all matches, needs the 'forward' tokenizer for prefix queries (3.5x slower indexing,
// 2x memory, 10x slower updates), and has no boolean query tree. MiniSearch gives BM25 scores,
// prefix and fuzzy search on its radix tree at no indexing cost, AND/OR/AND_NOT trees, exact
// totals, cheap replace/discard and a JSON snapshot: the better fit; its cost is common-term
// queries that score every match (the p99 above).
//
// Index functions name fields at run time, but a MiniSearch index declares its fields up front: each
// term is therefore indexed as "field<US>term" in one library field, so `title:foo*` is a prefix
// search on "title<US>foo" and per-field statistics still hold (document frequency is per key).
import MiniSearch, { type Options } from 'minisearch';
import { valueText, type FieldAnalyzers } from './analyzers.ts';
import { FIELD_SEP, TOKEN_SEP, type StoredDoc } from './query-compile.ts';
import type { FieldEntry } from './types.ts';

export interface LibraryRecord extends StoredDoc {
  id: string;
  /** Every key of the document (handed to the library as is: no join and split again). */
  x: string[];
}

const identity = (t: string): string => t;

const OPTIONS: Options<LibraryRecord> = {
  fields: ['x'],
  storeFields: ['s', 't', 'n'],
  idField: 'id',
  extractField: (doc, field) => (doc as unknown as Record<string, unknown>)[field] as string,
  stringifyField: (value) => value,
  tokenize: (keys) => keys as unknown as string[],
  processTerm: identity,
  // Documents are removed exactly (removeDocument), never discarded: nothing to vacuum.
  autoVacuum: false,
  // Query leaves are already keys: no further analysis.
  searchOptions: { tokenize: (q) => [q], processTerm: identity, combineWith: 'AND' },
};

export type Library = MiniSearch<LibraryRecord>;

export const createLibrary = (): Library => new MiniSearch<LibraryRecord>(OPTIONS);

export const loadLibrary = (js: unknown): Library => MiniSearch.loadJS(js as never, OPTIONS);

const truthy = (v: unknown): boolean => v === true || v === 'yes';
const falsy = (v: unknown): boolean => v === false || v === 'no';

/**
 * The library record of one document's field entries, or null when nothing is indexed or stored.
 * A field given several values keeps each value's tokens apart, so a phrase cannot span two values.
 */
export function toRecord(id: string, entries: readonly FieldEntry[], analyzers: FieldAnalyzers): LibraryRecord | null {
  const keys: string[] = [];
  let stored: Record<string, unknown> | undefined;
  let texts: Record<string, string[]> | undefined;
  let numbers: Record<string, number> | undefined;
  for (const entry of entries) {
    const [field, value, options] = entry;
    if (typeof field !== 'string' || field === '' || field.includes(FIELD_SEP)) continue;
    const text = valueText(value);
    if (text === undefined) continue;
    if (truthy(options?.store)) {
      // Prototype-less: a field may be named `constructor` or `toString`, like any JSON key.
      stored ??= Object.create(null) as Record<string, unknown>;
      const prev = stored[field];
      stored[field] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    if (falsy(options?.index)) continue;
    const tokens = analyzers(field)(text);
    if (tokens.length === 0) continue;
    for (const t of tokens) keys.push(field + FIELD_SEP + t);
    texts ??= Object.create(null) as Record<string, string[]>;
    (texts[field] ??= []).push(tokens.join(TOKEN_SEP));
    // A number sorts as itself: its analyzed text has lost its sign and splits an exponent.
    if (typeof value === 'number' && Number.isFinite(value)) {
      numbers ??= Object.create(null) as Record<string, number>;
      if (!Object.hasOwn(numbers, field)) numbers[field] = value;
    }
  }
  if (keys.length === 0 && !stored) return null;
  return { id, x: keys, ...(stored ? { s: stored } : {}), ...(texts ? { t: texts } : {}), ...(numbers ? { n: numbers } : {}) };
}

/**
 * Removes a document's terms from the library now. The keys are rebuilt from the token text kept
 * for phrases (the same tokens toRecord indexed), so no stale postings are left behind: MiniSearch's
 * discard would leave them until a vacuum, and its scoring counts them while they are there, which
 * would shift scores between two pages of a query and break bookmarks.
 */
export function removeDocument(library: Library, id: string): void {
  const stored = library.getStoredFields(id) as StoredDoc | undefined;
  if (stored === undefined) return;
  const keys: string[] = [];
  for (const [field, values] of Object.entries(stored.t ?? {})) {
    for (const v of values) for (const t of v.split(TOKEN_SEP)) keys.push(field + FIELD_SEP + t);
  }
  library.remove({ id, x: keys });
}
