// The `refuge` command line: one file per command; this one parses arguments and dispatches.
// Exit codes: 0 success, 1 failure, 2 bad usage.

import { parseArgs } from 'node:util';
import { isRefugeError } from '../errors/index.ts';
import { VERSION } from '../platform/version.ts';

const HELP = `refuge — store, sync and share your data without a central cloud

Usage:
  refuge start [options]      run a node: CouchDB-compatible HTTP API on 127.0.0.1:6986
  refuge replicate SOURCE TARGET [--continuous] [--selector JSON] [--doc-ids a,b] [--create-target]
                              replicate between URLs and/or databases of a stopped node (--data)
  refuge blobs put|get|ls|verify|gc|pin|unpin ...
                              the blob store of a running node (--url) or a data dir (--data)
  refuge snapshot create DIR --ref NAME | list NAME | restore NAME[@SEQ] DEST
                              incremental folder backups
  refuge id [--peer-id | --invite]
                              print the node's public key, mesh peer id, or an invite for other nodes
  refuge peers add|ls|rm|join|leave|grant|revoke|grants ...
                              trusted peers, groups, and who may read or write which database
  refuge query SELECTOR_JSON [--db D] [--ttl N] [--url URL] | query --blob ID
                              flood a query to the mesh through a running node
  refuge demo [--data DIR]    write and query a few documents in DIR/demo, then exit
  refuge help [COMMAND]       this text, or a command's options
  refuge --version            the version of this Refuge

Exit codes: 0 success, 1 failure, 2 bad usage.`;

const REPLICATE_HELP = `refuge replicate SOURCE TARGET [options] — one replication, with live progress

SOURCE and TARGET are database URLs (any CouchDB-compatible server: http://[user:pass@]host:port/db)
or names of databases in a node's data directory, which must not be in use by a running node
(reach a running node by its URL instead).

Options:
  --continuous                       keep following the source's changes until Ctrl-C
  --selector JSON                    only documents that match this Mango selector
  --doc-ids a,b,c                    only these documents (or a JSON array: '["a,b","c"]')
  --create-target                    create the target database when it does not exist
  --data DIR                         the data directory for database names (default ./refuge-data) [REFUGE_DATA]
  --json                             print the final report as JSON, and no progress

A peer that does not answer is tried again with growing waits (said on stderr): a one-shot
replication gives up after 10 attempts, a continuous one keeps trying.`;

/** The options each command takes (the parser is shared): any other one is a usage error. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  replicate: ['help', 'data', 'json', 'continuous', 'selector', 'doc-ids', 'create-target'],
  demo: ['help', 'data', 'json'],
};

/** `refuge start --help`: the settings' table comes with config.ts, loaded only for `start`. */
const startHelp = async () => {
  const { SETTING_HELP } = await import('./config.ts');
  return `refuge start [options] — run a node until Ctrl-C

Options (each also from an environment variable or the config file):
${SETTING_HELP.map(([flag, env, text]) => `  ${flag.padEnd(34)} ${text}${env ? ` [${env}]` : ''}`).join('\n')}

Without --admin the node only listens on loopback and anyone on this machine may use it.`;
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  data: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  admin: { type: 'string' },
  engine: { type: 'string' },
  durability: { type: 'string' },
  'body-limit': { type: 'string' },
  'max-document-size': { type: 'string' },
  cors: { type: 'string' },
  'cors-credentials': { type: 'string' },
  'cookie-same-site': { type: 'string' },
  'max-open-dbs': { type: 'string' },
  'password-iterations': { type: 'string' },
  'auto-compaction': { type: 'string' },
  'blob-backend': { type: 'string' },
  'blob-limit': { type: 'string' },
  'blob-gc': { type: 'string' },
  'blob-s3-endpoint': { type: 'string' },
  'blob-s3-bucket': { type: 'string' },
  'blob-s3-region': { type: 'string' },
  'blob-s3-prefix': { type: 'string' },
  'blob-s3-access-key-id': { type: 'string' },
  'blob-s3-secret-access-key': { type: 'string' },
  mesh: { type: 'string' },
  'mesh-listen': { type: 'string' },
  'mesh-mdns': { type: 'string' },
  hub: { type: 'boolean' },
  'mesh-hub': { type: 'string' },
  'mesh-dht': { type: 'string' },
  'mesh-nat': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  continuous: { type: 'boolean' },
  selector: { type: 'string' },
  'doc-ids': { type: 'string' },
  'create-target': { type: 'boolean' },
  version: { type: 'boolean' },
} as const;

/** Options of other commands than `start`. */
const COMMAND_ONLY = new Set(['json', 'continuous', 'selector', 'doc-ids', 'create-target', 'version']);

/**
 * Commands that parse their own options. Every command is imported only when it runs: a command (or
 * `--help`) then loads none of the others' dependencies (libp2p, the S3 client, Fastify).
 */
const OWN_PARSERS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  blobs: async () => (await import('./blobs.ts')).runBlobs,
  snapshot: async () => (await import('./snapshot.ts')).runSnapshot,
  id: async () => (await import('./id.ts')).runId,
  peers: async () => (await import('./peers.ts')).runPeers,
  query: async () => (await import('./query.ts')).runQuery,
};
const COMMANDS: readonly string[] = ['start', 'replicate', 'demo', 'help', ...Object.keys(OWN_PARSERS)];

export async function main(argv: string[]): Promise<number> {
  // These parse their own options; `refuge --help blobs` and `refuge help blobs` show their help.
  const ownHelp = (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') && argv.length === 2 ? argv[1] : undefined;
  if (ownHelp !== undefined && Object.hasOwn(OWN_PARSERS, ownHelp)) return (await OWN_PARSERS[ownHelp]!())(['--help']);
  if (argv[0] !== undefined && Object.hasOwn(OWN_PARSERS, argv[0])) return (await OWN_PARSERS[argv[0]]!())(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    process.stderr.write(`refuge: ${(err as Error).message} (see refuge --help)\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [command, topic] = positionals;
  if (command === undefined && (v as { version?: boolean }).version) {
    process.stdout.write(`refuge ${VERSION}\n`);
    return 0;
  }
  const helpOf = async (c: string | undefined) => (c === 'start' ? startHelp() : c === 'replicate' ? REPLICATE_HELP : HELP);
  // Help about a command that does not exist is a usage error, as running it is.
  const asked = command === 'help' ? topic : command;
  if ((command === 'help' || v.help) && asked !== undefined && !COMMANDS.includes(asked)) {
    process.stderr.write(`refuge: unknown command ${asked} (see refuge --help)\n`);
    return 2;
  }
  if (command === undefined || command === 'help' || (v.help && command !== 'start')) {
    process.stdout.write((await helpOf(command === 'help' ? topic : command)) + '\n');
    return command === undefined && !v.help ? 2 : 0;
  }
  const allowed = COMMAND_OPTIONS[command] ?? (command === 'start' ? Object.keys(OPTIONS).filter((k) => !COMMAND_ONLY.has(k)) : undefined);
  const stray = allowed ? Object.keys(v).find((k) => !allowed.includes(k)) : undefined;
  if (stray !== undefined) {
    process.stderr.write(`refuge ${command} takes no --${stray} (see refuge ${command} --help)\n`);
    return 2;
  }
  switch (command) {
    case 'start': {
      if (v.help) {
        process.stdout.write((await startHelp()) + '\n');
        return 0;
      }
      if (positionals.length > 1) {
        process.stderr.write(`refuge start takes no arguments, only options (see refuge start --help)\n`);
        return 2;
      }
      const settings = (await import('./config.ts')).loadSettings({
        data: v.data,
        host: v.host,
        port: v.port,
        admin: v.admin,
        engine: v.engine,
        durability: v.durability,
        bodyLimit: v['body-limit'],
        maxDocumentSize: v['max-document-size'],
        cors: v.cors,
        corsCredentials: v['cors-credentials'],
        cookieSameSite: v['cookie-same-site'],
        maxOpenDbs: v['max-open-dbs'],
        passwordIterations: v['password-iterations'],
        autoCompaction: v['auto-compaction'],
        blobBackend: v['blob-backend'],
        blobLimit: v['blob-limit'],
        blobGc: v['blob-gc'],
        blobS3Endpoint: v['blob-s3-endpoint'],
        blobS3Bucket: v['blob-s3-bucket'],
        blobS3Region: v['blob-s3-region'],
        blobS3Prefix: v['blob-s3-prefix'],
        blobS3AccessKeyId: v['blob-s3-access-key-id'],
        blobS3SecretAccessKey: v['blob-s3-secret-access-key'],
        mesh: v.mesh,
        meshListen: v['mesh-listen'],
        meshMdns: v['mesh-mdns'],
        meshHub: v.hub === true ? 'on' : undefined,
        meshHubs: v['mesh-hub'],
        meshDht: v['mesh-dht'],
        meshNat: v['mesh-nat'],
        config: v.config,
      });
      return (await import('./start.ts')).runStart(settings);
    }
    case 'replicate': {
      const [, source, target, extra] = positionals;
      if (!source || !target || extra !== undefined) {
        process.stderr.write(`usage: refuge replicate SOURCE TARGET [options] (see refuge replicate --help)\n`);
        return 2;
      }
      return (await import('./replicate.ts')).runReplicate({
        source,
        target,
        data: v.data ?? process.env.REFUGE_DATA ?? './refuge-data',
        continuous: v.continuous === true,
        selector: v.selector,
        docIds: v['doc-ids'],
        createTarget: v['create-target'] === true,
        json: v.json === true,
      });
    }
    case 'demo':
      return (await import('./demo.ts')).runDemo({ dataDir: v.data, json: v.json === true });
    default:
      process.stderr.write(`refuge: unknown command ${command} (see refuge --help)\n`);
      return 2;
  }
}

/** Exits once stdout and stderr have drained: a pipe reader must see the last lines. */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exit, (err) => {
  process.stderr.write(`refuge: ${isRefugeError(err) ? err.reason : err instanceof Error ? err.message : String(err)}\n`);
  exit(isRefugeError(err) && err.status < 500 ? 2 : 1);
});
