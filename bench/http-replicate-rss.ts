// http.replicate_rss: peak RSS (VmHWM) of a Refuge node process while it replicates 1,000,000 small
// docs: the target node runs the replication itself (server-side `POST /_replicate`), pulling from a
// Refuge source server child. The source's peak is reported beside it.

import { startRefugeServer, withServer, type ServerChild } from './http-children.ts';
import { createDb, expectDocCount, fillDb, nodePull } from './http-fetch.ts';
import { envCount } from './http-size.ts';
import { note, perSecond, timed, type Emit } from './report.ts';
import { makeDocs } from './workload.ts';

const TARGET_MB = 400;
const BATCH = 1000;

/** Current RSS with its anonymous and file-backed parts (LevelDB reads its tables through mmap). */
function rssLine(node: ServerChild): string {
  const { anon, file } = node.rssSplitMb();
  return `peak ${Math.round(node.peakRssMb())} MB, now ${Math.round(node.rssMb())} MB (${Math.round(anon)} anonymous + ${Math.round(file)} file-backed)`;
}

export async function runReplicateRss(emit: Emit): Promise<void> {
  const n = envCount('BENCH_RSS_DOCS', 1_000_000);
  note(`replicate_rss: ${n} docs pulled by a Refuge target node (its own replicator) from a source node; peak RSS = VmHWM`);
  const peak = await withServer(() => startRefugeServer('refuge-source'), (source) =>
    withServer(() => startRefugeServer('refuge-target'), async (target) => {
      const idle = target.peakRssMb();
      let docs = makeDocs(n);
      await createDb(`${source.url}/bench`);
      const fill = await timed(() => fillDb(`${source.url}/bench`, docs, BATCH));
      docs = [];
      note(`source filled over _bulk_docs: ${Math.round(perSecond(n, fill.ms))} docs/s; source ${rssLine(source)}`);
      const { ms } = await timed(() => nodePull(target.url, `${source.url}/bench`, 'bench', n));
      await expectDocCount('replicate_rss', `${target.url}/bench`, n);
      const peakMb = target.peakRssMb();
      note(`replicated ${n} docs in ${Math.round(ms)} ms (${Math.round(perSecond(n, ms))} docs/s)`);
      note(`target node (replicating): idle ${Math.round(idle)} MB, ${rssLine(target)}`);
      note(`source node (serving): ${rssLine(source)}`);
      return peakMb;
    }),
  );
  emit({ bench: 'http.replicate_rss', unit: 'MB', refuge: peak, anchor: 'target', anchorValue: TARGET_MB, higherIsBetter: false });
}
