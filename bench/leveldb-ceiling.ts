// The raw classic-level ceiling: the same docs as JSON values in 1,000-entry batches, no
// revisions, no index. Refuge's bulk insert is reported as a fraction of this rate.

import { ClassicLevel } from 'classic-level';
import { perSecond, timed } from './report.ts';
import { makeDocs } from './workload.ts';

export async function leveldbCeiling(dir: string, count: number, batchSize: number): Promise<number> {
  const db = new ClassicLevel<string, string>(`${dir}/raw`, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    let ms = 0;
    for (let i = 0; i < count; i += batchSize) {
      const docs = makeDocs(Math.min(batchSize, count - i), 42, i);
      ms += (await timed(() => db.batch(docs.map((d) => ({ type: 'put' as const, key: d._id, value: JSON.stringify(d) }))))).ms;
    }
    return perSecond(count, ms);
  } finally {
    await db.close();
  }
}
