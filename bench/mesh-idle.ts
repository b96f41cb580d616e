// mesh.idle_rss: the RSS an idle mesh node adds, measured in a child process of its own
// (mesh-idle-child.ts), as the growth per node from that process's baseline.

import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IdleRss } from './mesh-idle-child.ts';
import { note, type Emit } from './report.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'mesh-idle-child.ts');

export async function runIdleRss(emit: Emit): Promise<void> {
  // The environment goes along: BENCH_MESH_NODES, and the allocator npm run bench preloads.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--expose-gc', CHILD], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as IdleRss;
  const perNode = (r.afterMb - r.beforeMb) / r.n;
  note(`mesh.idle_rss: ${r.n} nodes in a fresh process (LevelDB, mesh on TCP+WS, AutoSync with 2 peers each, ${r.docs} docs synced into each); ` +
    `RSS ${r.beforeMb.toFixed(0)} -> ${r.afterMb.toFixed(0)} MB after ${r.idleMs} ms idle (peak ${r.peakMb.toFixed(0)} MB, ${((r.peakMb - r.beforeMb) / r.n).toFixed(1)} MB/node)`);
  emit({ bench: 'mesh.idle_rss', unit: 'MB/node', refuge: perNode, anchor: 'target', anchorValue: 80, higherIsBetter: false });
}
