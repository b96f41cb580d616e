// A database's info (CouchDB's `GET /{db}`): its counters as committed, and its sizes as storage
// estimates them.

import type { DbCore, DbState } from './core.ts';
import type { DatabaseInfo } from './types.ts';

/** `s`: the counters storage holds (not the writer's, which may be ahead of it). */
export async function databaseInfo(core: DbCore, s: DbState, compactRunning: boolean): Promise<DatabaseInfo> {
  const info: DatabaseInfo = {
    dbName: core.name,
    docCount: s.docCount,
    docDelCount: s.delCount,
    updateSeq: s.seq,
    engine: core.store.engine,
    durability: core.durability,
    autoIndex: s.autoIndex,
    revsLimit: s.revsLimit,
    purgeSeq: s.purgeSeq,
    compactRunning,
    // From the live state: it never changes while the database exists, and a database whose
    // counters are not stored yet has it already.
    instanceStartTime: core.state.instanceStartTime ?? '0',
  };
  const store = core.store;
  // external: the live records' bytes (uncompressed); active: what storage estimates its tables
  // hold, or while everything still sits in LevelDB's memory table (no table yet), the live bytes
  // as far as the files (its log) hold them. The attachments of the winning revisions count in
  // all three, as CouchDB counts them (their blobs are the node's, but they are this database's data).
  const records = Math.max(0, s.liveBytes ?? 0);
  const atts = Math.max(0, s.attBytes ?? 0);
  const approximate = store.approximateSize ? await store.approximateSize({ gte: '', lt: '\u007f' }) : 0;
  const stored = store.diskSize ? await store.diskSize() : Math.max(approximate, records);
  const active = approximate > 0 ? approximate : Math.min(records, stored);
  info.sizes = { file: stored + atts, active: active + atts, external: records + atts };
  return info;
}
