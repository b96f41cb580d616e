// Bundles the CLI (src/cli/main.ts and everything it imports, npm packages left as imports) into
// dist/refuge.mjs, so a node runs without compiling TypeScript at start: ~40 MB less RSS per node
// process and a quicker start. bin/refuge.mjs runs the bundle only while it is newer than every
// source file, and the TypeScript through tsx otherwise, so an edit is never run stale.
// `node scripts/build.mjs` builds when stale; `--force` always.

import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const BUNDLE = join(ROOT, 'dist', 'refuge.mjs');
const CHUNKS = join(ROOT, 'dist', 'chunks');

/** True when dist/refuge.mjs exists and no file under src/ (or package.json) changed after it. */
export function bundleIsFresh() {
  let built;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    return false;
  }
  if (statSync(join(ROOT, 'package.json')).mtimeMs > built) return false;
  for (const entry of readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > built) return false;
  }
  return true;
}

export function buildBundle() {
  // The CLI imports each command when it runs: split, a command loads only its own chunks (and their
  // npm packages), so `refuge --help` does not load libp2p or the S3 client. Old chunks go first.
  rmSync(CHUNKS, { recursive: true, force: true });
  return bundle(join(ROOT, 'src', 'cli', 'main.ts'), BUNDLE, { split: true });
}

/**
 * Bundles one TypeScript entry point into `outfile` (the benchmarks run their Refuge children so, as
 * `npm start` runs a node). `outfile` must lie inside the repository: the bundle imports its npm
 * packages from node_modules, found from where it lies. A bundle whose code creates sandboxes must
 * be split: their thread imports its own entry chunk (src/sandbox/thread-host.ts).
 */
export async function bundle(entry, outfile, { split = false } = {}) {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [entry],
    ...(split
      ? { splitting: true, outdir: dirname(outfile), entryNames: basename(outfile, '.mjs'), chunkNames: 'chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } }
      : { outfile }),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    // Dependencies stay imports from node_modules (native LevelDB bindings, wasm, their own files).
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--force') || !bundleIsFresh()) await buildBundle();
}
