// A Mango answer as its matches come, shared by every executor (the path index's, a json index's):
// matches read in the answer's order go out chunk by chunk, so a large `limit` is never held whole;
// of matches that must be sorted in memory, the page's (skip + limit first) are held, then given out
// the same way.

import { compareToSortKey, projectFields, sortComparator, sortKeyOf, type SortField, type SortKey } from '../query/index.ts';
import { encodeBookmark, type Bookmark, type IndexPlace, type PlaceKind } from './find-bookmark.ts';
import { TopK } from './top-k.ts';
import { findWarnings } from './find-warnings.ts';
import type { Doc } from './types.ts';

/** What a find answer says after its documents. */
export interface FindEnd {
  bookmark: string;
  warning?: string;
  executionStats?: {
    totalKeysExamined: number;
    totalDocsExamined: number;
    resultsReturned: number;
    executionTimeMs: number;
  };
}

/** A find answer read as it is given out (the HTTP `_find` streams it). */
export interface FindListing {
  /** The answer's documents, chunk by chunk, to be iterated once; a consumer that stops early calls close(). */
  readonly chunks: AsyncGenerator<Doc[], void, undefined>;
  /** The bookmark, warnings and statistics: final once the chunks ended. */
  end(): FindEnd;
  /** Ends the read and releases what it reads from (a snapshot, a view group); more calls do nothing. */
  close(): Promise<void>;
}

export interface FindResult extends FindEnd {
  docs: Doc[];
}

/** A listing read whole (the library's `find`), closed whatever happens. */
export async function collectFind(listing: FindListing): Promise<FindResult> {
  const docs: Doc[] = [];
  try {
    for await (const chunk of listing.chunks) for (const d of chunk) docs.push(d);
  } finally {
    await listing.close();
  }
  return { docs, ...listing.end() };
}

/** Documents given out at a time from matches sorted in memory. */
const SORTED_CHUNK = 256;

/** The parts of a parsed find that shape its page. */
export interface PageShape {
  sort: readonly SortField[];
  fields: string[] | undefined;
  skip: number;
  limit: number;
  bookmark: Bookmark;
}

/**
 * One find's page: passes over `skip` matches, keeps `limit`, projects `fields`, and remembers the
 * last document given for the bookmark. In the answer's order (`take`) nothing is held; sorted in
 * memory (`hold`, then `sorted`), the skip + limit first matches past the bookmark's are.
 */
export class FindPager {
  /** Matches met so far, those passed over included. */
  private matched = 0;
  private returned = 0;
  private lastPlace: IndexPlace | undefined;
  private lastDoc: Doc | undefined;
  private readonly held: TopK<Doc> | undefined;
  /** True for a match at or before the bookmark's row (sorted in memory). */
  private readonly before: ((doc: Doc) => boolean) | undefined;
  private readonly started = performance.now();
  private endedAt: number | undefined;

  constructor(
    private readonly shape: PageShape,
    /** The order matches come in: an index's (or documents by id), or undefined when sorted in memory. */
    private readonly placeKind: PlaceKind | undefined,
    /** Sorted in memory, the bookmark's row: the answer starts past it. */
    sortFrom?: SortKey,
  ) {
    if (placeKind !== undefined) return;
    this.held = new TopK<Doc>(shape.skip + shape.limit, sortComparator(shape.sort));
    if (sortFrom !== undefined) {
      const cmp = compareToSortKey(shape.sort);
      this.before = (doc) => cmp(doc, sortFrom) <= 0;
    }
  }

  /** Whether the read is to go on: in the answer's order, until the page is in hand. */
  get wantsMore(): boolean {
    return this.placeKind === undefined || this.matched < this.shape.skip + this.shape.limit;
  }

  /** A match read in the answer's order: the document to give (projected), or undefined when passed over. */
  take(doc: Doc, place: IndexPlace): Doc | undefined {
    if (++this.matched <= this.shape.skip) return undefined;
    this.returned++;
    this.lastPlace = place;
    return this.project(doc);
  }

  /** A match of an answer sorted in memory. */
  hold(doc: Doc): void {
    if (this.before?.(doc)) return;
    this.held!.add(doc);
  }

  /** The held matches sorted, then the page given out chunk by chunk. */
  *sorted(): Generator<Doc[], void, undefined> {
    const page = this.held!.take().slice(this.shape.skip);
    this.returned = page.length;
    this.lastDoc = page[page.length - 1];
    for (let i = 0; i < page.length; i += SORTED_CHUNK) yield page.slice(i, i + SORTED_CHUNK).map((d) => this.project(d));
  }

  /** Marks the read done (the time execution statistics count). */
  ended(): void {
    this.endedAt ??= performance.now();
  }

  /** The answer's end, once the read ended: `fullScan` and the counts decide CouchDB's warnings. */
  end(fullScan: boolean, keysExamined: number, docsExamined: number, withStats: boolean | undefined): FindEnd {
    const last =
      this.returned === 0
        ? undefined
        : this.placeKind === undefined
          ? { sort: sortKeyOf(this.shape.sort, this.lastDoc) }
          : { kind: this.placeKind, at: this.lastPlace! };
    const out: FindEnd = { bookmark: encodeBookmark(last, this.shape.bookmark) };
    const warning = findWarnings(fullScan, docsExamined, this.returned);
    if (warning) out.warning = warning;
    if (withStats) {
      out.executionStats = {
        totalKeysExamined: keysExamined,
        totalDocsExamined: docsExamined,
        resultsReturned: this.returned,
        executionTimeMs: (this.endedAt ?? performance.now()) - this.started,
      };
    }
    return out;
  }

  private project(doc: Doc): Doc {
    return this.shape.fields ? (projectFields(doc, this.shape.fields) as Doc) : doc;
  }
}
