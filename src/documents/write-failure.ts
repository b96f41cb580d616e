// A refused document as a write's result row (CouchDB's `{id, error, reason}`), and back to the
// error a single write throws: the reason goes both ways as the JSON value it is.

import { errorWithReason, type ErrorCode, type RefugeError } from '../errors/index.ts';
import type { WriteFailure } from './types.ts';

export function writeFailure(id: string, err: RefugeError): WriteFailure {
  return { id, error: err.code, reason: err.reasonValue };
}

/**
 * Whether a prepared write's entry is a refusal rather than its attachments: not `'error' in`, as
 * a document may well have an attachment named "error" (a refusal's error is a code, a string).
 */
export function isWriteFailure(value: object | undefined): value is WriteFailure {
  return value !== undefined && typeof (value as { error?: unknown }).error === 'string';
}

export function failureError(failure: WriteFailure): RefugeError {
  return errorWithReason(failure.error as ErrorCode, failure.reason);
}
