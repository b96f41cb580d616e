// Attachment bytes checked against the MD5 their client named (a Content-MD5 header, or an `md5-`
// digest in a multipart document), as CouchDB checks them: a mismatch fails the stream at its end,
// before the blob store takes the bytes, so nothing is written.

import { createHash } from 'node:crypto';
import { RefugeError } from '../errors/index.ts';

/** `bytes` as they come, then content_md5_mismatch (400) unless their MD5 is `expected` (base64). */
export async function* md5Checked(bytes: AsyncIterable<Uint8Array>, expected: string): AsyncGenerator<Uint8Array> {
  const hash = createHash('md5');
  for await (const chunk of bytes) {
    hash.update(chunk);
    yield chunk;
  }
  if (hash.digest('base64') !== expected.trim()) throw new RefugeError('content_md5_mismatch', 'Possible message corruption.');
}
