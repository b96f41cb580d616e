// The http suite: Refuge's HTTP server, bulk writes and replication against pouchdb-server, each
// server in its own child process; `http.replicate_rss` (1M docs, slow) runs only when asked for.
// Its modules load lazily so other suites (docs.peak_rss) never carry autocannon or the replicator.

import { availableParallelism } from 'node:os';
import { jemallocLibrary } from './http-children.ts';
import { note, type Suite } from './report.ts';

export const httpSuite: Suite = {
  figures: [
    'http.get_doc',
    'http.get_doc_vs_bare',
    'http.bulk_docs',
    'http.replicate',
    'http.replicate_from_pouchdb_server',
    'http.replicate_rss',
  ],

  async run(wants, emit) {
    note(
      `http: every server (Refuge, pouchdb-server, bare node:http) runs in its own child process; autocannon, ` +
        `the fetch client and the replicators run in this one; ${availableParallelism()} CPUs. Refuge uses ` +
        `LevelDB with durability 'fast' (no fsync), like pouchdb-server's LevelDB, and runs as npm start runs it ` +
        `(scripts/with-allocator.sh${jemallocLibrary() ? ': jemalloc' : ': glibc, fixed mmap threshold'}); pouchdb-server runs its CLI on ` +
        `LevelDB (leveldown) in a temp dir, with its per-request log turned down to warnings.`,
    );
    if (wants('http.get_doc') || wants('http.get_doc_vs_bare')) await (await import('./http-gets.ts')).runGets(wants, emit);
    if (wants('http.bulk_docs')) await (await import('./http-bulk.ts')).runBulk(emit);
    if (wants('http.replicate') || wants('http.replicate_from_pouchdb_server')) await (await import('./http-replicate.ts')).runReplicate(wants, emit);
    if (wants('http.replicate_rss')) {
      // Asked for by name (a prefix longer than 'http.replicate') or by BENCH_FULL=1.
      if (!wants('http.replicate') || process.env.BENCH_FULL === '1') await (await import('./http-replicate-rss.ts')).runReplicateRss(emit);
      else note('http.replicate_rss skipped (1M docs, slow): run `npm run bench -- http.replicate_rss` or set BENCH_FULL=1');
    }
  },
};
