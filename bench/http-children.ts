// Server child processes for the http suite (Refuge, pouchdb-server, bare node:http), each on its own
// event loop with its own temp dir; all are killed and their dirs removed at the end, even on errors.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module of the repository's scripts, without type declarations
import { bundle } from '../scripts/build.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = dirname(BENCH_DIR);
const START_TIMEOUT_MS = 60_000;

export interface ServerChild {
  readonly label: string;
  /** The server's root URL, without a trailing slash. */
  readonly url: string;
  /** Everything the child printed on its first line (`url` and whatever else it announces). */
  readonly info: Readonly<Record<string, unknown>>;
  readonly pid: number;
  /** Peak resident set size of the child so far (VmHWM), in MB; call it before `stop`. */
  peakRssMb(): number;
  /** Current resident set size (VmRSS), in MB. */
  rssMb(): number;
  /** The current RSS split: anonymous memory, and file pages mapped in (LevelDB maps its tables). */
  rssSplitMb(): { anon: number; file: number };
  /** CPU time the child has used so far (user + system), in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const live = new Map<ChildProcess, string>();

/** Last-resort cleanup when the bench process exits or is interrupted with children still up. */
function killAllSync(): void {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}
process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllSync();
    process.exit(130);
  });
}

function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** utime + stime from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux). */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function wrap(label: string, child: ChildProcess, dir: string, info: Record<string, unknown>): ServerChild {
  const url = String(info.url ?? '');
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  return {
    label,
    url,
    info,
    pid,
    peakRssMb: () => procStatusMb(pid, 'VmHWM'),
    rssMb: () => procStatusMb(pid, 'VmRSS'),
    rssSplitMb: () => ({ anon: procStatusMb(pid, 'RssAnon'), file: procStatusMb(pid, 'RssFile') }),
    cpuSeconds: () => procCpuSeconds(pid),
    stop: () =>
      (stopping ??= (async () => {
        const gone = exited(child);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(timer);
        live.delete(child);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Rejects when the child dies or takes too long before `ready` settles. */
async function untilReady<T>(label: string, child: ChildProcess, stderr: () => string, ready: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onExit: ((code: number | null, signal: string | null) => void) | undefined;
  let onError: ((e: Error) => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    onExit = (code, signal) => reject(new Error(`${label} exited before it was ready (${code ?? signal}): ${stderr()}`));
    onError = reject;
    child.once('exit', onExit).once('error', onError);
    timer = setTimeout(() => reject(new Error(`${label} not ready after ${START_TIMEOUT_MS} ms: ${stderr()}`)), START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ready, failure]);
  } finally {
    clearTimeout(timer);
    child.off('exit', onExit!).off('error', onError!);
  }
}

const bundles = new Map<string, Promise<string>>();

/**
 * `script` bundled as `npm start` runs the CLI (scripts/build.mjs), built once per bench run into
 * dist/bench/: a Refuge child then carries no TypeScript compiler, as a node started by npm does not.
 */
function bundled(script: string): Promise<string> {
  const known = bundles.get(script);
  if (known) return known;
  const file = join(REPO_DIR, 'dist', 'bench', script.replace(/\.ts$/, '.mjs'));
  // Split as the CLI's: the sandbox thread imports its entry chunk (src/sandbox/thread-entry.ts),
  // which in a single-file bundle would be the whole script.
  const out: Promise<string> = bundle(join(BENCH_DIR, script), file, { split: true }).then(() => file);
  bundles.set(script, out);
  return out;
}

/**
 * Runs a bench script (through tsx, or from its bundle when `asBundle`) with its temp dir (then
 * `args`) as arguments; it prints a JSON object with at least {"url"} as its first stdout line.
 */
export async function spawnScript(
  label: string,
  script: string,
  nodeArgs: readonly string[] = [],
  args: readonly string[] = [],
  launcher: readonly string[] = [],
  asBundle = false,
): Promise<ServerChild> {
  const entry = asBundle ? [await bundled(script)] : ['--import', 'tsx', join(BENCH_DIR, script)];
  const dir = mkdtempSync(join(tmpdir(), `refuge-bench-http-${label}-`));
  const command = [...launcher, process.execPath, ...nodeArgs, ...entry, dir, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: REPO_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.set(child, dir);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    process.stderr.write(chunk.replace(/^(?=.)/gm, `[${label}] `));
  });
  try {
    const info = await untilReady(label, child, () => err, new Promise<Record<string, unknown>>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        if (out.includes('\n')) return; // drained, ignored after the first line
        out += chunk;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        try {
          resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
        } catch (e) {
          reject(new Error(`${label} printed ${out.slice(0, nl)}`, { cause: e }));
        }
      });
    }));
    return wrap(label, child, dir, info);
  } catch (e) {
    await wrap(label, child, dir, {}).stop();
    throw e;
  }
}

/** Extra node flags for Refuge children: BENCH_HTTP_PROF=DIR writes a V8 CPU profile per child there. */
function refugeNodeArgs(): string[] {
  const dir = process.env.BENCH_HTTP_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export const WITH_ALLOCATOR = join(REPO_DIR, 'scripts', 'with-allocator.sh');

/** The jemalloc library scripts/with-allocator.sh preloads here, if any. */
export function jemallocLibrary(): string | undefined {
  return execFileSync('sh', [WITH_ALLOCATOR, '--print-library'], { encoding: 'utf8' }).trim() || undefined;
}

/**
 * A Refuge node runs as `npm start` runs it: bundled, under scripts/with-allocator.sh, which preloads
 * jemalloc when the system has it (the wrapper execs node, so the child's pid is the node's).
 */
export function startRefugeServer(label = 'refuge'): Promise<ServerChild> {
  return spawnScript(label, 'http-refuge-server.ts', refugeNodeArgs(), [], ['sh', WITH_ALLOCATOR], true);
}

export function startBareServer(): Promise<ServerChild> {
  return spawnScript('bare', 'http-bare-server.ts');
}

/** A port free right now: listen on 0, read it, close (pouchdb-server cannot take port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls GET / until it answers 200, for as long as the child lives (untilReady bounds the wait). */
async function pollUp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    try {
      const res = await fetch(url + '/');
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return new Promise(() => undefined); // untilReady reports the exit or the timeout
}

/**
 * pouchdb-server 4.2 as users run it (its CLI, LevelDB via leveldown, no fsync) with its files in a
 * temp dir (cwd, --dir, --config). Its per-request info log is turned down to warnings: a file write
 * per request that Refuge does not do, so leaving it on would flatter Refuge.
 */
export async function startPouchServer(): Promise<ServerChild> {
  const dir = mkdtempSync(join(tmpdir(), 'refuge-bench-http-pouchdb-server-'));
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ log: { file: join(dir, 'log.txt'), level: 'warning' } }));
  const port = await freePort();
  const bin = join(REPO_DIR, 'node_modules', 'pouchdb-server', 'bin', 'pouchdb-server');
  const args = [bin, '--port', String(port), '--host', '127.0.0.1', '--dir', dataDir, '--config', config, '--no-stdout-logs'];
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  live.set(child, dir);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilReady('pouchdb-server', child, () => err, pollUp(url, child));
  } catch (e) {
    await wrap('pouchdb-server', child, dir, { url }).stop();
    throw e;
  }
  return wrap('pouchdb-server', child, dir, { url });
}

/** Starts a server, runs `fn`, and stops the server whatever happens. */
export async function withServer<T>(start: () => Promise<ServerChild>, fn: (server: ServerChild) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
