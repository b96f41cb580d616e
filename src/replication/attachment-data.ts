// Attachment data as replication sources hand it on: base64 text (what CouchDB sends), or
// AttachmentBytes read only when written (a local database's attachments, a mesh pull's blobs).
// Targets that declare `attachmentBytes` take both; the others are given base64, made here.

import { bytesToBase64 } from '#platform/base64';
import { collectBytes } from '../blobs/core.ts';
import { AttachmentBytes, readAttachmentBytes, type Doc } from '../documents/index.ts';

type Att = Record<string, unknown>;

export function attachmentsOf(doc: Doc): Record<string, Att> | undefined {
  const atts = doc._attachments;
  return atts !== null && typeof atts === 'object' && !Array.isArray(atts) ? (atts as Record<string, Att>) : undefined;
}

/** The bytes of a document's attachment data, base64 or not (base64 counted as what it decodes to). */
export function attachmentDataBytes(doc: Doc): number {
  let bytes = 0;
  for (const att of Object.values(attachmentsOf(doc) ?? {})) {
    if (typeof att?.data === 'string') bytes += Math.floor((att.data.length * 3) / 4);
    else if (att?.data instanceof AttachmentBytes) bytes += att.data.size;
  }
  return bytes;
}

const hasBytes = (doc: Doc) => Object.values(attachmentsOf(doc) ?? {}).some((att) => att?.data instanceof AttachmentBytes);

/**
 * `docs` with every AttachmentBytes read and given as base64 (the same array when none has any);
 * bytes that cannot be read fail it as `unavailable` or `gone` (readAttachmentBytes).
 */
export async function withBase64(docs: readonly Doc[]): Promise<readonly Doc[]> {
  if (!docs.some(hasBytes)) return docs;
  const out: Doc[] = [];
  for (const doc of docs) {
    if (!hasBytes(doc)) {
      out.push(doc);
      continue;
    }
    const atts: Record<string, Att> = {};
    for (const [name, att] of Object.entries(attachmentsOf(doc)!)) {
      atts[name] = att?.data instanceof AttachmentBytes ? { ...att, data: bytesToBase64(await collectBytes(readAttachmentBytes(att.data, name))) } : att;
    }
    out.push({ ...doc, _attachments: atts });
  }
  return out;
}
