// Builds one atomic storage batch from many document edits: reads current records once, applies
// edits in order (later edits of the same doc see earlier ones), and decides every key change —
// record, body store, sequence entry, path index, counters — collected in its BatchChanges
// (batch-changes.ts) so they commit together or not at all. Records are stored by RecordCommits
// (record-commits.ts), which also makes the edits that only extend a line of revisions.

import { RefugeError, toRefugeError } from '../errors/index.ts';
import type { DbCore } from './core.ts';
import { DocRecord, oldBodyJson } from './doc-record.ts';
import { attachmentBytes, attachmentDigests, attachmentsOfEdit, type AttInputs, type AttStub } from './attachments.ts';
import { applyLocalEdit, applyReplicatedEdit, namedRev, type EarlyEdit } from './edits.ts';
import { JobStarts } from './job-starts.ts';
import { newDocIds } from './ids.ts';
import { docKey, revBodyKey, seqKey } from './keys.ts';
import { countEdit, countPurged } from './old-bodies.ts';
import { RecordCommits } from './record-commits.ts';
import { sameTree, sameVisibleTree, type RevTree } from './rev-tree.ts';
import { decodeTreeText } from './rev-tree-codec.ts';
import { winner } from './rev-leaves.ts';
import { newLine } from './rev-line.ts';
import { computeRev } from './rev-id.ts';
import { stem } from './rev-stemming.ts';
import type { JsonObject, WriteFailure, WriteResult } from './types.ts';
import { splitDoc, type SplitDoc } from './validate.ts';
import { writeFailure } from './write-failure.ts';

type WriteOutcome = WriteResult | WriteFailure;
/** An edit whose id is known (generated when the document had none). */
type Edit = SplitDoc & { id: string };

/** A per-document failure as its result; storage failures (internal, closed) fail the whole group. */
function failure(err: unknown, id: unknown): WriteFailure {
  const e = toRefugeError(err);
  if (e.code === 'internal' || e.code === 'closed') throw e;
  return writeFailure(typeof id === 'string' ? id : '', e);
}

export class WriteBatch extends RecordCommits {
  /** The records the running job's interactive edits found, by id (see checkRequestStart). */
  private readonly jobStart = new JobStarts();

  /** `pending` answers for keys written by earlier change sets not yet flushed to storage. */
  constructor(core: DbCore, pending: (key: string) => string | null | undefined = () => undefined) {
    super(core, pending);
  }

  /** A job (one request's writes) begins: its edits are judged against the records as it finds them. */
  startJob(): void {
    this.jobStart.clear();
  }

  /** Loads the current records of these ids in one storage round trip. */
  preload(docIds: Iterable<string>): Promise<void> {
    return this.records.load(docIds);
  }

  private async revBody(id: string, rev: string): Promise<JsonObject> {
    const raw = await this.read(revBodyKey(id, rev));
    if (raw === undefined) {
      throw new RefugeError('internal', `body of ${id} ${rev} is missing from the store`);
    }
    return JSON.parse(raw);
  }

  /** The stored body of `rev` (winner from the record, others from r!), when it is kept. */
  private async bodyOfRev(id: string, current: DocRecord, rev: string): Promise<JsonObject | undefined> {
    if (rev === current.rev) return current.body;
    if (!current.tree.get(rev)?.available) return undefined;
    return this.revBody(id, rev);
  }

  /**
   * Applies one document edit; per-document failures come back as results, as CouchDB does. The
   * answer is immediate when the record is loaded or can be read synchronously and nothing else
   * has to be read (no attachments, the winner's body at hand), a promise otherwise: a bulk write
   * then applies its documents without suspending for each (three awaits per document held a
   * 100k-doc bulk insert at 64k docs/s, 70k without them). `early` is this document's edit as
   * `editEarly` made it, if it did.
   */
  write(doc: unknown, newEdits: boolean, atts?: AttInputs, early?: EarlyEdit): WriteOutcome | Promise<WriteOutcome> {
    let id = (doc as { _id?: unknown } | null)?._id;
    try {
      const edit = early?.edit ?? splitDoc(doc, newEdits);
      if (edit.id === undefined) {
        if (!newEdits) throw new RefugeError('bad_request', 'new_edits=false needs an _id on every document');
        edit.id = newDocIds.next();
      }
      id = edit.id;
      if (edit.id.startsWith('_local/')) throw new RefugeError('bad_request', '_local documents are written with putLocal');
      if (atts !== undefined) this.state.attachmentsSeen = true;
      if (atts === undefined && this.records.loadedNow(edit.id)) {
        // apply's promise, when it has one, can only fail in storage: that fails the group, as failure() would.
        return this.apply(edit as Edit, this.records.loaded(edit.id), newEdits, undefined, early?.revIfNew);
      }
      return this.writeLoading(edit as Edit, newEdits, atts);
    } catch (err) {
      return failure(err, id);
    }
  }

  /** `write` once the record is read and the attachments are resolved. */
  private async writeLoading(edit: Edit, newEdits: boolean, atts: AttInputs | undefined): Promise<WriteOutcome> {
    try {
      const current = await this.records.get(edit.id);
      const bodyOf = (rev: string) => (current ? this.bodyOfRev(edit.id, current, rev) : Promise.resolve(undefined));
      const stubs = atts ? await attachmentsOfEdit(current, edit, newEdits, atts, bodyOf) : undefined;
      return await this.apply(edit, current, newEdits, stubs);
    } catch (err) {
      return failure(err, edit.id);
    }
  }

  private apply(
    edit: Edit,
    current: DocRecord | undefined,
    newEdits: boolean,
    stubs: Record<string, AttStub> | undefined,
    revIfNew?: string,
  ): WriteResult | Promise<WriteResult> {
    if (newEdits) this.jobStart.check(edit, current);
    // An earlier edit of this batch stemmed the tree: this one merges into the unstemmed one. Its
    // leaves and winner are the stemmed tree's, so a local edit is judged the same either way.
    const unstemmed = this.unstemmed?.get(edit.id);
    if (newEdits && current && unstemmed === undefined && stubs === undefined) {
      const rev = this.extendLeaf(edit, current);
      if (rev !== undefined) return { ok: true, id: edit.id, rev };
    }
    if (newEdits && current === undefined && unstemmed === undefined && stubs === undefined && namedRev(edit) === undefined) {
      // A new document (a bulk load's every one) is its tree's one revision: its text is written
      // as is, with no tree built, stemmed, judged for a winner and encoded.
      const rev = revIfNew ?? computeRev(null, edit.deleted, edit.body);
      this.storeWinner(edit.id, undefined, undefined, newLine(rev, edit.deleted), rev, edit.deleted, edit.body);
      return { ok: true, id: edit.id, rev };
    }
    const merged = typeof unstemmed === 'string' ? decodeTreeText(unstemmed) : unstemmed;
    const base = current && merged ? new DocRecord(current.id, merged, undefined, current.rev, current.deleted, current.seq, current.body, current.bodyJson) : current;
    const outcome = newEdits ? applyLocalEdit(base, edit, attachmentDigests(stubs), revIfNew) : applyReplicatedEdit(base, edit);
    const result: WriteResult = { ok: true, id: edit.id, rev: outcome.rev };
    if (!outcome.added && base && outcome.tree === base.tree) return result;
    const body = stubs ? { ...edit.body, _attachments: stubs } : edit.body;
    const reading = this.commitTree(edit.id, current, outcome.tree, outcome.added, outcome.rev, body, base?.tree);
    return reading === undefined ? result : reading.then(() => result);
  }

  /**
   * Records a grown tree; a promise only when the new winner's body must first be read from storage.
   * `base` is the tree it grew from: `current`'s, or the unstemmed one of an earlier edit of the batch.
   */
  private commitTree(
    id: string,
    current: DocRecord | undefined,
    grown: DocRecord['tree'],
    added: boolean,
    newRev: string,
    newBody: JsonObject,
    base: RevTree | undefined = current?.tree,
  ): Promise<void> | undefined {
    const tree = stem(grown, this.state.revsLimit);
    if (tree !== grown || this.unstemmed?.has(id)) (this.unstemmed ??= new Map()).set(id, grown);
    // A body stemming dropped at once may still be kept by a later edit of this batch: stored
    // meanwhile, as every body the unstemmed tree holds is, and deleted at the end if it is not.
    if (added && !tree.has(newRev)) {
      this.ops.set(revBodyKey(id, newRev), JSON.stringify(newBody));
      this.droppedBodies.add(id, newRev);
    }
    // Nothing changed once stemmed (a revision re-sent after revs_limit dropped it): no write, no
    // sequence. Any other change to the tree, even a parent link learnt without a new revision
    // (which can change the winner), is a change with a new sequence, as in CouchDB.
    // (A new revision that survived stemming is a change: no need to compare the trees.)
    if (current && !(added && tree.has(newRev) && !current.tree.has(newRev)) && sameTree(tree, current.tree)) return undefined;
    if (current && !added && sameVisibleTree(current.tree, tree)) {
      // Only parent pointers to revisions stemming dropped again were learnt: CouchDB's stemmed
      // tree is unchanged (no update). They are kept for later merges, without a new sequence.
      this.keepTree(id, current, tree);
      return undefined;
    }
    const win = winner(tree);
    // The incoming body is the winner's only when it is new to the tree: a revision re-sent with a
    // longer history keeps the body stored for it (CouchDB's key tree merge keeps the stored value,
    // value_pref), whatever body or deletion the re-sent copy carries.
    if (win.rev === newRev && added) this.commitWinner(id, current, grown, base, tree, win, added, newRev, newBody, newBody);
    else if (current && win.rev === current.rev) this.commitWinner(id, current, grown, base, tree, win, added, newRev, newBody, current.body);
    else {
      return this.revBody(id, win.rev).then((body) => {
        this.ops.set(revBodyKey(id, win.rev), null);
        this.commitWinner(id, current, grown, base, tree, win, added, newRev, newBody, body);
      });
    }
    return undefined;
  }

  private commitWinner(
    id: string,
    current: DocRecord | undefined,
    grown: DocRecord['tree'],
    base: RevTree | undefined,
    tree: DocRecord['tree'],
    win: { rev: string; deleted: boolean },
    added: boolean,
    newRev: string,
    newBody: JsonObject,
    body: JsonObject,
  ): void {
    // Every available non-winning revision keeps its body under r!, until compaction.
    let oldWinnerJson: string | undefined;
    if (current && current.rev !== win.rev && grown.get(current.rev)?.available) {
      oldWinnerJson = oldBodyJson(current);
      this.ops.set(revBodyKey(id, current.rev), oldWinnerJson);
      if (!tree.has(current.rev)) this.droppedBodies.add(id, current.rev);
    }
    if (added && newRev !== win.rev && tree.has(newRev)) {
      this.ops.set(revBodyKey(id, newRev), JSON.stringify(newBody));
    }
    // Bodies of revisions stemming dropped (none when it dropped nothing: the same tree comes back),
    // deleted with the batch (appendTo). Counted as they leave the stored tree: those an
    // earlier edit of the batch dropped already were.
    const stemmed = current && tree !== grown ? this.droppedBodies.addStemmed(id, current, grown, tree, base) : undefined;
    const encoded = this.storeWinner(id, current, tree, undefined, win.rev, win.deleted, body);
    if (current) countEdit(this.state, current, grown, tree, added ? newRev : undefined, oldWinnerJson, stemmed, encoded);
  }

  /** A document's current record, this batch's changes included (for purge). */
  current(id: string): Promise<DocRecord | undefined> {
    return this.records.get(id);
  }

  /**
   * Purge with leaves left: `tree` is the current tree without the purged branches. Their bodies
   * go, the new winner's body moves into the record, and the document takes a new sequence.
   */
  async prune(id: string, current: DocRecord, tree: RevTree): Promise<void> {
    this.unstemmed?.delete(id);
    const gone = [...current.tree.keys()].filter((rev) => !tree.has(rev) && rev !== current.rev);
    for (const rev of gone) this.ops.set(revBodyKey(id, rev), null);
    countPurged(this.state, current, gone);
    const win = winner(tree);
    const body = win.rev === current.rev ? current.body : await this.revBody(id, win.rev);
    if (win.rev !== current.rev) this.ops.set(revBodyKey(id, win.rev), null);
    await this.commitTree(id, current, tree, true, win.rev, body);
  }

  /** Purge of every leaf: record, bodies, sequence entry, path index entries and count all go. */
  drop(id: string, current: DocRecord): void {
    this.unstemmed?.delete(id);
    for (const rev of current.tree.keys()) if (rev !== current.rev) this.ops.set(revBodyKey(id, rev), null);
    countPurged(this.state, current, current.tree.keys());
    this.ops.set(docKey(id), null);
    this.state.liveBytes -= this.records.set(id, null, 0);
    const attBytes = attachmentBytes(current.body);
    if (attBytes !== 0) this.state.attBytes = (this.state.attBytes ?? 0) - attBytes;
    this.stream.push(seqKey(current.seq), null);
    this.seqRemoved.push(current.seq);
    if (current.deleted) this.state.delCount--;
    else this.state.docCount--;
    if (this.liveDeltas && !current.deleted) this.liveDeltas.push(id, -1);
    if (this.state.autoIndex && !current.deleted) this.reindex(id, current.body, undefined);
  }
}
