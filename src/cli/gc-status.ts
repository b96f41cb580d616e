// `refuge blobs gc --status`: the running node's own blob gc, as `GET /_blobs/_gc` tells it, in a
// few lines for a person (`--json` prints the answer itself).

import type { BlobGcStatusWire } from '../http/index.ts';
import { formatBytes } from './progress.ts';

export function describeGcStatus(s: BlobGcStatusWire): string {
  if (!s.auto) return 'the node runs no gc of its own (--blob-gc off, or its blobs are on S3): `refuge blobs gc` collects by hand\n';
  const lines = [`${s.candidates ?? 0} blob(s) or root(s) whose references dropped wait to be looked at`];
  if (s.running) lines.push('a collection is running');
  else if (s.due_at) lines.push(`next collection from ${s.due_at}${s.held ? ', once the writer holding gc off is done' : ''}`);
  else if (s.held) lines.push('a writer holds gc off');
  if (s.last) {
    lines.push(`last collection ${s.last.at}: deleted ${s.last.deleted} (${formatBytes(s.last.deleted_bytes)}), kept ${s.last.young} as young` + (s.last.missing ? `, ${s.last.missing} reachable blobs missing` : ''));
  }
  if (s.failed) lines.push(`last attempt failed ${s.failed.at}: ${s.failed.reason}`);
  return lines.join('\n') + '\n';
}
