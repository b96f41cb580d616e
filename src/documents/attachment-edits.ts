// The document-level side of attachment requests: what a write that adds, removes or copies
// attachments carries, which attachments a read inlines, and which blobs stored revisions name.
// The Database methods that use these only check, queue the write and report.

import { RefugeError, toRefugeError } from '../errors/index.ts';
import type { BlobStore } from '../blobs/core.ts';
import type { KvReader } from '../storage/index.ts';
import { inlineAttachments, prepareAttachments, servedContentType, type AttachmentForm, type AttInputs, type AttStub } from './attachments.ts';
import { decodeBody } from './doc-record.ts';
import type { Rev } from './rev-tree.ts';
import type { BulkGetRequest, BulkGetResult, Doc, JsonObject, WriteFailure } from './types.ts';
import { checkDoc } from './validate.ts';
import { writeFailure } from './write-failure.ts';

/**
 * Per document of a bulk write: its attachments stored as blobs (undefined when it has none), or
 * its failure, already known (`refused`), from a document the write would refuse anyway (a bad id or
 * special member: its bytes are not stored, to stay there unreferenced) or from invalid attachments.
 * Only `internal` and `unavailable` errors throw.
 */
export async function prepareBulkAttachments(
  docs: readonly unknown[],
  refused: ReadonlyArray<WriteFailure | undefined> | undefined,
  blobs: BlobStore | undefined,
  newEdits = true,
): Promise<Array<AttInputs | WriteFailure | undefined>> {
  const prepared: Array<AttInputs | WriteFailure | undefined> = [];
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    if (refused?.[i]) {
      prepared.push(refused[i]);
      continue;
    }
    const raw = d && typeof d === 'object' ? (d as Doc)._attachments : undefined;
    if (raw === undefined || raw === null) {
      prepared.push(undefined);
      continue;
    }
    try {
      checkDoc(d, newEdits);
      prepared.push(await prepareAttachments(raw, blobs, newEdits));
    } catch (err) {
      const e = toRefugeError(err);
      // Storage failing, or given bytes that could not be read for now: the write, not the
      // document, fails (and is tried again). Bytes gone from their source fail their document.
      if (e.code === 'internal' || e.code === 'unavailable') throw e;
      prepared.push(writeFailure(String((d as Doc)._id ?? ''), e));
    }
  }
  return prepared;
}

/** Replaces attachment stubs by data (or `follows` marks), except those unchanged since `attsSince`. */
export async function inlineSince(doc: Doc, blobs: BlobStore | undefined, attsSince?: readonly Rev[], form: AttachmentForm = 'base64'): Promise<void> {
  await inlineAttachments(doc, blobs, attsSinceGeneration(doc, attsSince), form);
}

/**
 * The generation up to which `doc`'s attachments are known to whoever named `attsSince`: the
 * newest of those revisions that `doc` descends from (CouchDB's `atts_since`), 0 when none.
 * Attachments of that revpos or less are theirs already.
 */
export function attsSinceGeneration(doc: Doc, attsSince: readonly Rev[] | undefined): number {
  let since = 0;
  const history = doc._revisions as { start: number; ids: string[] } | undefined;
  for (const rev of attsSince ?? []) {
    const gen = Number.parseInt(rev, 10);
    // Only revisions this document descends from count; without the history to tell, none does,
    // and every attachment is sent.
    const known = history ? history.ids[history.start - gen] === rev.slice(rev.indexOf('-') + 1) : false;
    if (known) since = Math.max(since, gen);
  }
  return since;
}

/** Every blob id named by an attachment of a stored revision (winners, and kept older or conflicting ones). */
/** Each `_bulk_get` item's `atts_since` (undefined when it names none). */
export function bulkAttsSince(requests: readonly BulkGetRequest[]): Array<Rev[] | undefined> {
  return requests.map((r) => {
    const since: unknown = r?.atts_since;
    return Array.isArray(since) && since.length > 0 ? since.filter((x): x is string => typeof x === 'string') : undefined;
  });
}

/**
 * Attachment data in a `_bulk_get` answer: every item's with `attachments`, and an item's newer
 * ones with its `atts_since` (alone, as CouchDB reads it, that brings them too). Judging
 * `atts_since` needs each revision's history, read for it (`histories`) and dropped here.
 */
export async function inlineBulkGet(
  result: BulkGetResult,
  since: ReadonlyArray<Rev[] | undefined>,
  attachments: boolean,
  histories: boolean,
  blobs: BlobStore | undefined,
  form: AttachmentForm = 'base64',
): Promise<void> {
  for (let i = 0; i < result.results.length; i++) {
    for (const d of result.results[i]!.docs) {
      if (!('ok' in d)) continue;
      if (attachments || since[i] !== undefined) await inlineSince(d.ok, blobs, since[i], form);
      if (histories) delete d.ok._revisions;
    }
  }
}

/**
 * The blob ids attachments of stored revisions name: the winners' (records) and the other kept
 * revisions' (bodies), or with `winners: false` the latter only (what a compaction may drop).
 */
export async function* storedAttachmentBlobIds(store: KvReader, options: { winners?: boolean } = {}): AsyncGenerator<string> {
  const ranges = [{ gte: 'd!', lt: 'd"' }, { gte: 'r!', lt: 'r"' }];
  for (const range of options.winners === false ? ranges.slice(1) : ranges) {
    for await (const chunk of store.scan(range, 512)) {
      for (const [key, value] of chunk) {
        if (!value.includes('"_attachments"')) continue;
        const body = key.startsWith('d!') ? decodeBody(value) : (JSON.parse(value) as JsonObject);
        for (const stub of Object.values((body._attachments as Record<string, AttStub> | undefined) ?? {})) yield stub.digest;
      }
    }
  }
}

/** The attachments of `base` kept as they are, with `name` added or replaced by a stored blob. */
export function withAttachment(base: Doc, name: string, blob: { id: string; size: number }, contentType: string): AttInputs {
  const atts: AttInputs = {};
  for (const n of Object.keys((base._attachments as object | undefined) ?? {})) atts[n] = { kind: 'stub' };
  atts[name] = { kind: 'new', content_type: contentType, digest: blob.id, length: blob.size };
  return atts;
}

/** The attachments of `base` but `name`; `not_found` when it has none of that name. */
export function withoutAttachment(base: Doc, name: string): AttInputs {
  const existing = Object.keys((base._attachments as object | undefined) ?? {});
  if (!existing.includes(name)) throw new RefugeError('not_found', 'Document is missing attachment');
  const atts: AttInputs = {};
  for (const n of existing) if (n !== name) atts[n] = { kind: 'stub' };
  return atts;
}

/** `base` as the next edit of `rev` (a new document when undefined), without attachments or history. */
export function editOf(base: Doc, rev: Rev | undefined): Doc {
  const { _attachments: _a, _revisions: _r, ...rest } = base;
  const doc: Doc = { ...rest, _id: base._id };
  if (rev !== undefined) doc._rev = rev;
  else delete doc._rev;
  return doc;
}

/**
 * CouchDB's COPY of a read document: its body as `dest` (new, or the next edit of `destRev`), with
 * attachments that refer to the same blobs rather than copies of their bytes.
 */
export function copyOf(source: Doc, dest: string, destRev: Rev | undefined): { doc: Doc; atts: AttInputs | undefined } {
  const { _id: _from, _rev: _at, _attachments: stubs, ...body } = source;
  const doc: Doc = { ...body, _id: dest, ...(destRev !== undefined && { _rev: destRev }), ...(stubs !== undefined && { _attachments: stubs }) };
  const atts: AttInputs | undefined =
    stubs === undefined
      ? undefined
      : Object.fromEntries(
          // A new edit: a type a replicated revision kept that no header can carry becomes the servable one.
          Object.entries(stubs as Record<string, AttStub>).map(([name, a]) => [name, { kind: 'new', content_type: servedContentType(a.content_type), digest: a.digest, length: a.length }]),
        );
  return { doc, atts };
}
