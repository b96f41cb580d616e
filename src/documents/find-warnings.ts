// The warnings CouchDB's `_find` gives beside its answer, shared by every executor (the path index's,
// a json index's): what they say and when, in CouchDB's words.

/** CouchDB's default `[mango] index_scan_warning_threshold`: documents examined per result returned. */
const SCAN_RATIO = 10;

/**
 * The warnings of a find, one a line as CouchDB joins them (mango_cursor:maybe_add_warning): no
 * index served it (a full scan), and it examined more than ten documents per result returned (or,
 * returning none, more than ten).
 */
export function findWarnings(fullScan: boolean, examined: number, returned: number): string | undefined {
  const out: string[] = [];
  if (fullScan) out.push('No matching index found, create an index to optimize query time.');
  if ((returned === 0 ? examined : examined / returned) > SCAN_RATIO) {
    out.push('The number of documents examined is high in proportion to the number of results returned. Consider adding a more specific index to improve this.');
  }
  return out.length > 0 ? out.join('\n') : undefined;
}
