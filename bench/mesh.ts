// The mesh suite of `npm run bench -- mesh`: replication over the mesh vs HTTP, a flooded query in a
// simulated 50-node mesh, and the memory an idle mesh node costs.

import { runFlood } from './mesh-flood.ts';
import { runIdleRss } from './mesh-idle.ts';
import { runReplicate } from './mesh-replicate.ts';
import type { Suite } from './report.ts';

export const meshSuite: Suite = {
  figures: ['mesh.replicate', 'mesh.flood', 'mesh.idle_rss'],
  async run(wants, emit) {
    // Memory first, while the process is still small and its heap unfragmented by 100k docs.
    if (wants('mesh.idle_rss')) await runIdleRss(emit);
    if (wants('mesh.flood')) await runFlood(emit);
    if (wants('mesh.replicate')) await runReplicate(emit);
  },
};
