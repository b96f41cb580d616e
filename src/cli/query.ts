// `refuge query`: a flooded query through a running node (`POST /_mesh/_find`): documents matching a
// Mango selector on the peers within the hop limit, or (--blob) which peers hold a blob.

import { NodeClient } from './node-client.ts';
import { toBlobId } from '../blobs/index.ts';
import { UsageError, num, parse, runCommand } from './blobs-args.ts';

function toBlobIdOrUsage(text: string): string {
  try {
    return toBlobId(text);
  } catch (err) {
    throw new UsageError(`--blob: ${(err as { reason?: string }).reason ?? String(err)}`);
  }
}

export const QUERY_HELP = `refuge query SELECTOR_JSON [--db D] [--ttl N] [--limit N] [--timeout MS] [--url URL] [--json]
refuge query --blob ID [...]      which peers hold a blob

Floods the query from a running node to its trusted peers, up to --ttl hops away (default 3, at most
8), and prints the results that came back within --timeout ms (default 3000) or up to --limit
documents (default 100). Each peer answers with what it lets this node read.

Options:
  --db D         one database (default *: every database the peer shares)
  --url URL      the node (default $REFUGE_URL or http://127.0.0.1:6986; user:pass@ for an admin)
  --json         the node's answer on stdout: {"results":[...], "neighbours":N, "warning"?}
  -h, --help     this text`;

const OPTIONS = {
  url: { type: 'string' },
  db: { type: 'string' },
  ttl: { type: 'string' },
  limit: { type: 'string' },
  timeout: { type: 'string' },
  blob: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Result {
  peer: string;
  db?: string;
  docs?: Array<Record<string, unknown>>;
  blob?: { id: string; size: number };
}

export function runQuery(args: string[]): Promise<number> {
  return runCommand(QUERY_HELP, async () => {
    const { values: v, positionals } = parse(args, OPTIONS);
    if (v.help) {
      process.stdout.write(QUERY_HELP + '\n');
      return 0;
    }
    if ((positionals.length === 1) === (v.blob !== undefined) || positionals.length > 1) throw new UsageError('give one SELECTOR_JSON or --blob ID');
    let body: Record<string, unknown>;
    // A CID names a blob as well as its id does (the node's queries speak blob ids).
    if (v.blob !== undefined) body = { blob: toBlobIdOrUsage(v.blob) };
    else {
      let selector: unknown;
      try {
        selector = JSON.parse(positionals[0]!);
      } catch {
        throw new UsageError('SELECTOR_JSON is not JSON');
      }
      body = { selector, ...(v.db !== undefined && { db: v.db }) };
    }
    for (const [flag, key] of [['ttl', 'ttl'], ['limit', 'limit'], ['timeout', 'timeout_ms']] as const) {
      const n = num(v[flag], `--${flag}`);
      if (n !== undefined) body[key] = n;
    }
    const client = new NodeClient(v.url ?? process.env.REFUGE_URL ?? 'http://127.0.0.1:6986');
    const answer = await client.json<{ results: Result[]; neighbours?: number; warning?: string }>('POST', '/_mesh/_find', body);
    if (v.json) {
      process.stdout.write(JSON.stringify(answer) + '\n');
      return 0;
    }
    const { results } = answer;
    if (answer.warning) process.stderr.write(`refuge query: ${answer.warning}\n`);
    for (const r of results) {
      if (r.blob) process.stdout.write(`${r.peer}  has ${r.blob.id} (${r.blob.size} bytes)\n`);
      for (const d of r.docs ?? []) process.stdout.write(`${r.peer}  ${r.db}  ${JSON.stringify(d)}\n`);
    }
    const count = results.reduce((n, r) => n + (r.docs?.length ?? 1), 0);
    process.stderr.write(`${count} result${count === 1 ? '' : 's'} from ${new Set(results.map((r) => r.peer)).size} peer(s)\n`);
    return 0;
  });
}
