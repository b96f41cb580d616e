// The record side of a write batch: the records it read and wrote, how a new winner is stored
// (sequence entry, record, counters, path index), and the local edit that only extends a line of
// revisions, stored without building its tree. WriteBatch (write-batch.ts) judges edits on top.

import type { DbCore } from './core.ts';
import { attachmentBytes, storedAttachments } from './attachments.ts';
import { BatchChanges, type PostingSink } from './batch-changes.ts';
import { BatchRecords } from './batch-records.ts';
import { DocRecord, encodeRecord, oldBodyJson } from './doc-record.ts';
import { DroppedBodies } from './dropped-bodies.ts';
import { namedRev } from './edits.ts';
import { docKey, revBodyKey, seqKey } from './keys.ts';
import { countInner } from './old-bodies.ts';
import type { OpSink } from './kept-ops.ts';
import { computeRev } from './rev-id.ts';
import { extendLine, lineStart } from './rev-line.ts';
import { encodeTreeText } from './rev-tree-codec.ts';
import type { Rev, RevTree } from './rev-tree.ts';
import type { JsonObject } from './types.ts';
import type { SplitDoc } from './validate.ts';

export class RecordCommits extends BatchChanges {
  protected readonly records: BatchRecords;
  /**
   * The merged, unstemmed trees of documents this batch stemmed (as text when a line's edit
   * stemmed it): CouchDB merges every edit of a document in one update, then stems once
   * (couch_db_updater:merge_rev_trees), so a later edit merges into what an earlier one's
   * stemming dropped, not into the stemmed tree.
   */
  protected unstemmed: Map<string, RevTree | string> | undefined;
  /** Bodies stemming dropped, deleted with the batch unless a later edit kept them (dropped-bodies.ts). */
  protected readonly droppedBodies = new DroppedBodies();
  /** The first sequence this batch assigns: a record at or past it was written by this batch. */
  private readonly firstSeq: number;

  /** `pending` answers for keys written by earlier change sets not yet flushed to storage. */
  constructor(core: DbCore, pending: (key: string) => string | null | undefined) {
    super(core, pending);
    this.records = new BatchRecords(core.store, pending, core.idCeiling);
    this.firstSeq = core.state.seq + 1;
  }

  /**
   * A local edit of the winner of a document stored as one line of revisions, made on the line's
   * text (rev-line.ts) with every effect commitTree would have: the old winner's body kept, the
   * bodies stemming dropped deleted, the counters moved. Answers its rev, or undefined for any
   * other edit (a conflict, a branch, attachments...), which the general way then judges.
   */
  protected extendLeaf(edit: SplitDoc & { id: string }, current: DocRecord): Rev | undefined {
    const text = current.treeText;
    if (text === undefined || current.deleted || namedRev(edit) !== current.rev || lineStart(text) === 0) return undefined;
    const rev = computeRev(current.rev, edit.deleted, edit.body);
    const line = extendLine(text, current.rev, rev, edit.deleted, this.state.revsLimit);
    if (line === undefined) return undefined;
    const id = edit.id;
    if (line.grown !== undefined) (this.unstemmed ??= new Map()).set(id, line.grown);
    let oldWinnerJson: string | undefined;
    if (line.leafAvailable) {
      oldWinnerJson = oldBodyJson(current);
      this.ops.set(revBodyKey(id, current.rev), oldWinnerJson);
      if (!line.leafKept) this.droppedBodies.add(id, current.rev);
    }
    for (const dropped of line.stemmedBodies) this.droppedBodies.add(id, dropped);
    const encoded = this.storeWinner(id, current, undefined, line.text, rev, edit.deleted, edit.body);
    const stemmed = line.stemmedBodies.length > 0 ? line.stemmedBodies : undefined;
    countInner(this.state, current, current.rev, line.leafKept && line.leafAvailable, oldWinnerJson, stemmed, encoded);
    return rev;
  }

  /**
   * Stores the record of a document whose winner is now `rev` (its tree given built, as text, or
   * both), with its new sequence, and moves the counters and the path index: answers the record.
   */
  protected storeWinner(
    id: string,
    current: DocRecord | undefined,
    tree: RevTree | undefined,
    treeText: string | undefined,
    rev: Rev,
    deleted: boolean,
    body: JsonObject,
  ): string {
    // A document written again in the same batch keeps the sequence this batch gave it: one
    // atomic write is one update of it, as in CouchDB, and no reader ever saw the first.
    const again = current !== undefined && current.seq >= this.firstSeq;
    if (current && !again) {
      this.stream.push(seqKey(current.seq), null);
      this.seqRemoved.push(current.seq);
    }
    const seq = again ? current.seq : ++this.state.seq;
    const text = treeText ?? encodeTreeText(tree!);
    // `[id, rev, deleted]` by hand, as encodeRecord builds its head: revs are validated and need no
    // escaping. A fourth member, 1, says the tree is one run, so its one leaf is `rev`: a feed of
    // all leaves (every replicator's) then needs no record. Entries without it say nothing.
    this.stream.push(seqKey(seq), '[' + JSON.stringify(id) + ',"' + rev + '",' + (deleted ? 1 : 0) + (lineStart(text) > 0 ? ',1]' : ']'));
    if (!again) this.seqAdded.push(seq);
    const next = new DocRecord(id, tree, text, rev, deleted, seq, body, undefined);
    const encoded = encodeRecord(next);
    this.ops.set(docKey(id), encoded);
    this.state.liveBytes += encoded.length - this.records.set(id, next, encoded.length);
    // A database that never took an attachment has none to count (a body's missing `_attachments`
    // is a slow property miss, twice an update).
    if (this.state.attachmentsSeen !== false) {
      const attBytes = attachmentBytes(body) - (current ? attachmentBytes(current.body) : 0);
      if (attBytes !== 0) this.state.attBytes = (this.state.attBytes ?? 0) + attBytes;
    }

    if (current) {
      if (current.deleted) this.state.delCount--;
      else this.state.docCount--;
    }
    if (deleted) this.state.delCount++;
    else this.state.docCount++;
    const wasLive = current !== undefined && !current.deleted;
    if (this.liveDeltas && wasLive === deleted) this.liveDeltas.push(id, wasLive ? -1 : 1);

    if (this.state.autoIndex && (current?.body !== body || current?.deleted !== deleted)) {
      this.reindex(id, current && !current.deleted ? current.body : undefined, deleted ? undefined : body);
    }
    return encoded;
  }

  /** Stores `current` with `tree` in place of its own, nothing else about it changed. */
  protected keepTree(id: string, current: DocRecord, tree: RevTree): void {
    const next = new DocRecord(id, tree, encodeTreeText(tree), current.rev, current.deleted, current.seq, current.body, current.bodyJson);
    const encoded = encodeRecord(next);
    this.ops.set(docKey(id), encoded);
    this.state.liveBytes += encoded.length - this.records.set(id, next, encoded.length);
  }

  /** The batch's key changes (appendTo), once the bodies stemming dropped for good are among them. */
  override appendTo(chain: OpSink, sink: PostingSink): Map<string, string | null> {
    const dropped = this.droppedBodies.deleteUnkept(this.records, this.ops);
    // Their attachments may be named by nothing else now (the node's blob gc looks).
    const named = dropped.length > 0 && this.core.onRevisionsDropped ? this.attachmentsOfBodies(dropped) : undefined;
    const changes = super.appendTo(chain, sink);
    if (named) this.core.onRevisionsDropped!(named);
    return changes;
  }

  /**
   * The blob ids the attachments of these stored bodies name, as far as they can be read without
   * waiting (an engine without synchronous reads gives none: those blobs wait for gc by hand).
   */
  private attachmentsOfBodies(keys: readonly string[]): Set<string> {
    const ids = new Set<string>();
    for (const key of keys) {
      const value = this.storedNow(key);
      if (value === undefined || !value.includes('"_attachments"')) continue;
      for (const stub of Object.values(storedAttachments(JSON.parse(value) as JsonObject) ?? {})) ids.add(stub.digest);
    }
    return ids;
  }
}
