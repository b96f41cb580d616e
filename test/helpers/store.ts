// Test helpers that look under a database's API: every stored key by keyspace, and the keys that
// still mention one document (what a purge must leave none of).

import type { Database } from '../../src/core.ts';
import { valuePrefix } from '../../src/documents/postings.ts';
import { encodeIndexValue } from '../../src/query/index.ts';

/** Every key/value of the database's store, by keyspace letter (`d`, `r`, `s`, `i`, `p`, `m`, `l`). */
export async function dump(db: Database): Promise<Record<string, Array<[string, string]>>> {
  const out: Record<string, Array<[string, string]>> = {};
  await db.info(); // waits for unflushed writes, so storage holds them
  for await (const chunk of db.core.store.scan({ gte: '', lt: '\u007f' }, 512)) {
    for (const [k, v] of chunk) (out[k[0]!] ??= []).push([k, v]);
  }
  return out;
}

/** Record, bodies, sequence entries and path index keys of document `id` (purge infos name it on purpose). */
export async function traces(db: Database, id: string): Promise<string[]> {
  const all = await dump(db);
  const found: string[] = [];
  for (const [k] of all.d ?? []) if (k === `d!${id}`) found.push(k);
  for (const [k] of all.r ?? []) if (k.startsWith(`r!${id}\u0000`)) found.push(k);
  for (const [k, v] of all.s ?? []) if ((JSON.parse(v) as [string])[0] === id) found.push(k);
  for (const [k] of all.i ?? []) if (k.endsWith(`\u0000${id}`)) found.push(k);
  return found;
}

/** The stored path index postings of one value (`path` = `value`), as keys and values. */
export async function postingsOf(db: Database, path: string, value: unknown): Promise<Array<[string, string]>> {
  const prefix = valuePrefix(path, encodeIndexValue(value));
  return ((await dump(db)).i ?? []).filter(([k]) => k.startsWith(prefix) && k.lastIndexOf('\u0000') + 1 === prefix.length);
}
