// The mesh suite of `npm run bench -- mesh`: replication over the mesh vs HTTP, a flooded query in a
// simulated 50-node mesh, and the memory an idle mesh node costs.

import type { Suite } from './report.ts';

// Loaded only when a mesh figure is asked for: libp2p is large, and other suites measure their
// process's memory.

export const meshSuite: Suite = {
  figures: ['mesh.replicate', 'mesh.flood', 'mesh.idle_rss'],
  async run(wants, emit) {
    // Idle memory is measured in a child process of its own (mesh-idle.ts), whatever ran before.
    if (wants('mesh.idle_rss')) await (await import('./mesh-idle.ts')).runIdleRss(emit);
    if (wants('mesh.flood')) await (await import('./mesh-flood.ts')).runFlood(emit);
    if (wants('mesh.replicate')) await (await import('./mesh-replicate.ts')).runReplicate(emit);
  },
};
