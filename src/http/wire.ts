// camelCase library results to CouchDB's snake_case wire shapes (and back for request options).

import type { DatabaseInfo, FindEnd, RevsDiffResult, WriteFailure, WriteResult } from '../documents/index.ts';
import type { JsonValue } from '../errors/index.ts';

export function revsDiffWire(r: RevsDiffResult) {
  const out: Record<string, { missing: string[]; possible_ancestors?: string[] }> = {};
  for (const [id, v] of Object.entries(r)) {
    out[id] = v.possibleAncestors ? { missing: v.missing, possible_ancestors: v.possibleAncestors } : { missing: v.missing };
  }
  return out;
}

/** What a `_find` answer says after its documents, as CouchDB names it. */
export function findEndWire(r: FindEnd) {
  const out: Record<string, unknown> = { bookmark: r.bookmark };
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
  if (newEdits) return results.map((r) => ('error' in r && Array.isArray(r.reason) ? { ...r, reason: reasonWire(r.reason) } : r));
  // CouchDB answers replicated writes (new_edits=false) with their failures only, each naming the
  // revision it refused.
  const out: unknown[] = [];
  results.forEach((r, i) => {
    if (!('error' in r)) return;
    const rev = (docs[i] as { _rev?: unknown } | null | undefined)?._rev;
    const reason = reasonWire(r.reason);
    out.push(typeof rev === 'string' ? { id: r.id, rev, error: r.error, reason } : { ...r, reason });
  });
  return out;
}

/**
 * An error's `reason` as chttpd's error_info answers it. Any JSON value a validate function refused
 * a write with goes through as it is (`{forbidden, Msg}` keeps Msg), except a list: error_info's
 * first clause makes it a binary with couch_util:to_binary, which reads it as an Erlang iolist
 * (strings their UTF-8 bytes, integers 0-255 one byte each, nested lists in place), so
 * `["a", "b"]` answers "ab" and `["a", 1]` "a\u0001". A list that is no iolist (a number past 255,
 * an object, null) CouchDB prints in Erlang's term syntax (`[<<"a">>,300]`); Refuge answers its JSON
 * text, the same for lists of numbers.
 */
export function reasonWire(reason: JsonValue): JsonValue {
  if (!Array.isArray(reason)) return reason;
  const bytes: Uint8Array[] = [];
  return ioList(reason, bytes) ? Buffer.concat(bytes).toString('utf8') : JSON.stringify(reason);
}

function ioList(list: readonly JsonValue[], out: Uint8Array[]): boolean {
  for (const x of list) {
    if (typeof x === 'string') out.push(Buffer.from(x, 'utf8'));
    else if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255) out.push(Uint8Array.of(x));
    else if (!Array.isArray(x) || !ioList(x, out)) return false;
  }
  return true;
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
