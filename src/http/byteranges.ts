// Several byte ranges of an attachment in one answer, as CouchDB serves them (chttpd_db's
// parse_ranges and send_ranges_multipart): a 206 `multipart/byteranges`, one part per range, in
// the order asked. One range keeps the rules of blob-range.ts.

import { rangeNotSatisfiable } from '../blobs/errors.ts';
import type { BlobRead, ByteRange } from '../blobs/index.ts';
import { newBoundary } from './multipart.ts';

/** CouchDB answers fewer than 10 ranges in parts; more, with the whole attachment. */
const MAX_PARTS = 9;
const SPEC = /^(\d*)-(\d*)$/;

/**
 * The ranges of a `bytes=` header naming two to nine, resolved against `size` as CouchDB resolves
 * them; undefined for any other header (one range, more, bad syntax, or a `0-` among them: each
 * is the whole attachment to CouchDB), which the single-range rules then judge. A range that
 * ends before it starts is a 416; one that starts past the end is left out (RFC 9110), a 416
 * when none is left. The list may hold a single range then.
 */
export function planRanges(header: string | undefined, size: number): Array<Required<ByteRange>> | undefined {
  const m = header === undefined ? null : /^bytes=(.*)$/is.exec(header);
  if (!m) return undefined;
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length < 2 || specs.length > MAX_PARTS) return undefined;
  const parsed = specs.map((s) => SPEC.exec(s));
  if (parsed.some((p) => p === null || (p[1] === '' && p[2] === ''))) return undefined;
  const ranges: Array<Required<ByteRange>> = [];
  for (const [, first = '', last = ''] of parsed as RegExpExecArray[]) {
    if (first !== '' && last === '' && Number(first) === 0) return undefined;
    if (first !== '' && last !== '' && Number(last) < Number(first)) throw unsatisfiable(header!, size);
    // Numbers past 2^53 lose precision, but only where they are past any attachment's end anyway.
    const start = first === '' ? Math.max(0, size - Number(last)) : Number(first);
    const end = first === '' || last === '' ? size : Math.min(Number(last) + 1, size);
    if (start < end) ranges.push({ start, end });
  }
  if (ranges.length === 0) throw unsatisfiable(header!, size);
  return ranges;
}

/**
 * A Range header resolved against `size` bytes: two to nine ranges as `parts` (planRanges), else
 * what `single` makes of it (one range, or the whole). Throws a 416 as either does.
 */
export function planSomeRanges(
  header: string | undefined,
  size: number,
  single: (header: string | undefined, size: number) => { range?: Required<ByteRange> },
): { range?: Required<ByteRange>; parts?: Array<Required<ByteRange>> } {
  const many = planRanges(header, size);
  if (many === undefined) return single(header, size);
  return many.length === 1 ? { range: many[0]! } : { parts: many };
}

function unsatisfiable(header: string, size: number): Error {
  return rangeNotSatisfiable(`ranges ${JSON.stringify(header.slice(0, 100))} select no byte of the ${size}-byte attachment`);
}

export interface Byteranges {
  contentType: string;
  /** The body's length in bytes, known before a byte is read. */
  length: number;
  body: AsyncGenerator<Uint8Array>;
}

/**
 * The multipart body: CouchDB's framing (`--B`, each part's headers and bytes, `\r\n--B`, then a
 * closing `--`). Each range is read from `read` only when its turn comes, so a client gone mid-way
 * leaves the rest unopened.
 */
export function byteranges(ranges: ReadonlyArray<Required<ByteRange>>, size: number, partType: string, read: (range: Required<ByteRange>) => Promise<BlobRead>): Byteranges {
  const boundary = newBoundary();
  const heads = ranges.map((r) => Buffer.from(`\r\nContent-Type: ${partType}\r\nContent-Range: bytes ${r.start}-${r.end - 1}/${size}\r\n\r\n`));
  const separator = Buffer.from(`\r\n--${boundary}`);
  const length = boundary.length + 2 + ranges.reduce((n, r, i) => n + heads[i]!.length + (r.end - r.start) + separator.length, 0) + 2;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield Buffer.from(`--${boundary}`);
    for (const [i, range] of ranges.entries()) {
      yield heads[i]!;
      yield* await read(range);
      yield separator;
    }
    yield Buffer.from('--');
  }
  return { contentType: `multipart/byteranges; boundary="${boundary}"`, length, body: body() };
}
