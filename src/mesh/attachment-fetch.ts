// Attachments on the mesh travel as blobs, not base64: on pulls bulkGet answers carry stubs (digest =
// blob id) and the puller fetches the blobs it lacks through `/refuge/blobs/1.0.0` (verified) before
// the write; on pushes the pusher offers the blobs the peer lacks, then sends documents whose
// attachments name them (`blob: true`), which the peer inlines from its own store.

import type { BlobId, BlobStore } from '../blobs/core.ts';
import { isBlobId } from '../blobs/core.ts';
import { decodeBase64 } from '../documents/attachments.ts';
import { AttachmentBytes, type BulkGetResult, type Doc } from '../documents/index.ts';

/** What a pull needs to move attachments by blob: the exchange with peers and the local store. */
export interface AttachmentBlobs {
  readonly store: BlobStore | undefined;
  want(peerId: string, ids: readonly BlobId[], options?: { signal?: AbortSignal }): Promise<{ fetched: BlobId[]; missing: BlobId[] }>;
  /** Sends the peer the blobs among `ids` it lacks (pushes). */
  offer?(peerId: string, ids: readonly BlobId[], options?: { signal?: AbortSignal }): Promise<number>;
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
  for (const doc of docs) {
    const stubs = stubsOf(doc);
    if (stubs.length === 0) continue;
    const atts: Record<string, unknown> = { ...(doc._attachments as object) };
    for (const [name, a] of stubs) {
      const id = a.digest as BlobId;
      if (absent.has(id)) continue;
      const { stub: _stub, ...meta } = a;
      atts[name] = { ...meta, data: AttachmentBytes.ofBlob(blobs.store, id, Number(a.length)) };
    }
    doc._attachments = atts;
  }
  return { fetched: fetched.length };
}

/**
 * Documents to push with their inline attachments replaced by blob references (`blob: true`, digest
 * = blob id): the bytes go into the local store (where they usually are already) to be named.
 * Returns null when no document carries inline data.
 */
export async function attachmentsAsBlobs(docs: readonly Doc[], store: BlobStore): Promise<{ docs: Doc[]; ids: BlobId[] } | null> {
  const ids = new Set<BlobId>();
  let any = false;
  const out: Doc[] = [];
  for (const doc of docs) {
    const atts = doc._attachments as Record<string, Att> | undefined;
    const inline = atts && typeof atts === 'object' ? Object.entries(atts).filter(([, a]) => typeof a?.data === 'string' || a?.data instanceof AttachmentBytes) : [];
    if (inline.length === 0) {
      out.push(doc);
      continue;
    }
    any = true;
    const next: Record<string, unknown> = { ...atts };
    for (const [name, a] of inline) {
      const put = a.data instanceof AttachmentBytes ? await a.data.storeIn(store, name) : await store.put(decodeBase64(a.data as string, name));
      ids.add(put.id);
      const { data: _data, digest: _digest, ...meta } = a;
      next[name] = { ...meta, digest: put.id, length: put.size, blob: true };
    }
    out.push({ ...doc, _attachments: next });
  }
  return any ? { docs: out, ids: [...ids] } : null;
}

/**
 * The receiving side of a push by blobs: attachments marked `blob: true` get their bytes from the
 * local store (sent before by `offer`). One this node does not hold becomes a plain stub, so that
 * document fails its write visibly (missing stub) instead of being stored without it.
 */
export async function inlineBlobAttachments(docs: readonly Doc[], store: BlobStore | undefined): Promise<Doc[]> {
  const out: Doc[] = [];
  for (const doc of docs) {
    const atts = doc?._attachments as Record<string, Att> | undefined;
    const marked = atts && typeof atts === 'object' ? Object.entries(atts).filter(([, a]) => a?.blob === true) : [];
    if (marked.length === 0) {
      out.push(doc);
      continue;
    }
    const next: Record<string, unknown> = { ...atts };
    for (const [name, a] of marked) {
      const { blob: _blob, digest, ...meta } = a;
      const id = digest as BlobId;
      const held = store !== undefined && isBlobId(id) && (await store.has(id));
      next[name] = held ? { ...meta, data: AttachmentBytes.ofBlob(store, id, Number(a.length)) } : { ...meta, digest, stub: true };
    }
    out.push({ ...doc, _attachments: next });
  }
  return out;
}
