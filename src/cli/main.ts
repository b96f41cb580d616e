// The `refuge` command line. Until the HTTP server lands, `refuge demo` (what `npm start` runs)
// shows the embedded database at work on the default on-disk engine.

import { parseArgs } from 'node:util';
import { runDemo } from './demo.ts';

const HELP = `refuge — store, sync and share your data without a central cloud

Usage:
  refuge demo [--data DIR]   write, query and list documents in DIR/demo (default ./refuge-data)
  refuge --help              this text

Exit codes: 0 success, 1 failure, 2 bad usage.`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, data: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const [command] = parsed.positionals;
  if (parsed.values.help || command === undefined || command === 'help') {
    process.stdout.write(HELP + '\n');
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (command === 'demo') return runDemo({ dataDir: parsed.values.data, json: parsed.values.json === true });
  process.stderr.write(`unknown command: ${command}\n\n${HELP}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`refuge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
