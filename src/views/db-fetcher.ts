// include_docs for view rows: the documents a view's rows name (or link with an emitted `{_id}`),
// read from the database the view indexes.

import type { Database, Doc } from '../documents/index.ts';
import { isRefugeError } from '../errors/index.ts';
import type { DocRef, FetchDocs } from './map-query.ts';

/** include_docs from the database: current revisions through allDocs, pinned ones (`_rev`) one by one. */
export function dbFetcher(db: Database): FetchDocs {
  return async (refs: readonly DocRef[], { conflicts, attachments }) => {
    const out: Array<Doc | null> = new Array(refs.length).fill(null);
    const current = refs.map((r, i) => [r, i] as const).filter(([r]) => r.rev === undefined);
    if (current.length > 0) {
      const res = await db.allDocs({ keys: current.map(([r]) => r.id), includeDocs: true, conflicts, ...(attachments && { attachments: true }) });
      res.rows.forEach((row, n) => {
        out[current[n]![1]] = row.doc ?? null;
      });
    }
    for (let i = 0; i < refs.length; i++) {
      const r = refs[i]!;
      if (r.rev === undefined) continue;
      try {
        out[i] = await db.get(r.id, { rev: r.rev, conflicts, ...(attachments && { attachments: true }) });
      } catch (err) {
        if (!isRefugeError(err, 'not_found')) throw err;
      }
    }
    return out;
  };
}
