// Attachments on mesh pulls: bulkGet answers carry stubs (digest = blob id) instead of base64, and
// the puller fetches the blobs it lacks through `/refuge/blobs/1.0.0` (verified) before the write.

import type { BlobId, BlobStore } from '../blobs/core.ts';
import { collectBytes, isBlobId } from '../blobs/core.ts';
import { encodeBase64 } from '../documents/attachments.ts';
import type { BulkGetResult, Doc } from '../documents/index.ts';

/** What a pull needs to move attachments by blob: the exchange with peers and the local store. */
export interface AttachmentBlobs {
  readonly store: BlobStore | undefined;
  want(peerId: string, ids: readonly BlobId[], options?: { signal?: AbortSignal }): Promise<{ fetched: BlobId[]; missing: BlobId[] }>;
}

type Att = Record<string, unknown>;

function stubsOf(doc: Doc): Array<[string, Att]> {
  const atts = doc._attachments as Record<string, Att> | undefined;
  if (!atts || typeof atts !== 'object') return [];
  return Object.entries(atts).filter(([, a]) => a?.stub === true && isBlobId(a.digest));
}

/**
 * Brings every blob the answer's stubs name into the local store (one `have` and one `get` per blob
 * missing here; none for blobs already held, whichever document or database referenced them), then
 * inlines the bytes from the local store: the database's write path accepts stubs only against a
 * stored ancestor, and inline data it dedups into the same blob without another transfer. A blob
 * the peer does not hold stays a stub, so that document fails its write visibly (missing stub).
 */
export async function fetchAttachments(result: BulkGetResult, peerId: string, blobs: AttachmentBlobs & { store: BlobStore }, signal?: AbortSignal): Promise<{ fetched: number }> {
  const docs = result.results.flatMap((r) => r.docs.flatMap((d) => ('ok' in d ? [d.ok] : [])));
  const ids = [...new Set(docs.flatMap((d) => stubsOf(d).map(([, a]) => a.digest as BlobId)))];
  if (ids.length === 0) return { fetched: 0 };
  const { fetched, missing } = await blobs.want(peerId, ids, signal ? { signal } : {});
  const absent = new Set(missing);
  // Each blob is read and encoded once, however many documents of the batch carry it.
  const encoded = new Map<BlobId, string>();
  for (const doc of docs) {
    const stubs = stubsOf(doc);
    if (stubs.length === 0) continue;
    const atts: Record<string, unknown> = { ...(doc._attachments as object) };
    for (const [name, a] of stubs) {
      const id = a.digest as BlobId;
      if (absent.has(id)) continue;
      let data = encoded.get(id);
      if (data === undefined) {
        data = encodeBase64(await collectBytes(await blobs.store.get(id)));
        encoded.set(id, data);
      }
      const { stub: _stub, ...meta } = a;
      atts[name] = { ...meta, data };
    }
    doc._attachments = atts;
  }
  return { fetched: fetched.length };
}
