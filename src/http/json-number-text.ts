// How a JSON text wrote the numbers of its top-level object's members, which JSON.parse does not
// keep: CouchDB's decoder (jiffy) makes `2.0` and `1e2` floats and `2` an integer of any size, and
// Mango's options take integers only (mango_opts:is_non_neg_integer), so a `_find` body's `limit`
// of 2.0 is refused there and one of 100000000000000000000 is taken.

import { JsonCursor } from './json-cursor.ts';

/** Bodies whose number texts were kept, by the object JSON.parse made of them. */
const kept = new WeakMap<object, Map<string, string>>();

/** Keeps the number texts of `body`'s top-level members; `text` is the JSON that parsed into it. */
export function keepNumberTexts(body: unknown, text: string): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  kept.set(body, topLevelNumberTexts(text));
}

/** The text of member `name`'s number, as the body wrote it; undefined when unknown or not a number. */
export function numberTextOf(body: object, name: string): string | undefined {
  return kept.get(body)?.get(name);
}

/** Whether a number's text is an integer to CouchDB (no fraction, no exponent). */
export const isIntegerText = (text: string): boolean => /^-?[0-9]+$/.test(text);

function topLevelNumberTexts(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const cursor = new JsonCursor(text);
  cursor.members((name) => {
    const scalar = cursor.value();
    // The last of repeated names is the one JSON.parse keeps.
    if (scalar !== undefined && /^-?[0-9]/.test(scalar)) out.set(name, scalar);
    else out.delete(name);
  });
  return out;
}
