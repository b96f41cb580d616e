// Canonical JSON: object keys sorted, no whitespace. Revision ids hash it, so the same edit made on
// two nodes (whatever key order their clients used) gets the same rev.
//
// JSON.stringify with a property list emits, for every object at any depth, exactly the listed
// keys that object has, in list order: giving it every key of the document, sorted, yields the
// canonical form from the native serializer (much faster than building the string in JS). The one
// exception is a `__proto__` key, which the list would also read through every object's prototype;
// such documents take the plain JavaScript path.

function collectKeys(value: unknown, keys: Set<string>): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) collectKeys(v, keys);
    return;
  }
  for (const k in value) {
    keys.add(k);
    collectKeys((value as Record<string, unknown>)[k], keys);
  }
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const keys = new Set<string>();
  collectKeys(value, keys);
  if (keys.has('__proto__')) return slowCanonicalJson(value);
  return JSON.stringify(value, [...keys].sort());
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
