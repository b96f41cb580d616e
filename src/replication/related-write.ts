// A document with large attachments written as CouchDB's replicator writes it: a PUT of
// multipart/related, its JSON then each attachment's bytes. No base64 on the wire (a third less),
// and no JSON body past a server's body limit: Refuge and CouchDB read the bytes into their
// attachment stores as they come, where a _bulk_docs of the same document was refused as too large.

import { base64ToBytes } from '#platform/base64';
import type { Doc } from '../documents/index.ts';

/** Inline attachment data (base64 characters) from which a document is written alone, as multipart. */
export const RELATED_MIN_CHARS = 256 * 1024;

type Att = Record<string, unknown>;

const attachmentsOf = (doc: Doc): Record<string, Att> | undefined => {
  const atts = doc._attachments;
  return atts !== null && typeof atts === 'object' && !Array.isArray(atts) ? (atts as Record<string, Att>) : undefined;
};

/** The base64 characters of a document's inline attachment data. */
export function inlineDataChars(doc: Doc): number {
  let chars = 0;
  for (const att of Object.values(attachmentsOf(doc) ?? {})) if (typeof att?.data === 'string') chars += att.data.length;
  return chars;
}

function boundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The multipart/related body of `doc`: its attachments with data become `follows` stubs (with their
 * decoded length), their bytes the parts after the JSON, in the order the JSON names them (the
 * order CouchDB matches parts in). Stubs stay stubs.
 */
export function relatedBody(doc: Doc): { contentType: string; bytes: Uint8Array<ArrayBuffer> } {
  const mark = boundary();
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const atts: Record<string, Att> = {};
  const follows: Array<[string, string, Uint8Array]> = [];
  for (const [name, att] of Object.entries(attachmentsOf(doc) ?? {})) {
    if (typeof att?.data !== 'string') {
      atts[name] = att;
      continue;
    }
    // The target names the bytes itself: this node's digest (a SHA-256) is no CouchDB md5 to check.
    const { data, digest: _d, length: _l, encoding: _e, encoded_length: _el, ...kept } = att;
    const bytes = base64ToBytes(data);
    atts[name] = { ...kept, length: bytes.length, follows: true };
    // A replicated type may hold what no header can (a line break would end the part's headers).
    const type = typeof att.content_type === 'string' && /^[\t\x20-\x7e]*$/.test(att.content_type) ? att.content_type : 'application/octet-stream';
    follows.push([name, type, bytes]);
  }
  const json = JSON.stringify({ ...doc, _attachments: atts });
  parts.push(encoder.encode(`--${mark}\r\nContent-Type: application/json\r\n\r\n${json}\r\n`));
  for (const [name, type, bytes] of follows) {
    parts.push(encoder.encode(`--${mark}\r\nContent-Disposition: attachment; filename=${JSON.stringify(name)}\r\nContent-Type: ${type}\r\nContent-Length: ${bytes.length}\r\n\r\n`), bytes, encoder.encode('\r\n'));
  }
  parts.push(encoder.encode(`--${mark}--`));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { contentType: `multipart/related; boundary="${mark}"`, bytes: out };
}
