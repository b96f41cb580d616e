// The design documents of one database, read once and cached until one is written; the hooks
// the database calls (validation on writes, named filters) are answered from here.
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { isDbAdmin, type Database, type Doc, type FilterRequest, type WriteContext } from '../documents/index.ts';
import { designFunctionSources } from './design-shape.ts';
import { parseDesignDoc } from '../views/index.ts';
import { searchDefinitions } from '../search/index.ts';
import type { SandboxCache } from './sandboxes.ts';

/**
 * A system database's own validate_doc_update (as CouchDB's `_users` has `_design/_auth`): run on
 * every document write but design documents', before those the design documents define.
 */
export type BuiltinValidator = (newDoc: Doc, oldDoc: Doc | null, userCtx: WriteContext['userCtx']) => RefugeError | undefined;

export class DesignDocs {
  private cache: Promise<Doc[]> | undefined;
  private generation = 0;
  /** Whether the loaded design documents (of the current generation) define validate_doc_update; undefined until loaded. */
  private validates: boolean | undefined;

  constructor(
    readonly db: Database,
    readonly sandboxes: SandboxCache,
    private readonly secObj: () => Promise<Record<string, unknown>> = async () => ({}),
    private readonly builtin?: BuiltinValidator,
  ) {}

  /** Called by the database after design documents were written. */
  invalidate(): void {
    this.generation++;
    this.cache = undefined;
    this.validates = undefined;
  }

  /** The write hook's quick answer: true when no document needs checking, as far as known now. */
  passesUnchecked(docs: readonly unknown[]): boolean {
    if (this.builtin) return false;
    if (this.validates !== false) {
      if (this.validates === undefined) void this.all().catch(() => undefined);
      return false;
    }
    for (const d of docs) {
      const id = d !== null && typeof d === 'object' ? (d as Doc)._id : undefined;
      if (typeof id === 'string' && id.startsWith('_design/')) return false;
    }
    return true;
  }

  /** Every live design document, by id order. */
  all(): Promise<Doc[]> {
    if (this.cache) return this.cache;
    const generation = this.generation;
    const load = (async () => {
      const res = await this.db.allDocs({ startkey: '_design/', endkey: '_design0', inclusiveEnd: false, includeDocs: true, offset: false });
      const docs = res.rows.flatMap((r) => (r.doc ? [r.doc as Doc] : []));
      this.sandboxes.retain(new Set(docs.map((d) => d._id!)));
      return docs;
    })();
    // A write that landed while loading may be missing from this read: keep it only if none did.
    load.then(
      (docs) => {
        if (generation !== this.generation && this.cache === load) this.cache = undefined;
        else if (generation === this.generation) this.validates = docs.some((d) => typeof d.validate_doc_update === 'string');
      },
      () => {
        if (this.cache === load) this.cache = undefined;
      },
    );
    this.cache = load;
    return load;
  }

  async get(name: string): Promise<Doc> {
    const id = name.startsWith('_design/') ? name : `_design/${name}`;
    const found = (await this.all()).find((d) => d._id === id);
    if (!found) throw new RefugeError('not_found', 'missing');
    return found;
  }

  /** The database's write hook: design documents need an admin and must compile; others pass every validate_doc_update. */
  async checkWrites(docs: readonly Doc[], ctx: WriteContext): Promise<Array<RefugeError | undefined>> {
    const out: Array<RefugeError | undefined> = new Array(docs.length).fill(undefined);
    const checked: number[] = [];
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i]!;
      const id = typeof doc._id === 'string' ? doc._id : undefined;
      if (id?.startsWith('_local/')) continue;
      if (id?.startsWith('_design/')) out[i] = await this.checkDesignWrite(doc, ctx);
      else checked.push(i);
    }
    if (checked.length === 0) return out;
    const validators = (await this.all()).flatMap((d) => (typeof d.validate_doc_update === 'string' ? [{ ddoc: d, source: d.validate_doc_update }] : []));
    if (validators.length === 0 && !this.builtin) return out;
    await this.runValidators(validators, checked, docs, ctx, out);
    return out;
  }

  /**
   * Every validator over the documents at `slots`, each judged against the documents as the write
   * found them; a document's first refusal is its answer. One sandbox call per validator for them all.
   */
  private async runValidators(validators: Array<{ ddoc: Doc; source: string }>, slots: number[], docs: readonly Doc[], ctx: WriteContext, out: Array<RefugeError | undefined>): Promise<void> {
    const ids = slots.flatMap((i) => (typeof docs[i]!._id === 'string' ? [docs[i]!._id!] : []));
    const stored = new Map<string, Doc | null>();
    const winners = await this.db.storedWinners(ids);
    ids.forEach((id, k) => stored.set(id, winners[k]!));
    let pending: Array<{ slot: number; newDoc: Doc; oldDoc: Doc | null }> = [];
    for (const slot of slots) {
      const doc = docs[slot]!;
      const newDoc = { ...doc, _id: doc._id ?? '' };
      const oldDoc = (typeof doc._id === 'string' && stored.get(doc._id)) || null;
      const refused = this.builtin?.(newDoc, oldDoc, ctx.userCtx);
      if (refused) out[slot] = refused;
      else pending.push({ slot, newDoc, oldDoc });
    }
    if (pending.length === 0) return;
    const secObj = await this.secObj();
    // CouchDB's userCtx names the database too.
    const userCtx = { ...ctx.userCtx, db: this.db.name };
    for (const { ddoc, source } of validators) {
      const { sandbox, fn } = await this.sandboxes.compile(ddoc, source);
      let results: Array<RefugeError | undefined>;
      try {
        results = await sandbox.validateMany(fn, pending.map((p) => [p.newDoc, p.oldDoc] as const), userCtx, secObj);
      } catch (err) {
        if (!isRefugeError(err)) throw err;
        // The call failed as a whole (a document past the time limit): each is judged alone, in
        // turn, the node answering other requests meanwhile.
        results = [];
        for (const p of pending) {
          try {
            await sandbox.validateAsync(fn, p.newDoc, p.oldDoc, userCtx, secObj);
            results.push(undefined);
          } catch (one) {
            if (!isRefugeError(one)) throw one;
            results.push(one);
          }
        }
      }
      pending = pending.filter((p, k) => {
        out[p.slot] = results[k];
        return results[k] === undefined;
      });
      if (pending.length === 0) return;
    }
  }

  private async checkDesignWrite(doc: Doc, ctx: WriteContext): Promise<RefugeError | undefined> {
    if (!isDbAdmin(ctx.userCtx, await this.secObj())) return new RefugeError('unauthorized', 'You are not a db or server admin.');
    if (doc._deleted === true) return undefined;
    // A language Refuge cannot run is stored unchecked, as CouchDB stores it ("allow users to save
    // ddocs written in unknown languages"), so such a database replicates whole; using one of its
    // functions (a view, a filter, a validation) is then the error.
    const language = doc.language ?? 'javascript';
    if (typeof language === 'string' && language !== 'javascript' && language !== 'query') return undefined;
    try {
      // The views' and search indexes' own checks give CouchDB's reasons for malformed definitions.
      parseDesignDoc(doc);
      // No database here is partitioned, and CouchDB refuses a design document that says it is
      // (couch_mrview:validate): checked on writes only, so one stored before still reads.
      if ((doc.options as { partitioned?: unknown } | undefined)?.partitioned === true) {
        return new RefugeError('invalid_design_doc', 'partitioned option cannot be true in a non-partitioned database.');
      }
      searchDefinitions(doc);
      const sources = designFunctionSources(doc);
      if (sources.length === 0) return undefined;
      // Compile in a throwaway sandbox: the stored revision's sandbox must not see an unwritten one.
      const probe = { ...doc, _id: `${doc._id}\u0000probe`, _rev: "probe" };
      try {
        for (const { where, source } of sources) {
          try {
            await this.sandboxes.compile(probe, source);
          } catch (err) {
            if (isRefugeError(err, 'compilation_error')) {
              return new RefugeError('compilation_error', `Compilation of the function at ${where} failed: ${err.reason}`);
            }
            throw err;
          }
        }
      } finally {
        this.sandboxes.retain(new Set((await this.all()).map((d) => d._id!)));
      }
      return undefined;
    } catch (err) {
      if (isRefugeError(err)) return err;
      throw err;
    }
  }

  /** The database's filter hook: `ddoc/name` filter functions and `_view` (docs the map emits for). */
  async compileFilter(request: FilterRequest): Promise<(docs: Doc[]) => Promise<boolean[]>> {
    if (request.name === '_view') {
      // CouchDB's words when the parameter is missing altogether (couch_changes:configure_filter).
      if (!request.view) throw new RefugeError('bad_request', '`view` filter parameter is not provided.');
      const [ddocName, viewName] = splitName(request.view, 'view');
      const ddoc = await this.get(ddocName);
      const view = jsonMember(jsonMember(ddoc, 'views'), viewName) as { map?: unknown };
      if (typeof view.map !== 'string') throw new RefugeError('not_found', 'missing_named_view');
      const { sandbox, fn } = await this.sandboxes.compile(ddoc, view.map);
      return async (docs) => (await sandbox.mapAsync(fn, docs)).map((rows) => Array.isArray(rows) && rows.length > 0);
    }
    // Any other name with CouchDB's builtin prefix is none of its builtins (`_design/d/f` is d's f).
    if (request.name.startsWith('_') && !request.name.startsWith('_design/')) {
      throw new RefugeError('bad_request', 'unknown builtin filter name');
    }
    const [ddocName, filterName] = splitName(request.name, 'filter');
    const ddoc = await this.get(ddocName);
    const source = jsonMember(jsonMember(ddoc, 'filters'), filterName);
    if (typeof source !== 'string') throw new RefugeError('not_found', `missing json key: ${filterName}`);
    const { sandbox, fn } = await this.sandboxes.compile(ddoc, source);
    // CouchDB's request object: the request that made the feed (method, headers, body, path, peer;
    // a replication has none), its query, the caller (with the database named, as CouchDB names it),
    // the security object, which "members only" filters read, and the database's info.
    const userCtx = { ...(request.userCtx ?? { name: null, roles: [] }), db: this.db.name };
    // Counters as they stand (not info(), which measures the files on disk): read once per feed.
    const state = this.db.core.state;
    const req = {
      id: null,
      method: 'GET',
      headers: {},
      body: 'undefined',
      path: [this.db.name, '_changes'],
      requested_path: [this.db.name, '_changes'],
      raw_path: `/${encodeURIComponent(this.db.name)}/_changes`,
      peer: '127.0.0.1',
      cookie: {},
      form: {},
      ...request.request,
      query: request.query ?? {},
      userCtx,
      secObj: await this.secObj(),
      info: { db_name: this.db.name, doc_count: state.docCount, doc_del_count: state.delCount, update_seq: state.seq, purge_seq: state.purgeSeq, instance_start_time: this.db.instanceStartTime },
    };
    return async (docs) =>
      (await sandbox.filterAsync(fn, docs, req)).map((passed) => {
        // A filter that throws fails the request, as in CouchDB; it does not just leave the doc out.
        if (passed instanceof Error) throw passed;
        return passed === true;
      });
  }
}

/**
 * A member of a design document's JSON, or CouchDB's 404 naming the first key missing on the way
 * (couch_util:get_nested_json_value, which CouchDB checks a filter's or view's path with): a design
 * document without `views` says so rather than naming the view.
 */
function jsonMember(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RefugeError('not_found', 'json_mismatch');
  if (!Object.hasOwn(value, key)) throw new RefugeError('not_found', `missing json key: ${key}`);
  return (value as Record<string, unknown>)[key];
}

function splitName(value: string | undefined, what: string): [string, string] {
  const m = value === undefined ? null : /^(?:_design\/)?([^/]+)\/([^/]+)$/.exec(value);
  if (!m) throw new RefugeError('bad_request', `\`${what}\` must be of the form \`designname/${what}name\``);
  return [m[1]!, m[2]!];
}
