// The reduce of a view: a built-in one, or a JavaScript function run in the sandbox with CouchDB's
// rules around it (reduce_limit overflow, a throwing function giving null).

import { RefugeError, isRefugeError } from '../errors/index.ts';
import { isOutOfMemory } from '../sandbox/index.ts';
import { builtinName, builtinReducer, copy, type ReduceRow } from './builtin-reduce.ts';
import { compileFn } from './mapper.ts';
import { overflowed, overflowReason, type AsyncReducer } from './reduce-query.ts';
import type { ViewSandbox } from './sandbox-face.ts';

export async function makeReducer(viewName: string, source: string, sandbox: ViewSandbox | undefined): Promise<AsyncReducer> {
  const builtin = builtinName(source);
  if (builtin) return builtinReducer(builtin);
  if (!sandbox) throw new RefugeError('internal', 'a JavaScript reduce needs a sandbox');
  const fn = await compileFn(sandbox, 'reduce', viewName, source);
  const run = (keys: ReadonlyArray<[unknown, string]> | null, values: readonly unknown[], rereduce: boolean) =>
    sandbox.reduceAsync ? sandbox.reduceAsync(fn, keys, values, rereduce) : sandbox.reduce(fn, keys, values, rereduce);
  return {
    async reduce(rows) {
      const keys = rows.map((r) => [r.key, r.id] as [unknown, string]);
      const values = rows.map((r) => r.value);
      return overflowed(await userErrorsAsNull(() => run(keys, values, false)), () => [keys, values]);
    },
    async rereduce(reds) {
      // An overflow is final: CouchDB passes it on without running the function again.
      const over = reds.find((r) => overflowReason(r) !== undefined);
      if (over !== undefined) return over;
      return overflowed(await userErrorsAsNull(() => run(null, reds, true)), () => [null, reds]);
    },
    finalize: copy,
    ...(sandbox.reduceMany && {
      async reduceMany(groups: ReadonlyArray<readonly ReduceRow[]>) {
        const jobs = groups.map((rows) => [rows.map((r) => [r.key, r.id] as [unknown, string]), rows.map((r) => r.value), false] as const);
        const results = await sandbox.reduceMany!(fn, jobs);
        return results.map((result, i) => {
          if (result instanceof Error) {
            // As userErrorsAsNull: a throwing function gives null; out of memory fails the query.
            if (isRefugeError(result, 'sandbox_error') && !isOutOfMemory(result)) return null;
            throw result;
          }
          return overflowed(result.ok, () => [jobs[i]![0], jobs[i]![1]]);
        });
      },
    }),
  };
}

/**
 * CouchDB's query server logs a JavaScript reduce that throws and takes its reduction as null;
 * running out of time or memory still fails the query.
 */
async function userErrorsAsNull(run: () => unknown): Promise<unknown> {
  try {
    return await run();
  } catch (err) {
    if (isRefugeError(err, 'sandbox_error') && !isOutOfMemory(err)) return null;
    throw err;
  }
}
