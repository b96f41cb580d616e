// `refuge snapshot create|list|restore`: incremental folder backups as UnixFS trees named by signed
// refs, on a running node (--url: chunks hashed here, only missing blobs uploaded) or a data dir.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isRefName } from '../refs/index.ts';
import { createSnapshot, listSnapshots, previousSnapshot, restoreSnapshot } from '../files/index.ts';
import { TARGET_HELP, TARGET_OPTIONS, UsageError, parseSubcommand, runCommand } from './blobs-args.ts';
import { openTarget } from './blobs-target.ts';
import { formatBytes, progressReporter } from './progress.ts';

export const SNAPSHOT_HELP = `refuge snapshot COMMAND [options] — incremental folder backups

Commands:
  create DIR --ref NAME       snapshot DIR (only new chunks are stored) and point ref NAME at it
  list NAME                   the ref's snapshots: seq, time, root, files, bytes
  restore NAME[@SEQ] DEST     restore a snapshot (default the latest) into a new or empty folder,
                              byte-identical with modes and mtimes; NAME may also be a root CID

Options:
  --ref NAME     the ref to update (create)
  --quiet        no progress on stderr
${TARGET_HELP}`;

const OPTIONS = { ...TARGET_OPTIONS, ref: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } } as const;
const out = (s: string) => process.stdout.write(s);

export function runSnapshot(args: string[]): Promise<number> {
  return runCommand(SNAPSHOT_HELP, async () => {
    const command = parseSubcommand(args, OPTIONS, SNAPSHOT_HELP);
    if (command.exit !== undefined) return command.exit;
    const { v, sub, rest } = command;
    const json = v.json === true;
    const quiet = v.quiet === true || json;
    switch (sub) {
      case 'create': {
        const [dir] = rest;
        if (dir === undefined || rest.length > 1) throw new UsageError('snapshot create needs one DIR');
        if (v.ref === undefined) throw new UsageError('snapshot create needs --ref NAME');
        if (!isRefName(v.ref)) throw new UsageError(`invalid ref name ${JSON.stringify(v.ref)}`);
        const ref = v.ref;
        await stat(dir).catch(() => {
          throw new UsageError(`${dir} does not exist`);
        });
        const target = await openTarget(v);
        try {
          const progress = progressReporter('snapshot', { quiet });
          // The blobs go to the target's store; the ref is signed by the node's key (there, or here).
          // Files unchanged since the ref's last snapshot of this folder are taken over unread.
          const source = resolve(dir);
          const previous = (await previousSnapshot(target.refs, ref, source)) ?? false;
          // Its blocks are named only once the ref is updated: the node's gc keeps off them until then.
          const release = await target.holdGc();
          let result: Awaited<ReturnType<typeof createSnapshot>>;
          let signed: Awaited<ReturnType<typeof target.update>>;
          try {
            result = await createSnapshot(target.store, dir, { previous, onProgress: (p) => progress.update(p), progressIntervalMs: 200 });
            const meta = { source, files: result.files, bytes: result.bytes, newBytes: result.stats.newBytes, startedAt: result.startedAt };
            signed = await target.update(ref, result.root, meta);
          } finally {
            await release();
          }
          progress.end();
          const summary = { ref: ref, seq: signed.seq, root: result.root, files: result.files, bytes: result.bytes, newBytes: result.stats.newBytes, newBlocks: result.stats.newBlocks, reused: result.reused, skipped: result.skipped, elapsedMs: Math.round(result.elapsedMs) };
          if (json) out(JSON.stringify(summary) + '\n');
          else {
            out(`${ref}@${signed.seq} ${result.root}\n`);
            process.stderr.write(`${result.files} files, ${formatBytes(result.bytes)}; ${formatBytes(result.stats.newBytes)} new in ${result.stats.newBlocks} blocks; ${result.reused} unchanged files not read again\n`);
            for (const s of result.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
          }
          return 0;
        } finally {
          await target.close();
        }
      }
      case 'list': {
        const [name] = rest;
        if (name === undefined || !isRefName(name)) throw new UsageError('snapshot list needs a ref NAME');
        const target = await openTarget(v);
        try {
          const snaps = await listSnapshots(target.refs, name);
          if (snaps.length === 0) {
            process.stderr.write(`refuge: ref ${name} not found\n`);
            return 1;
          }
          if (json) out(JSON.stringify(snaps) + '\n');
          else {
            for (const s of snaps) {
              out(`${String(s.seq).padStart(4)}  ${new Date(s.timestamp).toISOString()}  ${s.root}  ${s.files ?? '?'} files  ${s.bytes === undefined ? '?' : formatBytes(s.bytes)}\n`);
            }
          }
          return 0;
        } finally {
          await target.close();
        }
      }
      case 'restore': {
        const [spec, dest] = rest;
        if (spec === undefined || dest === undefined || rest.length > 2) throw new UsageError('snapshot restore needs NAME[@SEQ] and DEST');
        const target = await openTarget(v);
        try {
          const progress = progressReporter('restore', { quiet });
          const result = await restoreSnapshot(target.store, spec, dest, { refs: target.refs, onProgress: (p) => progress.update(p) });
          progress.end();
          if (json) out(JSON.stringify(result) + '\n');
          else process.stderr.write(`restored ${result.root} into ${dest}: ${result.files} files, ${formatBytes(result.bytes)}\n`);
          return 0;
        } finally {
          await target.close();
        }
      }
      default:
        throw new UsageError(`unknown snapshot command: ${sub}`);
    }
  });
}
