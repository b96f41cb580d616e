// Shared argument handling for `refuge blobs|snapshot|peers|id`: parsing with usage errors (exit 2),
// subcommands and their help, the --url/--data target options, and RefugeError-aware exit codes.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isRefugeError } from '../errors/index.ts';

export class UsageError extends Error {}

export const TARGET_OPTIONS = {
  url: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TARGET_HELP = `  --url URL      a running node (default $REFUGE_URL or http://127.0.0.1:6986; user:pass@ for an admin)
  --data DIR     a stopped node's data directory, opened directly (fails while a node runs on it)
  --json         machine-readable output on stdout
  -h, --help     this text`;

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * A command's options and its subcommand with the arguments after it (`refuge blobs put FILE`), or
 * the exit code once the command's help is printed: asked for (0), or no subcommand given (2).
 */
export function parseSubcommand<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, help: string) {
  const { values, positionals } = parse(args, options);
  const [sub, ...rest] = positionals;
  const asked = (values as { help?: boolean }).help === true || sub === 'help';
  if (asked || sub === undefined) {
    process.stdout.write(help + '\n');
    return { exit: asked ? 0 : 2 };
  }
  return { v: values, sub, rest };
}

/** A non-negative number option. */
export function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new UsageError(`${name} must be a non-negative number`);
  return n;
}

/** Runs a command: 0/1 as it returns; usage errors print help and give 2; failures give 1. */
export async function runCommand(help: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) {
      // The error and the command's usage line, not its whole help: the mistake stays in view.
      const usage = help.split('\n', 1)[0]!;
      process.stderr.write(`refuge: ${err.message}\nusage: ${usage}\n(all options: --help)\n`);
      return 2;
    }
    const reason = isRefugeError(err) ? err.reason : err instanceof Error ? err.message : String(err);
    process.stderr.write(`refuge: ${reason}\n`);
    return 1;
  }
}
