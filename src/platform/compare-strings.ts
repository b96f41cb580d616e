// Code point order for strings: the order of their UTF-8 bytes, so of LevelDB's keys. Shared by
// storage (snapshots kept in memory) and query (collation), which must agree with the disk.

/**
 * Compares strings by Unicode code point. CouchDB collates strings with ICU (UCA); we use code
 * point order instead because it equals bytewise UTF-8 order, so the on-disk index (LevelDB,
 * comparing bytes) can hold the same order without a collation library in every runtime.
 * JS `<` compares UTF-16 units, which disagrees for astral characters vs U+E000..U+FFFF.
 * Lone surrogates count as their own code unit value (0xD800..0xDFFF).
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // Step back onto a shared lead surrogate so code points are read whole from here on.
  if (i > 0 && isLead(a.charCodeAt(i - 1))) i--;
  for (;;) {
    const ca = a.codePointAt(i);
    const cb = b.codePointAt(i);
    if (ca === undefined || cb === undefined) return ca === cb ? 0 : ca === undefined ? -1 : 1;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
  }
}

const isLead = (u: number) => u >= 0xd800 && u <= 0xdbff;
