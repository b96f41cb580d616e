// A document answer's entity tag, as CouchDB's couch_httpd:doc_etag and chttpd_db:send_doc make it.

import { md5Hex } from '#platform/md5';
import { canonicalJson, type Doc } from '../documents/index.ts';

/**
 * Fields whose values change while the winning revision stays the same (a losing branch arrives by
 * replication, a sequence moves): an answer carrying any of them has no tag that could say it is
 * unchanged, so CouchDB sends none ("output etag only when we have no meta").
 */
const META = ['_conflicts', '_deleted_conflicts', '_revs_info', '_local_seq'] as const;

/**
 * The ETag of a document as read, or undefined when the answer carries meta fields. A `_local`
 * document's rev does not name its body (a write without `_rev` keeps `0-1`), so its tag hashes
 * the rev and the body, as CouchDB's make_etag({Start, DiskRev, Body}) does.
 */
export function docEtag(doc: Doc): string | undefined {
  if (META.some((field) => field in doc)) return undefined;
  return doc._id?.startsWith('_local/') ? localEtag(doc._rev!, doc) : `"${doc._rev}"`;
}

/** The tag of a `_local` document at `rev` with this body (its `_` fields are not stored). */
export function localEtag(rev: string, body: Record<string, unknown>): string {
  const stored: Record<string, unknown> = {};
  for (const k of Object.keys(body)) if (!k.startsWith('_')) stored[k] = body[k];
  return `"${md5Hex(canonicalJson([rev, stored]))}"`;
}
