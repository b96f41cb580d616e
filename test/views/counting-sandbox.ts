// The real design-document sandbox (src/sandbox, QuickJS) wrapped to count the documents it maps
// and the reduce calls it makes, so tests can tell whether documents were mapped again and how
// many crossings a query took. Its batched forms (mapAsync, reduceMany) are the ones views use.

import { createSandbox } from '../../src/sandbox/index.ts';
import type { ViewSandbox } from '../../src/views/index.ts';

export interface CountingSandbox extends ViewSandbox {
  /** Documents passed to map so far. */
  mapped: number;
  /** Calls into the sandbox to reduce (one reduceMany is one call). */
  reduceCalls: number;
}

export async function createCountingSandbox(ddoc?: Record<string, unknown>): Promise<CountingSandbox> {
  const real = await createSandbox(ddoc ? { ddoc } : {});
  const sandbox: CountingSandbox = {
    mapped: 0,
    reduceCalls: 0,
    compile: (source) => real.compile(source),
    map: (fn, docs) => {
      sandbox.mapped += docs.length;
      return real.map(fn as number, docs);
    },
    mapAsync: (fn, docs) => {
      sandbox.mapped += docs.length;
      return real.mapAsync(fn as number, docs);
    },
    reduce: (fn, keys, values, rereduce) => {
      sandbox.reduceCalls++;
      return real.reduce(fn as number, keys, values, rereduce);
    },
    reduceMany: (fn, jobs) => {
      sandbox.reduceCalls++;
      return real.reduceMany(fn as number, jobs);
    },
    dispose: () => real.dispose(),
  };
  return sandbox;
}
