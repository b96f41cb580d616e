// Canonical JSON: object keys sorted, no whitespace. Revision ids hash it, so the same edit made on
// two nodes (whatever key order their clients used) gets the same rev.
//
// The fast path gives JSON.stringify (native, no replacer) objects whose own key order is already
// the sorted one: objects already in order are used as they are, others are copied with sorted keys.
// Keys that start with a digit take the plain JavaScript path (V8 lists integer-like keys first, in
// numeric order, whatever order they were added in), and so does `__proto__` (a copy would set it
// as the prototype; a prototype-less copy would be a slow dictionary object for every document).

const SLOW = Symbol('slow');

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** Array.prototype.sort's order, in place: insertion sort for the few keys of most objects (no work array). */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

/** `value` with every object's keys in sorted order (copies only where needed), or SLOW. */
function sortedKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = sortedKeys(value[i]);
      if (v === SLOW) return SLOW;
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (const k of keys) if (((k.charCodeAt(0) - 48) >>> 0) < 10 || k === '__proto__') return SLOW;
  const inOrder = isSorted(keys);
  if (!inOrder) sortKeys(keys);
  let out: Record<string, unknown> | null = inOrder ? null : {};
  for (const k of keys) {
    const v = sortedKeys(obj[k]);
    if (v === SLOW) return SLOW;
    if (!inOrder) out![k] = v;
    else if (v !== obj[k]) (out ??= { ...obj })[k] = v;
  }
  return out ?? obj;
}

export function canonicalJson(value: unknown): string {
  const sorted = sortedKeys(value);
  if (sorted === SLOW) return slowCanonicalJson(value);
  return JSON.stringify(sorted) ?? 'null';
}

function slowCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const v = value[i];
      out += v === undefined || typeof v === 'function' ? 'null' : slowCanonicalJson(v);
    }
    return out + ']';
  }
  let out = '{';
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function') continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + slowCanonicalJson(v);
    first = false;
  }
  return out + '}';
}
