// `refuge blobs put|get|ls|verify|gc|pin|unpin|pins` and `refuge id`: the blob store of a running node
// (--url) or of a stopped data directory (--data). Exit codes: 0 ok, 1 failure or corruption, 2 usage.

import { createReadStream, createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseBlobId, toBlobId, type BlobId } from '../blobs/index.ts';
import { DEFAULT_GRACE_MS } from '../gc/index.ts';
import { TARGET_HELP, TARGET_OPTIONS, UsageError, num, parse, parseSubcommand, runCommand } from './blobs-args.ts';
import { openTarget, type Target } from './blobs-target.ts';
import { formatBytes } from './progress.ts';
import { describeGcStatus } from './gc-status.ts';

export const BLOBS_HELP = `refuge blobs COMMAND [options] — the node's content-addressed blob store

Commands:
  put FILE...                 store files (- for stdin); prints one id per file
  get ID [-o FILE]            write a blob to stdout or FILE (verified against its id)
  ls [--after ID] [--limit N] list blob ids in order (all of them without --limit)
  verify                      re-hash every blob; lists corrupt ones, exit code 1 if any
  gc [--dry-run] [--grace MIN] [--force]
                              delete blobs no ref (any version), pin or attachment reaches;
                              blobs younger than --grace minutes (default ${DEFAULT_GRACE_MS / 60000}) are kept
  gc --status                 what the running node's own gc has still to look at, when it may
                              next collect, and what its last collection did (--url)
  pin ID|CID / unpin ID|CID   keep a blob (or a whole tree) through gc / stop keeping it
  pins                        list pins

Options:
${TARGET_HELP}`;

export const ID_HELP = `refuge id [--url URL | --data DIR] [--json] — print the node's public key (Ed25519, hex)`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  output: { type: 'string', short: 'o' },
  after: { type: 'string' },
  limit: { type: 'string' },
  'dry-run': { type: 'boolean' },
  grace: { type: 'string' },
  force: { type: 'boolean' },
  status: { type: 'boolean' },
} as const;

const out = (s: string) => process.stdout.write(s);

async function withTarget(v: { url?: string | undefined; data?: string | undefined }, fn: (t: Target) => Promise<number>): Promise<number> {
  const target = await openTarget(v);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

function idArg(value: string | undefined, what = 'ID'): BlobId {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  try {
    return toBlobId(value);
  } catch {
    throw new UsageError(`invalid blob id ${JSON.stringify(value)} (sha256-<64 hex> or a CID)`);
  }
}

export function runId(args: string[]): Promise<number> {
  return runCommand(ID_HELP, async () => {
    const { values: v } = parse(args, TARGET_OPTIONS);
    if (v.help) return out(ID_HELP + '\n'), 0;
    return withTarget(v, async (t) => {
      const owner = await t.owner();
      out(v.json ? JSON.stringify({ publicKey: owner, type: 'ed25519' }) + '\n' : owner + '\n');
      return 0;
    });
  });
}

export function runBlobs(args: string[]): Promise<number> {
  return runCommand(BLOBS_HELP, async () => {
    const command = parseSubcommand(args, OPTIONS, BLOBS_HELP);
    if (command.exit !== undefined) return command.exit;
    const { v, sub, rest } = command;
    const json = v.json === true;
    switch (sub) {
      case 'put': {
        if (rest.length === 0) throw new UsageError('blobs put needs at least one FILE (or - for stdin)');
        return withTarget(v, async (t) => {
          const results = [];
          for (const file of rest) {
            const source = file === '-' ? process.stdin : createReadStream(file);
            const r = await t.store.put(source);
            results.push({ file, ...r });
            if (!json) out(`${r.id}${rest.length > 1 ? `  ${file}` : ''}\n`);
          }
          if (json) out(JSON.stringify(results) + '\n');
          return 0;
        });
      }
      case 'get': {
        const id = idArg(rest[0]);
        return withTarget(v, async (t) => {
          const read = await t.store.get(id);
          if (v.output === undefined || v.output === '-') {
            await pipeline(Readable.from(read), process.stdout, { end: false });
            return 0;
          }
          // Written beside the destination and renamed only once verified: never a wrong file.
          const temp = `${v.output}.refuge-partial-${process.pid}`;
          try {
            await pipeline(Readable.from(read), createWriteStream(temp, { flags: 'wx' }));
            await rename(temp, v.output);
          } catch (err) {
            await unlink(temp).catch(() => {});
            throw err;
          }
          if (json) out(JSON.stringify({ id, size: read.size, file: v.output }) + '\n');
          return 0;
        });
      }
      case 'ls': {
        const after = v.after === undefined ? undefined : idArg(v.after, '--after ID');
        const limit = num(v.limit, '--limit');
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit must be a positive integer');
        return withTarget(v, async (t) => {
          const ids: BlobId[] = [];
          let cursor = after;
          let next: BlobId | undefined;
          do {
            const want = limit === undefined ? 1000 : Math.min(1000, limit - ids.length);
            const page = await t.store.list({ ...(cursor !== undefined && { after: cursor }), limit: want });
            ids.push(...page.ids);
            if (!json) for (const id of page.ids) out(id + '\n');
            next = page.next;
            cursor = page.next;
          } while (next !== undefined && (limit === undefined || ids.length < limit));
          if (json) out(JSON.stringify(next === undefined ? { ids } : { ids, next }) + '\n');
          else if (next !== undefined) process.stderr.write(`(more: --after ${next})\n`);
          return 0;
        });
      }
      case 'verify':
        return withTarget(v, async (t) => {
          const report = await t.scrub();
          if (json) out(JSON.stringify(report) + '\n');
          else {
            for (const id of report.corrupt) out(`corrupt ${id}\n`);
            process.stderr.write(`checked ${report.checked} blobs (${formatBytes(report.bytes)}): ${report.corrupt.length} corrupt\n`);
          }
          return report.corrupt.length > 0 ? 1 : 0;
        });
      case 'gc': {
        if (v.status === true) {
          if (v['dry-run'] === true || v.grace !== undefined || v.force === true) throw new UsageError('gc --status takes none of --dry-run, --grace, --force');
          return withTarget(v, async (t) => {
            const status = await t.gcStatus();
            out(json ? JSON.stringify(status) + '\n' : describeGcStatus(status));
            return 0;
          });
        }
        const graceMinutes = num(v.grace, '--grace') ?? DEFAULT_GRACE_MS / 60000;
        return withTarget(v, async (t) => {
          const report = await t.gc({ dryRun: v['dry-run'] === true, graceSeconds: graceMinutes * 60, force: v.force === true });
          if (json) out(JSON.stringify(report) + '\n');
          else {
            for (const id of report.deleted) out(`${report.dryRun ? 'would delete' : 'deleted'} ${id}\n`);
            process.stderr.write(
              `${report.scanned} blobs, ${report.reachable} reachable from ${report.roots} roots; ` +
                `${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length} (${formatBytes(report.deletedBytes)}); ` +
                `kept ${report.young} younger than ${graceMinutes} min` +
                (report.missing.length ? `; ${report.missing.length} reachable blobs missing` : '') +
                '\n',
            );
          }
          return 0;
        });
      }
      case 'pin':
      case 'unpin': {
        const root = rest[0];
        if (root === undefined) throw new UsageError(`blobs ${sub} needs an ID or CID`);
        if (!root.startsWith('sha256-')) idArg(root);
        else parseBlobId(root);
        return withTarget(v, async (t) => {
          const changed = sub === 'pin' ? await t.pin(root) : await t.unpin(root);
          if (json) out(JSON.stringify({ root, pinned: sub === 'pin', changed }) + '\n');
          else process.stderr.write(`${root} ${sub === 'pin' ? (changed ? 'pinned' : 'was already pinned') : changed ? 'unpinned' : 'was not pinned'}\n`);
          return sub === 'unpin' && !changed ? 1 : 0;
        });
      }
      case 'pins':
        return withTarget(v, async (t) => {
          const pins = await t.pins();
          out(json ? JSON.stringify({ pins }) + '\n' : pins.map((p) => p + '\n').join(''));
          return 0;
        });
      default:
        throw new UsageError(`unknown blobs command: ${sub}`);
    }
  });
}
