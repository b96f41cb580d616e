// The raw classic-level ceiling: the same docs as JSON values in 1,000-entry batches, no
// revisions, no index. Refuge's bulk insert is reported as a fraction of this rate.

import { ClassicLevel } from 'classic-level';
import { perSecond, timed } from './report.ts';
import type { BenchDoc } from './workload.ts';

export async function leveldbCeiling(dir: string, docs: BenchDoc[], batchSize: number): Promise<number> {
  const db = new ClassicLevel<string, string>(`${dir}/raw`, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    const { ms } = await timed(async () => {
      for (let i = 0; i < docs.length; i += batchSize) {
        const ops = docs.slice(i, i + batchSize).map((d) => ({ type: 'put' as const, key: d._id, value: JSON.stringify(d) }));
        await db.batch(ops);
      }
    });
    return perSecond(docs.length, ms);
  } finally {
    await db.close();
  }
}
