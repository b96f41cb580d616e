// JSON text may write a UTF-16 surrogate as an escape with no partner (`"\ud800"`): JSON.parse makes
// it a lone surrogate, which no UTF-8 can carry. CouchDB's parser (jiffy) refuses such a body whole.

import { isWellFormedUtf16 } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Throws bad_request when the parsed `value` of `text` holds a lone surrogate, in a string or a member name. */
export function checkLoneSurrogates(text: string, value: unknown): void {
  // Most bodies write no escape at all: one search, and nothing walked.
  if (text.indexOf('\\u') < 0 || !SURROGATE_ESCAPE.test(text)) return;
  // A stack, not recursion: a body may nest deeper than the call stack goes.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!isWellFormedUtf16(v)) throw invalid();
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (!isWellFormedUtf16(k)) throw invalid();
        stack.push(x);
      }
    }
  }
}

const invalid = () => new RefugeError('bad_request', 'invalid UTF-8 JSON: a lone UTF-16 surrogate escape is no Unicode character');
