// http.replicate_rss: peak RSS (VmHWM) of the target Refuge node process while Refuge's replicator
// (in this process) copies 1,000,000 small docs into it from a Refuge source server child.

import { startRefugeServer, withServer } from './http-children.ts';
import { createDb, fillDb } from './http-fetch.ts';
import { envCount } from './http-size.ts';
import { refugeReplicate } from './http-replicate.ts';
import { note, perSecond, timed, type Emit } from './report.ts';
import { makeDocs } from './workload.ts';

const TARGET_MB = 400;
const BATCH = 1000;

export async function runReplicateRss(emit: Emit): Promise<void> {
  const n = envCount('BENCH_RSS_DOCS', 1_000_000);
  note(`replicate_rss: ${n} docs into a Refuge target node process (peak RSS = its VmHWM at the end)`);
  const peak = await withServer(() => startRefugeServer('refuge-source'), (source) =>
    withServer(() => startRefugeServer('refuge-target'), async (target) => {
      const idle = target.peakRssMb();
      let docs = makeDocs(n);
      await createDb(`${source.url}/bench`);
      const fill = await timed(() => fillDb(`${source.url}/bench`, docs, BATCH));
      docs = [];
      note(`source filled over _bulk_docs: ${Math.round(perSecond(n, fill.ms))} docs/s; source RSS ${Math.round(source.rssMb())} MB (peak ${Math.round(source.peakRssMb())})`);
      await refugeReplicate('refuge -> refuge (rss)', source, target, n);
      const peakMb = target.peakRssMb();
      note(`target node RSS: ${Math.round(idle)} MB idle, peak ${Math.round(peakMb)} MB, now ${Math.round(target.rssMb())} MB; source peak ${Math.round(source.peakRssMb())} MB`);
      return peakMb;
    }),
  );
  emit({ bench: 'http.replicate_rss', unit: 'MB', refuge: peak, anchor: 'target', anchorValue: TARGET_MB, higherIsBetter: false });
}
