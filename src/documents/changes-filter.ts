// Compiles the filters of a changes request (doc ids, a Mango selector, a design document's named
// filter, `_design`) into one ChangesFilter the feed reader applies row by row.

import { RefugeError } from '../errors/index.ts';
import { parseFields } from '../query/index.ts';
import type { ChangesFilter } from './changes.ts';
import { LOCAL_ADMIN, type DesignHooks } from './hooks.ts';
import type { ChangesOptions, Doc } from './types.ts';
import { checkLongIds } from './validate.ts';

export async function compileChangesFilter(
  options: ChangesOptions,
  compileSelector: (selector: unknown) => (doc: Doc) => boolean,
  hooks: DesignHooks,
): Promise<ChangesFilter> {
  const filter: ChangesFilter = {};
  if (options.docIds) {
    checkLongIds(options.docIds);
    filter.docIds = new Set(options.docIds);
  }
  const tests: Array<(doc: Doc) => boolean> = [];
  if (options.selector !== undefined) tests.push(asBadRequest(() => compileSelector(options.selector)));
  if (options.fields !== undefined) filter.fields = checkFields(options.fields);
  if (options.filter !== undefined) {
    if (options.filter === '_design') tests.push((doc) => typeof doc._id === 'string' && doc._id.startsWith('_design/'));
    else if (!hooks.compileFilter) {
      throw new RefugeError('not_found', `filter ${options.filter} needs design documents, which this database does not run`);
    } else {
      filter.matchConflicts = true;
      filter.matchMany = await hooks.compileFilter({
        name: options.filter,
        // `view` as its own option, or among the query parameters (a replication's query_params).
        ...(viewOf(options) === undefined ? {} : { view: viewOf(options) }),
        ...(options.queryParams === undefined ? {} : { query: options.queryParams }),
        ...(options.filterRequest === undefined ? {} : { request: options.filterRequest }),
        userCtx: options.userCtx ?? LOCAL_ADMIN,
      });
    }
  }
  if (tests.length === 1) filter.match = tests[0];
  else if (tests.length > 1) filter.match = (doc) => tests.every((t) => t(doc));
  return filter;
}

/**
 * CouchDB checks a `_selector` filter's selector and fields before the feed starts and answers any
 * Mango error there as a plain 400 bad_request with Mango's reason (couch_changes:check_selector and
 * check_fields), not under Mango's own error names as `_find` does.
 */
function asBadRequest<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RefugeError && err.status === 400) throw new RefugeError('bad_request', err.reason, { cause: err });
    throw err;
  }
}

function checkFields(fields: unknown): readonly string[] | undefined {
  if (!Array.isArray(fields)) throw new RefugeError('bad_request', 'Selector error: fields must be JSON array');
  return asBadRequest(() => parseFields(fields));
}

function viewOf(options: { view?: string; queryParams?: Record<string, unknown> }): string | undefined {
  if (options.view !== undefined) return options.view;
  const fromQuery = options.queryParams?.view;
  return typeof fromQuery === 'string' ? fromQuery : undefined;
}
