// The path query API: index rows of one path (a value, a range, or any value there) streamed in
// value order straight from the path index, with their documents when asked.

import { RefugeError } from '../errors/index.ts';
import { decodeIndexValue, isIndexedPath, MAX_INDEXED_PATH, type IndexScan } from '../query/index.ts';
import type { KvReader } from '../storage/index.ts';
import { decodeHead, decodeRecord } from './doc-record.ts';
import { nonNegative } from './find.ts';
import { docKey } from './keys.ts';
import { scanRows, type Fragmented } from './posting-scan.ts';
import { buildDoc } from './reads.ts';
import type { Doc } from './types.ts';

export interface PathQuery {
  /** Index path, e.g. `exports/[]/city` (object keys joined by '/', array levels as `[]`). */
  path: string;
  eq?: unknown;
  gt?: unknown;
  gte?: unknown;
  lt?: unknown;
  lte?: unknown;
  /** Any value at the path (including arrays and objects), when no bound is given. */
  exists?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  includeDocs?: boolean;
}

export interface PathQueryRow {
  id: string;
  value: unknown;
  doc?: Doc;
}

function pathScan(q: PathQuery): IndexScan {
  if (q === null || typeof q !== 'object' || typeof q.path !== 'string' || q.path === '' || q.path.includes('\u0000')) {
    throw new RefugeError('bad_request', 'query needs a non-empty string `path`');
  }
  if (!isIndexedPath(q.path)) {
    throw new RefugeError('bad_request', `the path index holds paths of up to ${MAX_INDEXED_PATH} characters: query a longer one with find()`);
  }
  const bounds = (['gt', 'gte', 'lt', 'lte'] as const).filter((k) => q[k] !== undefined);
  for (const v of [q.eq, ...bounds.map((k) => q[k])]) {
    // JSON scalars only (a finite number): what the index holds can be compared with nothing else.
    const scalar = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (v !== undefined && !scalar) throw new RefugeError('bad_request', 'query bounds must be JSON scalars (null, booleans, finite numbers, strings)');
  }
  if (q.eq !== undefined) {
    if (bounds.length) throw new RefugeError('bad_request', 'eq cannot be combined with a range');
    return { kind: 'eq', path: q.path, values: [q.eq], elements: false };
  }
  if (bounds.length) {
    const scan: IndexScan = { kind: 'range', path: q.path };
    for (const k of bounds) scan[k] = q[k];
    return scan;
  }
  return { kind: 'exists', path: q.path };
}

/**
 * Checks a path query now (bad input throws here, not at the first `next()`) and returns the
 * reading, which streams index rows (one per matching entry) in value order, chunk by chunk, from
 * the reader it is given. The reader should be a snapshot: rows come from several reads.
 */
export function pathQuery(q: PathQuery, fragmented?: Fragmented): (reader: KvReader) => AsyncGenerator<PathQueryRow> {
  const scan = pathScan(q);
  const skip = nonNegative(q.skip, 0);
  const limit = nonNegative(q.limit, Infinity);
  return (reader) => streamPathQuery(reader, q, scan, skip, limit, fragmented);
}

async function* streamPathQuery(
  reader: KvReader,
  q: PathQuery,
  scan: IndexScan,
  skip: number,
  left: number,
  fragmented: Fragmented | undefined,
): AsyncGenerator<PathQueryRow> {
  if (left === 0) return;
  const stats = { keys: 0 };
  for await (const entries of scanRows(reader, scan, q.descending === true, stats, fragmented, 256, skip + left)) {
    let rows = entries.map(([, encodedValue, id]) => ({ id, value: decodeIndexValue(encodedValue) }) as PathQueryRow);
    if (skip > 0) {
      const n = Math.min(skip, rows.length);
      skip -= n;
      rows = rows.slice(n);
    }
    if (rows.length > left) rows = rows.slice(0, left);
    if (q.includeDocs && rows.length) {
      // Documents are read after their keys: one deleted in between is left out.
      const values = await reader.getMany(rows.map((r) => docKey(r.id)));
      rows = rows.filter((r, i) => {
        const raw = values[i];
        if (raw === undefined || decodeHead(raw).deleted) return false;
        const rec = decodeRecord(r.id, raw);
        r.doc = buildDoc(rec, rec.rev, rec.body, {});
        return true;
      });
    }
    for (const r of rows) yield r;
    left -= rows.length;
    if (left <= 0) return;
  }
}
