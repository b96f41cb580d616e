// Shared test helpers for the query folder: byte order as LevelDB sees it.

const encoder = new TextEncoder();

/** Compares two strings by their UTF-8 bytes, the order LevelDB keeps keys in. */
export function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

export const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** True when `key` lies inside one of the bounds. */
export function inBounds(key: string, bounds: ReadonlyArray<{ gte: string; lt: string }>): boolean {
  return bounds.some((b) => compareBytes(key, b.gte) >= 0 && compareBytes(key, b.lt) < 0);
}

/** No lone surrogate (String#isWellFormed is ES2024, past our lib target). */
export function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
