// Mango `fields`: keeps only the named fields of a result document (mango_fields:extract).

import { RefugeError } from '../errors/index.ts';
import { getField, parseField, setField } from './field-path.ts';

/**
 * Validates `fields`; undefined or [] means the whole document (null is refused, as in CouchDB).
 * CouchDB's two errors (mango_fields:new): invalid_fields for what is no array, invalid_field for
 * an element that is no string (CouchDB takes an object there, then fails the query with a 500).
 */
export function parseFields(fields: unknown): string[] | undefined {
  if (fields === undefined) return undefined;
  if (!Array.isArray(fields)) throw new RefugeError('invalid_fields', `Fields must be an array of strings, not: ${JSON.stringify(fields)}`);
  for (const f of fields) {
    if (typeof f !== 'string') throw new RefugeError('invalid_field', `Invalid JSON for field spec: ${JSON.stringify(f)}`);
    parseField(f);
  }
  return fields.length === 0 ? undefined : fields;
}

/**
 * A new document holding only `fields` (dotted paths, array positions allowed), nested as in the
 * original; fields the document lacks are left out. `_id` is not added implicitly (CouchDB does not).
 */
export function projectFields(doc: Record<string, unknown>, fields: readonly string[] | undefined): Record<string, unknown> {
  if (fields === undefined || fields.length === 0) return doc;
  let out: unknown = {};
  for (const path of parsedPaths(fields)) {
    const got = getField(doc, path);
    if (got.found) out = setField(out, path, got.value);
  }
  return out as Record<string, unknown>;
}

/** Each list of fields parsed once, whatever the number of documents it projects (a page calls it per row). */
const parsed = new WeakMap<readonly string[], ReturnType<typeof parseField>[]>();
function parsedPaths(fields: readonly string[]): ReturnType<typeof parseField>[] {
  let paths = parsed.get(fields);
  if (paths === undefined) parsed.set(fields, (paths = fields.map(parseField)));
  return paths;
}
