// Small helpers over KvReader scans shared by the layers above.

import type { KvRange, KvReader } from './types.ts';

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
