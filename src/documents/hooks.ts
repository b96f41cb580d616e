// Hooks a database calls into the layer above it (design documents): a check on every write path,
// run here over a write, and named changes filters. The documents folder knows neither the sandbox
// nor design documents.
import type { RefugeError } from '../errors/index.ts';
import type { BulkDocsOptions, Doc, WriteFailure } from './types.ts';
import { writeFailure } from './write-failure.ts';

/** Who is writing or reading, as CouchDB's `userCtx`. */
export interface UserCtx {
  name: string | null;
  roles: string[];
}

/** An embedding application owns its database: without a userCtx, calls act as the admin. */
export const LOCAL_ADMIN: UserCtx = { name: null, roles: ['_admin'] };

/** Whether a part of a `_security` object (`members`, `admins`) names the user or one of their roles. */
export function securityNames(part: unknown, user: UserCtx): boolean {
  if (part === null || typeof part !== 'object') return false;
  const { names, roles } = part as { names?: unknown; roles?: unknown };
  return (Array.isArray(names) && user.name !== null && names.includes(user.name)) || (Array.isArray(roles) && user.roles.some((role) => roles.includes(role)));
}

/** CouchDB's database admin: a server admin, or a user the database's `_security` names as an admin. */
export function isDbAdmin(user: UserCtx, secObj: Record<string, unknown>): boolean {
  return user.roles.includes('_admin') || securityNames(secObj.admins, user);
}

export interface WriteContext {
  userCtx: UserCtx;
  /** false for replicated writes (`new_edits: false`). */
  newEdits: boolean;
}

export interface FilterRequest {
  /** `filter=ddoc/name`, `_view` (with `view`), or `_design`. */
  name: string;
  view?: string;
  /** The request's query parameters, handed to the filter function as `req.query`. */
  query?: Record<string, unknown>;
  userCtx?: UserCtx;
  /** More of CouchDB's request object (method, headers, body, path, peer), from the request that made the feed. */
  request?: Record<string, unknown>;
}

export interface DesignHooks {
  /**
   * Checks documents before they are queued for writing; per document an error (it is refused and
   * reported in its slot, the others are written) or undefined. Runs for every write path.
   */
  checkWrites?(docs: readonly Doc[], ctx: WriteContext): Promise<Array<RefugeError | undefined>>;
  /**
   * True when `checkWrites` would pass every one of these documents and that is known without
   * waiting (no design document among them, no validation function in the database): the write
   * is then queued at once, with no round through the check.
   */
  passesUnchecked?(docs: readonly unknown[]): boolean;
  /** Told after design documents were written (committed or not), so cached ones are reloaded. */
  designWritten?(): void;
  /** Called when the database closes: the layer above closes its indexes. */
  close?(): Promise<void>;
  /**
   * Compiles a named changes filter into a predicate judging many documents at once (deleted ones
   * included), so a feed crosses into the sandbox once per chunk, not once per document.
   */
  compileFilter?(request: FilterRequest): Promise<(docs: Doc[]) => Promise<boolean[]>>;
}

/** Rewrites documents before any check or write, knowing who writes (see setWritePreparation). */
export type WritePreparation = (docs: readonly unknown[], ctx: WriteContext) => Promise<unknown[]>;

/** Who writes, and how: the caller's userCtx (the local admin when none), and whether the edits are new. */
export function writeContext(options: BulkDocsOptions): WriteContext {
  return { userCtx: options.userCtx ?? LOCAL_ADMIN, newEdits: options.newEdits !== false };
}

/** Runs the write hook over the documents that are objects; answers its refusals by position. */
export async function runWriteChecks(
  check: NonNullable<DesignHooks['checkWrites']>,
  docs: readonly unknown[],
  options: BulkDocsOptions,
): Promise<Array<WriteFailure | undefined> | undefined> {
  const candidates = docs.filter((d): d is Doc => d !== null && typeof d === 'object' && !Array.isArray(d));
  if (candidates.length === 0) return undefined;
  const verdicts = await check(candidates, writeContext(options));
  let k = 0;
  return docs.map((d) => {
    if (d === null || typeof d !== 'object' || Array.isArray(d)) return undefined;
    const err = verdicts[k++];
    return err ? writeFailure(typeof (d as Doc)._id === 'string' ? (d as Doc)._id! : '', err) : undefined;
  });
}
