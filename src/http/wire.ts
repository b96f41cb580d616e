// camelCase library results to CouchDB's snake_case wire shapes (and back for request options).

import type { DatabaseInfo, FindResult, RevsDiffResult, WriteFailure, WriteResult } from '../documents/index.ts';

export function revsDiffWire(r: RevsDiffResult) {
  const out: Record<string, { missing: string[]; possible_ancestors?: string[] }> = {};
  for (const [id, v] of Object.entries(r)) {
    out[id] = v.possibleAncestors ? { missing: v.missing, possible_ancestors: v.possibleAncestors } : { missing: v.missing };
  }
  return out;
}

export function findWire(r: FindResult) {
  const out: Record<string, unknown> = { docs: r.docs, bookmark: r.bookmark };
  if (r.warning) out.warning = r.warning;
  if (r.executionStats) {
    out.execution_stats = {
      total_keys_examined: r.executionStats.totalKeysExamined,
      total_docs_examined: r.executionStats.totalDocsExamined,
      total_quorum_docs_examined: 0,
      results_returned: r.executionStats.resultsReturned,
      execution_time_ms: r.executionStats.executionTimeMs,
    };
  }
  return out;
}

export function bulkDocsWire(results: Array<WriteResult | WriteFailure>, newEdits: boolean, docs: readonly unknown[] = []) {
  if (newEdits) return results;
  // CouchDB answers replicated writes (new_edits=false) with their failures only, each naming the
  // revision it refused.
  const out: unknown[] = [];
  results.forEach((r, i) => {
    if (!('error' in r)) return;
    const rev = (docs[i] as { _rev?: unknown } | null | undefined)?._rev;
    out.push(typeof rev === 'string' ? { id: r.id, rev, error: r.error, reason: r.reason } : r);
  });
  return out;
}

/** A database's info as CouchDB 3 answers `GET /{db}`. */
export function dbInfoWire(i: DatabaseInfo) {
  const file = i.sizes?.file ?? 0;
  const active = i.sizes?.active ?? 0;
  return {
    db_name: i.dbName,
    update_seq: i.updateSeq,
    doc_count: i.docCount,
    doc_del_count: i.docDelCount,
    purge_seq: i.purgeSeq,
    compact_running: i.compactRunning,
    sizes: { active, external: i.sizes?.external ?? 0, file },
    instance_start_time: i.instanceStartTime,
    disk_format_version: 1,
    // One shard, one copy: what a single CouchDB node with q=1, n=1 reports.
    cluster: { q: 1, n: 1, w: 1, r: 1 },
    props: {},
    refuge: { engine: i.engine, durability: i.durability, auto_index: i.autoIndex },
  };
}
