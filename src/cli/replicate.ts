// `refuge replicate SOURCE TARGET`: one replication between URLs (any CouchDB-compatible server)
// and/or database names in a stopped node's data directory (--data), with live progress.

import { existsSync } from 'node:fs';
import { validateDbName } from '../documents/index.ts';
import { isRefugeError, RefugeError, toRefugeError } from '../errors/index.ts';
import { describeEndpoint, endpointPeer } from '../jobs/index.ts';
import { openNode, type RefugeNode } from '../node/index.ts';
import { normalizeSelector } from '../query/index.ts';
import { replicate } from '../replication/index.ts';
import { madeDirectory } from './made-dir.ts';

// How often a continuous replication that keeps catching up says so.
const CAUGHT_UP_EVERY_MS = 30_000;

export interface ReplicateArgs {
  source: string;
  target: string;
  data: string;
  continuous: boolean;
  selector?: string;
  docIds?: string;
  createTarget: boolean;
  json: boolean;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** A server's URL with no database path (`http://host:5984/`), or not a URL at all. */
function namesNoDatabase(url: string): boolean {
  try {
    return new URL(url).pathname.replace(/\/+$/, '') === '';
  } catch {
    return false; // said by the replication itself, which names what is wrong with it
  }
}

export async function runReplicate(args: ReplicateArgs, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    return await replicateOnce(args, out, err);
  } catch (e) {
    // A script reading --json gets an answer on stdout either way (the reason also goes to stderr).
    if (args.json) {
      const failure = toRefugeError(e);
      out.write(JSON.stringify({ ok: false, error: failure.code, reason: failure.reason }) + '\n');
    }
    throw e;
  }
}

async function replicateOnce(args: ReplicateArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let selector: unknown;
  if (args.selector !== undefined) {
    try {
      selector = JSON.parse(args.selector);
    } catch (err) {
      throw new RefugeError('bad_request', '--selector must be JSON', { cause: err });
    }
    // One no source could run is said now, by its option's name, before anything is made.
    try {
      normalizeSelector(selector);
    } catch (err) {
      throw new RefugeError('bad_request', `--selector: ${toRefugeError(err).reason}`, { cause: err });
    }
  }
  const docIds = args.docIds === undefined ? undefined : parseDocIds(args.docIds);
  // Local names are checked before the data directory is opened (and made, for --create-target),
  // and a URL must name a database: bad input, said before anything is tried.
  for (const name of [args.source, args.target]) {
    if (!isUrl(name)) validateDbName(name);
    else if (namesNoDatabase(name)) throw new RefugeError('bad_request', `${describeEndpoint(name)} names no database: add /DBNAME to it`);
  }
  let node: RefugeNode | undefined;
  // A data directory this command makes is removed again if it fails: bad input changes nothing.
  const made = madeDirectory(args.data);
  if (!isUrl(args.source) || !isUrl(args.target)) {
    // A directory that is not there holds no database: say so rather than make a node there (with
    // a new identity) for a command that then fails. Only a target it is told to create needs one.
    const needsDb = !isUrl(args.source) ? args.source : args.createTarget ? undefined : args.target;
    if (needsDb !== undefined && !existsSync(args.data)) {
      throw new RefugeError('not_found', `no database ${needsDb} in ${args.data} (there is no such directory)`);
    }
    try {
      node = await openNode({ dataDir: args.data });
      made.opened();
    } catch (err) {
      // The directory's lock: a node runs on it, and its databases are reached over HTTP.
      if (isRefugeError(err, 'locked')) {
        throw new RefugeError('conflict', `a node is running on ${args.data}: name its databases by the URL its start line gives (http://HOST:PORT/NAME) instead`, { cause: err });
      }
      throw err;
    }
  }
  try {
    for (const [end, name] of [['source', args.source], ['target', args.target]] as const) {
      if (isUrl(name) || (end === 'target' && args.createTarget) || (await node!.exists(name))) continue;
      throw new RefugeError('not_found', `no database ${name} in ${args.data}${end === 'target' ? ' (--create-target creates it)' : ''}`);
    }
    // Held until the node closes below: no release needed.
    const { peer: source } = await endpointPeer(node!, args.source, false);
    const { peer: target } = await endpointPeer(node!, args.target, args.createTarget);
    const rep = replicate(source, target, { continuous: args.continuous, selector, docIds, createTarget: args.createTarget });
    // Once a document is written the directory holds what was replicated (and soon the checkpoint
    // to resume from): whatever happens next, it stays. A source that is not there writes nothing.
    const tty = (out as { isTTY?: boolean }).isTTY === true && !args.json;
    rep.on('change', (e) => {
      if (e.docsWritten > 0) made.keep();
      if (tty) out.write(`\r  read ${e.docsRead}  written ${e.docsWritten}  failed ${e.docWriteFailures}  seq ${String(e.lastSeq ?? '')}   `);
    });
    // Under steady writes the feed catches up after every batch: say so once, then at most every
    // CAUGHT_UP_EVERY_MS (and again after a retry), not a line per batch.
    let caughtUpSaid = -Infinity;
    rep.on('paused', (e) => {
      // Paused with an error is a wait before a retry (said by the retry event), not a caught-up feed.
      if (!args.continuous || args.json || e.error || Date.now() - caughtUpSaid < CAUGHT_UP_EVERY_MS) return;
      caughtUpSaid = Date.now();
      out.write(`${tty ? '\n' : ''}  caught up at seq ${String(e.lastSeq ?? '')}, following changes (Ctrl-C to stop)\n`);
    });
    // A peer that does not answer is tried again with growing waits: say so, rather than stay silent.
    rep.on('retry', (e) => {
      caughtUpSaid = -Infinity;
      if (!args.json) err.write(`${tty ? '\n' : ''}  ${e.error.reason}; retrying in ${Math.max(1, Math.round(e.delayMs / 1000))} s (attempt ${e.attempt})\n`);
    });
    if (args.continuous) {
      process.once('SIGINT', () => rep.cancel());
      process.once('SIGTERM', () => rep.cancel());
    }
    const report = await rep.done;
    if (args.json) out.write(JSON.stringify(report) + '\n');
    else {
      out.write(`${tty ? '\n' : ''}replicated ${describeEndpoint(args.source)} -> ${describeEndpoint(args.target)}: ${report.docsRead} read, ${report.docsWritten} written, ${report.docWriteFailures} failed (${report.status})\n`);
    }
    return report.docWriteFailures > 0 ? 1 : 0;
  } catch (e) {
    await node?.close();
    node = undefined;
    await made.undo();
    throw e;
  } finally {
    await node?.close();
  }
}

/**
 * `--doc-ids a,b,c`, or a JSON array of strings for ids that hold a comma (`'["a,b","c"]'`). A
 * value that is not such an array is a comma list, even if it starts with `[` (ids may).
 */
export function parseDocIds(raw: string): string[] {
  if (raw.trimStart().startsWith('[')) {
    try {
      const ids: unknown = JSON.parse(raw);
      if (Array.isArray(ids) && ids.every((id) => typeof id === 'string')) return ids;
    } catch {
      // not JSON: a comma list
    }
  }
  return raw.split(',').filter(Boolean);
}
