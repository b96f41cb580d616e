// Entry of `npm run bench [-- PREFIX]`: runs every registered suite with a figure matching PREFIX
// and prints one JSON line per figure. Adding a suite is one line in `suites` below.

import { blobsHttpSuite } from './blobs-http.ts';
import { blobsSnapshotSuite } from './blobs-snapshot.ts';
import { blobsStoreSuite } from './blobs-store.ts';
import { docsSuite } from './docs.ts';
import { httpSuite } from './http.ts';
import { meshSuite } from './mesh.ts';
import { searchSuite } from './search.ts';
import { viewsSuite } from './views.ts';
import { formatLine, note, type Figure, type Suite } from './report.ts';

const suites: readonly Suite[] = [
  docsSuite,
  httpSuite,
  meshSuite,
  blobsHttpSuite,
  blobsSnapshotSuite,
  blobsStoreSuite,
  searchSuite,
  viewsSuite,
];

async function main(): Promise<number> {
  const prefix = process.argv[2] ?? '';
  const wants = (name: string): boolean => name.startsWith(prefix);
  const selected = suites.filter((s) => s.figures.some(wants));
  if (selected.length === 0) {
    note(`no figure starts with "${prefix}"; known: ${suites.flatMap((s) => s.figures).join(', ')}`);
    return 2;
  }
  const emit = (f: Figure): void => {
    if (wants(f.bench)) process.stdout.write(formatLine(f) + '\n');
  };
  // `npm run bench` runs through scripts/with-allocator.sh, as `npm start` runs a node: both sides of
  // every in-process figure, and every server child, share these settings.
  const preload = process.env.LD_PRELOAD?.split(':').find((l) => l.includes('jemalloc'));
  note(`allocator: ${preload ?? (process.env.MALLOC_MMAP_THRESHOLD_ ? `glibc malloc, MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_}` : 'glibc malloc, defaults')}`);
  let failed = 0;
  for (const suite of selected) {
    try {
      await suite.run(wants, emit);
    } catch (err) {
      failed++;
      note(`suite (${suite.figures[0]}...) failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (err instanceof Error && err.cause) note(`cause: ${String((err.cause as Error).stack ?? err.cause)}`);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
