// The real design-document sandbox (src/sandbox, QuickJS) wrapped to count the documents it maps,
// so tests can tell whether documents were mapped again.

import { createSandbox } from '../../src/sandbox/index.ts';
import type { ViewSandbox } from '../../src/views/index.ts';

export interface CountingSandbox extends ViewSandbox {
  /** Documents passed to map so far. */
  mapped: number;
}

export async function createCountingSandbox(ddoc?: Record<string, unknown>): Promise<CountingSandbox> {
  const real = await createSandbox(ddoc ? { ddoc } : {});
  const sandbox: CountingSandbox = {
    mapped: 0,
    compile: (source) => real.compile(source),
    map: (fn, docs) => {
      sandbox.mapped += docs.length;
      return real.map(fn as number, docs);
    },
    reduce: (fn, keys, values, rereduce) => real.reduce(fn as number, keys, values, rereduce),
    dispose: () => real.dispose(),
  };
  return sandbox;
}
