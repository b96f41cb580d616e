// A document with large attachments written as CouchDB's replicator writes it: a PUT of
// multipart/related, its JSON then each attachment's bytes. No base64 on the wire (a third less),
// no JSON body past a server's body limit (Refuge and CouchDB read the bytes into their attachment
// stores as they come), and bytes a source gave as AttachmentBytes streamed, never held whole.

import { base64ToBytes } from '#platform/base64';
import { AttachmentBytes, readAttachmentBytes, type Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { attachmentsOf } from './attachment-data.ts';

/** Attachment bytes from which a document is written alone, as multipart (256 KiB as base64). */
export const RELATED_MIN_BYTES = 192 * 1024;

export interface RelatedBody {
  contentType: string;
  /** The body's length in bytes, sent as Content-Length. */
  length: number;
  /** The body's bytes; each call reads them again (a retried request). */
  chunks(): AsyncIterable<Uint8Array>;
  /** Why the attachments' bytes could not be read, when they could not: the request failed for it. */
  readonly failure?: unknown;
}

function boundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A replicated type may hold what no header can (a line break would end the part's headers). */
const partType = (type: unknown) => (typeof type === 'string' && /^[\t\x20-\x7e]*$/.test(type) ? type : 'application/octet-stream');

/**
 * The multipart/related body of `doc`: its attachments with data become `follows` stubs (with their
 * length), their bytes the parts after the JSON, in the order the JSON names them (the order CouchDB
 * matches parts in). Stubs stay stubs.
 */
export function relatedBody(doc: Doc): RelatedBody {
  const mark = boundary();
  const encoder = new TextEncoder();
  const atts: Record<string, unknown> = {};
  const follows: Array<{ head: Uint8Array; bytes: Uint8Array | AttachmentBytes; size: number; name: string }> = [];
  for (const [name, att] of Object.entries(attachmentsOf(doc) ?? {})) {
    const data = att?.data;
    if (typeof data !== 'string' && !(data instanceof AttachmentBytes)) {
      atts[name] = att;
      continue;
    }
    // The target names the bytes itself: this node's digest (a SHA-256) is no CouchDB md5 to check.
    const { data: _data, digest: _d, length: _l, encoding: _e, encoded_length: _el, ...kept } = att;
    const bytes = typeof data === 'string' ? base64ToBytes(data) : data;
    const size = bytes instanceof AttachmentBytes ? bytes.size : bytes.length;
    atts[name] = { ...kept, length: size, follows: true };
    const head = encoder.encode(`--${mark}\r\nContent-Disposition: attachment; filename=${JSON.stringify(name)}\r\nContent-Type: ${partType(att.content_type)}\r\nContent-Length: ${size}\r\n\r\n`);
    follows.push({ head, bytes, size, name });
  }
  const json = encoder.encode(`--${mark}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ ...doc, _attachments: atts })}\r\n`);
  const crlf = encoder.encode('\r\n');
  const end = encoder.encode(`--${mark}--`);
  const length = json.length + follows.reduce((n, f) => n + f.head.length + f.size + crlf.length, 0) + end.length;
  const body: { -readonly [K in keyof RelatedBody]: RelatedBody[K] } = {
    contentType: `multipart/related; boundary="${mark}"`,
    length,
    async *chunks() {
      yield json;
      for (const f of follows) {
        yield f.head;
        if (f.bytes instanceof AttachmentBytes) {
          let sent = 0;
          try {
            for await (const chunk of readAttachmentBytes(f.bytes, f.name)) {
              sent += chunk.length;
              yield chunk;
            }
          } catch (err) {
            body.failure = err;
            throw err;
          }
          // The length was announced: other bytes would garble the body, not just this attachment.
          if (sent !== f.size) throw (body.failure = new RefugeError('gone', `attachment ${f.name} gave ${sent} bytes, not the ${f.size} its source announced`));
        } else yield f.bytes;
        yield crlf;
      }
      yield end;
    },
  };
  return body;
}
