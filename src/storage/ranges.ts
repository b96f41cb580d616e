// Small helpers over KvReader scans shared by the layers above.

import { compareStrings as compareKeys } from '../platform/compare-strings.ts';
import type { KvRange, KvReader } from './types.ts';

/** Whether `key` lies in `range`, with abstract-level's bounds: gte wins over gt, lte over lt. */
export function inRange(key: string, range: KvRange): boolean {
  if (range.gte !== undefined ? compareKeys(key, range.gte) < 0 : range.gt !== undefined && compareKeys(key, range.gt) <= 0) return false;
  if (range.lte !== undefined ? compareKeys(key, range.lte) > 0 : range.lt !== undefined && compareKeys(key, range.lt) >= 0) return false;
  return true;
}

/**
 * The range of every key that starts with `prefix`. The prefix must end in an ASCII character:
 * incrementing it gives a bound that is exact in bytewise UTF-8 order (a `\uffff` sentinel would
 * miss keys continuing with characters outside the BMP).
 */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (!(last >= 0 && last < 0x7f)) throw new TypeError('prefixRange needs a prefix ending in ASCII');
  return { gte: prefix, lt: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

/** Reads a whole range into memory: only for tests and small ranges. */
export async function collect(reader: KvReader, range: KvRange): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const chunk of reader.scan(range)) out.push(...chunk);
  return out;
}
