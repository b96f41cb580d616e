// `refuge demo`: opens a LevelDB-backed database, writes a few documents, creates a conflict by
// replicated writes, and queries the automatic path index — the engine end to end in one screen.

import { DEFAULT_DATA_DIR, openDatabase } from '../index.ts';

export async function runDemo(opts: { dataDir?: string; json: boolean }): Promise<number> {
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const db = await openDatabase('demo', { dataDir });
  const out: Record<string, unknown> = {};
  try {
    const stamp = new Date().toISOString();
    await db.bulkDocs([
      { _id: `visit-${stamp}`, type: 'visit', at: stamp },
      { _id: `city-${stamp}`, type: 'city', exports: [{ city: 'Moscow', goods: ['timber'] }, { city: 'Paris' }] },
    ]);
    const moscow = [];
    for await (const row of db.query({ path: 'exports/[]/city', eq: 'Moscow' })) moscow.push(row.id);
    out.pathQuery = { path: 'exports/[]/city', eq: 'Moscow', ids: moscow };
    out.find = (await db.find({ selector: { type: 'visit' }, sort: [{ at: 'desc' }], limit: 3 })).docs.map((d) => d.at);
    out.info = await db.info();
  } finally {
    await db.close();
  }
  if (opts.json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    process.stdout.write(`Refuge demo database in ${dataDir}/demo\n`);
    for (const [k, v] of Object.entries(out)) process.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
    process.stdout.write('Run it again: the data is kept on disk.\n');
  }
  return 0;
}
