// Attachments pulled from a server without holding them whole: `_bulk_get` is first read without
// data (stubs, with lengths); a document whose attachments come to LAZY_MIN_BYTES or more gets them
// as AttachmentBytes that read each one from the server when written (streamed on into the
// target's store, or a multipart PUT); the others are read again with their data inline, as before.
// Attachments the target has already (its `atts_since`) stay stubs, and are not read at all.

import { AttachmentBytes, attsSinceGeneration, type BulkGetRequest, type BulkGetResult } from '../documents/index.ts';
import { attachmentsOf } from './attachment-data.ts';

/** An attachment's revpos; one a server leaves out is taken as new (its bytes are read). */
const revpos = (a: { revpos?: unknown }) => (Number.isSafeInteger(a.revpos) ? (a.revpos as number) : Infinity);

/** Attachment bytes from which a document's attachments are read one by one, when written. */
export const LAZY_MIN_BYTES = 1024 * 1024;

/** Opens the bytes of attachment `name` of revision `rev` of document `id` on the server. */
export type AttachmentReader = (id: string, rev: string, name: string) => AsyncIterable<Uint8Array>;

/**
 * Turns the stubs of the large documents of `result` (an answer read without data) into
 * AttachmentBytes; answers the revisions whose attachments are to be read inline.
 */
export function readLazily(result: BulkGetResult, requests: readonly BulkGetRequest[], read: AttachmentReader): BulkGetRequest[] {
  // By id: with `latest`, the revision answered may be a newer leaf than the one asked.
  const attsSince = new Map<string, string[]>();
  for (const r of requests) if (r.atts_since?.length) attsSince.set(r.id, [...(attsSince.get(r.id) ?? []), ...r.atts_since]);
  const inline: BulkGetRequest[] = [];
  for (const item of result.results) {
    for (const entry of item.docs ?? []) {
      if (entry === null || typeof entry !== 'object' || !('ok' in entry)) continue;
      const doc = entry.ok;
      const id = doc._id!;
      const rev = doc._rev!;
      const since = attsSince.get(id);
      const known = attsSinceGeneration(doc, since);
      const stubs = Object.entries(attachmentsOf(doc) ?? {}).filter(([, a]) => a?.stub === true && revpos(a) > known);
      if (stubs.length === 0) continue;
      const total = stubs.reduce((n, [, a]) => n + (Number.isSafeInteger(a.length) ? (a.length as number) : 0), 0);
      // A length a server leaves out is no size to judge by: read inline, as before.
      if (total < LAZY_MIN_BYTES || stubs.some(([, a]) => !Number.isSafeInteger(a.length))) {
        inline.push(since ? { id, rev, atts_since: since } : { id, rev });
        continue;
      }
      const atts = { ...attachmentsOf(doc) };
      for (const [name, a] of stubs) {
        const { stub: _stub, length, ...meta } = a;
        // No blob id, even where the digest is one (a Refuge server's): a target holding that blob
        // would attach it unread, and a server could then name (and read back through this
        // database) bytes it never had, by their hash alone. The bytes are read, and stored once.
        atts[name] = { ...meta, data: new AttachmentBytes(length as number, async () => read(id, rev, name)) };
      }
      doc._attachments = atts;
    }
  }
  return inline;
}

/** `result` with the documents read again inline (`again`, an answer to `inline`, the requests readLazily gave) in their places. */
export function withInline(result: BulkGetResult, again: BulkGetResult, inline: readonly BulkGetRequest[]): BulkGetResult {
  const reread = new Set(inline.map((r) => `${r.id}\u0000${r.rev}`));
  const byRev = new Map<string, BulkGetResult['results'][number]['docs'][number]>();
  for (const item of again.results) {
    for (const entry of item.docs ?? []) {
      const key = 'ok' in entry ? `${entry.ok._id}\u0000${entry.ok._rev}` : `${entry.error?.id ?? item.id}\u0000${entry.error?.rev}`;
      byRev.set(key, entry);
    }
  }
  return {
    results: result.results.map((item) => ({
      ...item,
      // A revision the second read did not give is an error entry: the replicator reads it again.
      docs: (item.docs ?? []).map((entry) => {
        if (!('ok' in entry) || !reread.has(`${entry.ok._id}\u0000${entry.ok._rev}`)) return entry;
        const { _id: id, _rev: rev } = entry.ok;
        return byRev.get(`${id}\u0000${rev}`) ?? { error: { id: id!, rev: rev!, error: 'not_found', reason: 'missing' } };
      }),
    })),
  };
}
