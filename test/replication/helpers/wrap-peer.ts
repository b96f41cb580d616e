// A peer wrapper for tests: counts calls and change rows, and can inject failures before a call.

import type { ReplicationPeer } from '../../../src/replication/index.ts';

export type Method = 'info' | 'changes' | 'revsDiff' | 'bulkGet' | 'bulkDocs' | 'getLocal' | 'putLocal' | 'createDatabase' | 'ensureFullCommit';

export interface WrappedPeer extends ReplicationPeer {
  calls: Record<string, number>;
  /** Change rows answered so far. */
  rowsServed: number;
  /** Revisions asked about in revs_diff so far. */
  revsChecked: number;
  /** Called before each delegated call; throw (or reject) to fail that call, await to delay it. */
  before?: (method: Method, callNumber: number) => void | Promise<void>;
}

export function wrapPeer(inner: ReplicationPeer): WrappedPeer {
  const calls: Record<string, number> = {};
  const wrapped: WrappedPeer = {
    calls,
    rowsServed: 0,
    revsChecked: 0,
    capabilities: inner.capabilities,
    identity: () => inner.identity(),
    info: (o) => guard('info', () => inner.info(o)),
    changes: (r) =>
      guard('changes', async () => {
        const res = await inner.changes(r);
        wrapped.rowsServed += res.results.length;
        return res;
      }),
    revsDiff: (req, o) =>
      guard('revsDiff', () => {
        for (const revs of req.values()) wrapped.revsChecked += revs.length;
        return inner.revsDiff(req, o);
      }),
    bulkGet: (req, o) => guard('bulkGet', () => inner.bulkGet(req, o)),
    bulkDocs: (docs, o) => guard('bulkDocs', () => inner.bulkDocs(docs, o)),
    getLocal: (id, o) => guard('getLocal', () => inner.getLocal(id, o)),
    putLocal: (doc, o) => guard('putLocal', () => inner.putLocal(doc, o)),
  };
  if (inner.createDatabase) wrapped.createDatabase = (o) => guard('createDatabase', () => inner.createDatabase!(o));
  if (inner.ensureFullCommit) wrapped.ensureFullCommit = (o) => guard('ensureFullCommit', () => inner.ensureFullCommit!(o));

  async function guard<T>(method: Method, fn: () => Promise<T>): Promise<T> {
    const n = (calls[method] = (calls[method] ?? 0) + 1);
    await wrapped.before?.(method, n);
    return fn();
  }
  return wrapped;
}
