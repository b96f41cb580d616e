// The key layout of one database inside its ordered key/value store. One letter per keyspace keeps
// keys short; `\u0000` separates parts because it cannot appear in doc ids or encoded index values.

export const META_KEY = 'm!info';
export const DOC = 'd!';
export const REV_BODY = 'r!';
/** Sequence entries: `s!<seq>` -> `[id, rev, deleted 0|1]`, and a fourth member 1 when the tree is one run (record-commits.ts). */
export const SEQ = 's!';
export const LOCAL = 'l!';
export const INDEX = 'i!';
/** Purge infos by purge sequence: what recent purges removed, for indexers to catch up with. */
export const PURGE_INFO = 'p!';

export const docKey = (id: string) => DOC + id;
export const revBodyKey = (id: string, rev: string) => REV_BODY + id + '\u0000' + rev;
export const revBodyPrefix = (id: string) => REV_BODY + id + '\u0000';
export const localKey = (id: string) => LOCAL + id;

/** Fixed-width hex keeps sequence keys in numeric order (2^52 writes is beyond any real database). */
export const seqKey = (seq: number) => SEQ + seq.toString(16).padStart(13, '0');
export const seqFromKey = (key: string) => Number.parseInt(key.slice(SEQ.length), 16);
export const purgeInfoKey = (purgeSeq: number) => PURGE_INFO + purgeSeq.toString(16).padStart(13, '0');
