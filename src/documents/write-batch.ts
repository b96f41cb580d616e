// Builds one atomic storage batch from many document edits: reads current records once, applies
// edits in order (later edits of the same doc see earlier ones), and collects every key change —
// record, body store, sequence entry, path index, counters — so they commit together or not at all.

import { RefugeError, toRefugeError } from '../errors/index.ts';
import type { IndexValue } from '../query/index.ts';
import type { KvChain } from '../storage/index.ts';
import type { DbCore, DbState } from './core.ts';
import { BatchRecords } from './batch-records.ts';
import { encodeRecord, type DocRecord } from './doc-record.ts';
import { attachmentDigests, attachmentsOfEdit, type AttInputs, type AttStub } from './attachments.ts';
import { applyLocalEdit, applyReplicatedEdit, checkRequestStart, type EarlyEdit } from './edits.ts';
import { IdGenerator } from './ids.ts';
import { diffIndexEntries } from './index-diff.ts';
import { docKey, revBodyKey, seqKey } from './keys.ts';
import { groupTag, PostingCollector } from './postings.ts';
import { countEdit, countPurged } from './old-bodies.ts';
import { sameTree, sameVisibleTree, stem, winner, type RevTree } from './rev-tree.ts';
import type { JsonObject, WriteFailure, WriteResult } from './types.ts';
import { splitDoc, type SplitDoc } from './validate.ts';

const ids = new IdGenerator();

type WriteOutcome = WriteResult | WriteFailure;
/** An edit whose id is known (generated when the document had none). */
type Edit = SplitDoc & { id: string };

/** A per-document failure as its result; storage failures (internal, closed) fail the whole group. */
function failure(err: unknown, id: unknown): WriteFailure {
  const e = toRefugeError(err);
  if (e.code === 'internal' || e.code === 'closed') throw e;
  return { id: typeof id === 'string' ? id : '', error: e.code, reason: e.reason };
}

function checkKey(key: string): void {
  if (!(key as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new RefugeError('bad_request', 'a key derived from this write is not well-formed Unicode');
  }
}

export class WriteBatch {
  /** Keys a later read may ask for (records, bodies, local docs): key -> value, null = delete. */
  private readonly ops = new Map<string, string | null>();
  /**
   * Write-only keys (sequence entries), in order as [key, value | null] pairs, never read back:
   * they go to the engine without a map, and a later op on the same key wins there.
   */
  private readonly stream: Array<string | null> = [];
  /** This group's path index changes, stored as one posting per value (postings.ts). */
  private readonly postings = new PostingCollector();
  /** Sequence entries this batch removes and adds, for the pending counts (seq-counts.ts). */
  readonly seqRemoved: number[] = [];
  readonly seqAdded: number[] = [];
  /** Ids that became live (+1) or stopped being (-1), as pairs; kept only once ids are counted. */
  readonly liveDeltas: Array<string | number> | null;
  private readonly records: BatchRecords;
  readonly state: DbState;
  /**
   * The merged, unstemmed trees of documents this batch stemmed: CouchDB merges every edit of a
   * document in one update, then stems once (couch_db_updater:merge_rev_trees), so a later edit
   * merges into what an earlier one's stemming dropped, not into the stemmed tree.
   */
  private readonly unstemmed = new Map<string, RevTree>();
  /**
   * Revisions whose bodies stemming dropped, by document: deleted once the batch is done, unless
   * the final tree kept them (a later edit in the batch brought them within revs_limit again).
   */
  private readonly droppedBodies = new Map<string, Set<string>>();
  /** The records the running job's interactive edits found, by id (see checkRequestStart). */
  private readonly jobStart = new Map<string, DocRecord | undefined>();

  /** `pending` answers for keys written by earlier change sets not yet flushed to storage. */
  constructor(
    private readonly core: DbCore,
    private readonly pending: (key: string) => string | null | undefined = () => undefined,
  ) {
    this.records = new BatchRecords(core.store, pending);
    this.state = { ...core.state };
    this.liveDeltas = core.idCounts.ready ? [] : null;
    this.firstSeq = core.state.seq + 1;
  }

  /** The first sequence this batch assigns: a record at or past it was written by this batch. */
  private readonly firstSeq: number;

  /** A key's current value: this batch's own changes, then unflushed ones, then storage. */
  async read(key: string): Promise<string | undefined> {
    const mine = this.ops.get(key);
    if (mine !== undefined) return mine ?? undefined;
    const queued = this.pending(key);
    if (queued !== undefined) return queued ?? undefined;
    const store = this.core.store;
    return store.getSync ? store.getSync(key) : store.get(key);
  }

  get size(): number {
    return this.ops.size + this.stream.length / 2 + this.postings.entries;
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
        edit.id = ids.next();
      }
      id = edit.id;
      if (edit.id.startsWith('_local/')) throw new RefugeError('bad_request', '_local documents are written with putLocal');
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
    if (newEdits) {
      if (this.jobStart.has(edit.id)) checkRequestStart(this.jobStart.get(edit.id), edit);
      else this.jobStart.set(edit.id, current);
    }
    // An earlier edit of this batch stemmed the tree: this one merges into the unstemmed one. Its
    // leaves and winner are the stemmed tree's, so a local edit is judged the same either way.
    const merged = this.unstemmed.get(edit.id);
    const base = current && merged ? { ...current, tree: merged } : current;
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
    if (tree !== grown || this.unstemmed.has(id)) this.unstemmed.set(id, grown);
    // A body stemming dropped at once may still be kept by a later edit of this batch: stored
    // meanwhile, as every body the unstemmed tree holds is, and deleted at the end if it is not.
    if (added && !tree.has(newRev)) {
      this.ops.set(revBodyKey(id, newRev), JSON.stringify(newBody));
      this.dropBody(id, newRev);
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

  private dropBody(id: string, rev: string): void {
    let revs = this.droppedBodies.get(id);
    if (revs === undefined) this.droppedBodies.set(id, (revs = new Set()));
    revs.add(rev);
  }

  /** Deletes the bodies stemming dropped that the documents' final trees do not hold. */
  private deleteDroppedBodies(): void {
    for (const [id, revs] of this.droppedBodies) {
      const record = this.records.loaded(id);
      for (const rev of revs) if (!record?.tree.has(rev) || record.rev === rev) this.ops.set(revBodyKey(id, rev), null);
    }
    this.droppedBodies.clear();
  }

  /** Stores `current` with `tree` in place of its own, nothing else about it changed. */
  private keepTree(id: string, current: DocRecord, tree: RevTree): void {
    const next: DocRecord = { id, tree, rev: current.rev, deleted: current.deleted, seq: current.seq, body: current.body, bodyJson: current.bodyJson };
    const encoded = encodeRecord(next);
    this.ops.set(docKey(id), encoded);
    this.state.liveBytes += encoded.length - this.records.set(id, next, encoded.length);
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
      oldWinnerJson = current.bodyJson ?? JSON.stringify(current.body);
      this.ops.set(revBodyKey(id, current.rev), oldWinnerJson);
      if (!tree.has(current.rev)) this.dropBody(id, current.rev);
    }
    if (added && newRev !== win.rev && tree.has(newRev)) {
      this.ops.set(revBodyKey(id, newRev), JSON.stringify(newBody));
    }
    // Bodies of revisions stemming dropped (none when it dropped nothing: the same tree comes back),
    // deleted with the batch (deleteDroppedBodies). Counted as they leave the stored tree: those an
    // earlier edit of the batch dropped already were.
    let stemmed: string[] | undefined;
    if (current && tree !== grown) {
      for (const [rev, node] of grown) {
        if (!tree.has(rev) && node.available && rev !== current.rev) {
          this.dropBody(id, rev);
          if (current.tree.has(rev) || !base?.has(rev)) (stemmed ??= []).push(rev);
        }
      }
    }

    // A document written again in the same batch keeps the sequence this batch gave it: one
    // atomic write is one update of it, as in CouchDB, and no reader ever saw the first.
    const again = current !== undefined && current.seq >= this.firstSeq;
    if (current && !again) {
      this.stream.push(seqKey(current.seq), null);
      this.seqRemoved.push(current.seq);
    }
    const seq = again ? current.seq : ++this.state.seq;
    // `[id, rev, deleted]` by hand, as encodeRecord builds its head: revs are validated and need no escaping.
    this.stream.push(seqKey(seq), '[' + JSON.stringify(id) + ',"' + win.rev + '",' + (win.deleted ? 1 : 0) + ']');
    if (!again) this.seqAdded.push(seq);
    const next: DocRecord = { id, tree, rev: win.rev, deleted: win.deleted, seq, body, bodyJson: undefined };
    const encoded = encodeRecord(next);
    this.ops.set(docKey(id), encoded);
    this.state.liveBytes += encoded.length - this.records.set(id, next, encoded.length);
    if (current) countEdit(this.state, current, grown, tree, added ? newRev : undefined, oldWinnerJson, stemmed, encoded);

    if (current) {
      if (current.deleted) this.state.delCount--;
      else this.state.docCount--;
    }
    if (next.deleted) this.state.delCount++;
    else this.state.docCount++;
    const wasLive = current !== undefined && !current.deleted;
    if (this.liveDeltas && wasLive === next.deleted) this.liveDeltas.push(id, wasLive ? -1 : 1);

    if (this.state.autoIndex && (current?.body !== body || current?.deleted !== next.deleted)) {
      this.reindex(id, current && !current.deleted ? current.body : undefined, next.deleted ? undefined : body);
    }
  }

  private reindex(id: string, before: JsonObject | undefined, after: JsonObject | undefined): void {
    const postings = this.postings;
    postings.forDoc(id);
    diffIndexEntries(this.core.indexEntries, before, after, postings.add, postings.remove);
  }

  /** Adds one path index entry (the index rebuild). */
  indexPut(id: string, path: string, value: IndexValue): void {
    this.postings.set(path, value, id, true);
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
    this.unstemmed.delete(id);
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
    this.unstemmed.delete(id);
    for (const rev of current.tree.keys()) if (rev !== current.rev) this.ops.set(revBodyKey(id, rev), null);
    countPurged(this.state, current, current.tree.keys());
    this.ops.set(docKey(id), null);
    this.state.liveBytes -= this.records.set(id, null, 0);
    this.stream.push(seqKey(current.seq), null);
    this.seqRemoved.push(current.seq);
    if (current.deleted) this.state.delCount--;
    else this.state.docCount--;
    if (this.liveDeltas && !current.deleted) this.liveDeltas.push(id, -1);
    if (this.state.autoIndex && !current.deleted) this.reindex(id, current.body, undefined);
  }

  /** Raw key changes for work outside documents (local docs, compaction). */
  setRaw(key: string, value: string | null): void {
    this.ops.set(key, value);
  }

  /**
   * Appends every key change of the batch to `chain`, and returns the readable part (records,
   * bodies, local docs) for read-your-writes until the chain is written. The counters (`state`) are
   * not among them: the writer stores them once per chain, as they stand when it is written.
   */
  appendTo(chain: KvChain): Map<string, string | null> {
    this.deleteDroppedBodies();
    // Checked before the first op is added: a chain may already hold earlier acknowledged groups,
    // so this group must go in whole or not at all.
    for (const key of this.ops.keys()) checkKey(key);
    for (let i = 0; i < this.stream.length; i += 2) checkKey(this.stream[i]!);
    const postings: string[] = [];
    if (!this.postings.isEmpty) {
      this.postings.forEach(groupTag(this.state.indexGroup + 1), (key, value) => {
        checkKey(key);
        postings.push(key, value);
      });
      this.state.indexGroup++;
    }
    for (const [key, value] of this.ops) {
      if (value === null) chain.del(key);
      else chain.put(key, value);
    }
    const stream = this.stream;
    for (let i = 0; i < stream.length; i += 2) {
      const value = stream[i + 1];
      if (value === null) chain.del(stream[i]!);
      else chain.put(stream[i]!, value!);
    }
    for (let i = 0; i < postings.length; i += 2) chain.put(postings[i]!, postings[i + 1]!);
    return this.ops;
  }
}
