// Node settings from, in order of precedence: command-line flags, REFUGE_* environment variables,
// a JSON config file (--config FILE, or refuge.json in the data directory), then defaults.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import { DEFAULT_BODY_LIMIT, parseCorsOrigins } from '../http/index.ts';
import { DEFAULT_MAX_OPEN_DBS, MAX_PBKDF2_ITERATIONS, PBKDF2_ITERATIONS } from '../node/index.ts';

export interface NodeSettings {
  data: string;
  host: string;
  port: number;
  admin?: string;
  engine: 'leveldb' | 'memory';
  durability: 'durable' | 'fast';
  bodyLimit: number;
  /** Largest document accepted over HTTP, in bytes of its JSON (CouchDB's max_document_size). */
  maxDocumentSize: number;
  /** Origins browsers may call the API from: `*` or a comma-separated list (CORS; off when unset). */
  cors?: string;
  /** 'on': cross-origin pages may send credentials (cookies, Basic auth). */
  corsCredentials?: 'on' | 'off';
  /** The session cookie's SameSite (CouchDB's [chttpd_auth] same_site): lax by default. */
  cookieSameSite?: 'lax' | 'strict' | 'none';
  /** Databases kept open at once (CouchDB's max_dbs_open); idle ones past it are closed. */
  maxOpenDbs: number;
  /** PBKDF2 iterations for passwords written to `_users` (CouchDB's [chttpd_auth] iterations). */
  passwordIterations: number;
  /** 'on' (default, as CouchDB's smoosh): compact written databases whose old revisions outweigh the rest. */
  autoCompaction: 'on' | 'off';
  /** Blob store backend; default memory with the memory engine, otherwise fs in DATA/blobs. */
  blobBackend?: 'fs' | 'memory' | 's3';
  /** Largest blob accepted over HTTP (PUT/POST /_blobs, resumable uploads). */
  blobLimit: number;
  /** Blob gc of dropped attachments by itself; default on for fs and memory stores, off for s3 (a bucket may be shared). */
  blobGc?: 'on' | 'off';
  blobS3Endpoint?: string;
  blobS3Bucket?: string;
  blobS3Region?: string;
  blobS3Prefix?: string;
  blobS3AccessKeyId?: string;
  blobS3SecretAccessKey?: string;
  /** 'on' (default): join the mesh of trusted peers; 'off': HTTP only. */
  mesh: 'on' | 'off';
  /** Comma-separated libp2p multiaddrs the mesh listens on (default loopback TCP and WebSockets). */
  meshListen?: string;
  /** mDNS on the LAN; default on when the mesh listens on a non-loopback address. */
  meshMdns?: 'on' | 'off';
  /** 'on': be a hub (circuit relay server, peer registry, DHT server). */
  meshHub?: 'on' | 'off';
  /** Comma-separated hub multiaddrs (`/…/p2p/<id>`) to register with and listen through. */
  meshHubs?: string;
  /** Refuge's private Kademlia DHT (default on). */
  meshDht?: 'on' | 'off';
  /** UPnP port mapping and AutoNAT; default on when the mesh listens on a non-loopback address. */
  meshNat?: 'on' | 'off';
}

const DEFAULTS: NodeSettings = {
  data: './refuge-data',
  host: '127.0.0.1',
  port: 6986,
  engine: 'leveldb',
  durability: 'durable',
  bodyLimit: DEFAULT_BODY_LIMIT,
  maxDocumentSize: 8_000_000,
  maxOpenDbs: DEFAULT_MAX_OPEN_DBS,
  passwordIterations: PBKDF2_ITERATIONS,
  autoCompaction: 'on',
  blobLimit: 16 * 1024 ** 3,
  mesh: 'on',
};

const ENV: Record<keyof NodeSettings, string> = {
  data: 'REFUGE_DATA',
  host: 'REFUGE_HOST',
  port: 'REFUGE_PORT',
  admin: 'REFUGE_ADMIN',
  engine: 'REFUGE_ENGINE',
  durability: 'REFUGE_DURABILITY',
  bodyLimit: 'REFUGE_BODY_LIMIT',
  maxDocumentSize: 'REFUGE_MAX_DOCUMENT_SIZE',
  cors: 'REFUGE_CORS',
  corsCredentials: 'REFUGE_CORS_CREDENTIALS',
  cookieSameSite: 'REFUGE_COOKIE_SAME_SITE',
  maxOpenDbs: 'REFUGE_MAX_OPEN_DBS',
  passwordIterations: 'REFUGE_PASSWORD_ITERATIONS',
  autoCompaction: 'REFUGE_AUTO_COMPACTION',
  blobBackend: 'REFUGE_BLOB_BACKEND',
  blobLimit: 'REFUGE_BLOB_LIMIT',
  blobGc: 'REFUGE_BLOB_GC',
  blobS3Endpoint: 'REFUGE_BLOB_S3_ENDPOINT',
  blobS3Bucket: 'REFUGE_BLOB_S3_BUCKET',
  blobS3Region: 'REFUGE_BLOB_S3_REGION',
  blobS3Prefix: 'REFUGE_BLOB_S3_PREFIX',
  blobS3AccessKeyId: 'REFUGE_BLOB_S3_ACCESS_KEY_ID',
  blobS3SecretAccessKey: 'REFUGE_BLOB_S3_SECRET_ACCESS_KEY',
  mesh: 'REFUGE_MESH',
  meshListen: 'REFUGE_MESH_LISTEN',
  meshMdns: 'REFUGE_MESH_MDNS',
  meshHub: 'REFUGE_MESH_HUB',
  meshHubs: 'REFUGE_MESH_HUBS',
  meshDht: 'REFUGE_MESH_DHT',
  meshNat: 'REFUGE_MESH_NAT',
};

export const SETTING_HELP: Array<[flag: string, env: string, text: string]> = [
  ['--data DIR', ENV.data, `data directory (default ${DEFAULTS.data})`],
  ['--host HOST', ENV.host, `address to listen on (default ${DEFAULTS.host}; other than loopback needs --admin)`],
  ['--port PORT', ENV.port, `port to listen on (default ${DEFAULTS.port}; 0 picks a free one)`],
  ['--admin USER:PASS', ENV.admin, 'server admin: enables Basic and cookie auth; then every request but /, /_up, /_uuids, /_session and a sign-up needs a login (the admin, or a user of _users)'],
  ['--engine NAME', ENV.engine, 'storage engine: leveldb (default, on disk) or memory'],
  ['--durability MODE', ENV.durability, 'durable (default: acknowledged writes are fsynced) or fast (no fsync; a killed process can lose its last few ms of writes)'],
  ['--body-limit BYTES', ENV.bodyLimit, `largest request body (default ${DEFAULTS.bodyLimit}: 64 MiB, or a 32nd of the JS heap when less); attachment data streams past it in document writes`],
  ['--max-document-size BYTES', ENV.maxDocumentSize, `largest document's JSON, attachments aside (default ${DEFAULTS.maxDocumentSize}, as CouchDB's max_document_size)`],
  ['--cors ORIGINS', ENV.cors, 'let web pages on these origins call the API: * or a comma-separated list (CORS; default off)'],
  ['--cors-credentials on|off', ENV.corsCredentials, 'let those pages send cookies and Basic credentials (default off)'],
  ['--cookie-same-site lax|strict|none', ENV.cookieSameSite, "the session cookie's SameSite (default lax: other sites' pages cannot use a login; none lets a page of another site keep one, with --cors and --cors-credentials; the cookie is then Secure, which browsers take over http on localhost only)"],
  ['--max-open-dbs N', ENV.maxOpenDbs, `databases kept open at once; idle ones past it close until used (default ${DEFAULTS.maxOpenDbs})`],
  ['--password-iterations N', ENV.passwordIterations, `PBKDF2 iterations for passwords written to _users (default ${DEFAULTS.passwordIterations}, as CouchDB 3.4; at most ${MAX_PBKDF2_ITERATIONS})`],
  ['--auto-compaction on|off', ENV.autoCompaction, 'compact, in the background, written databases whose old revisions take as much room as the rest (default on, as CouchDB 3)'],
  ['--blob-backend NAME', ENV.blobBackend, 'blob store: fs (DATA/blobs; default), memory (default with --engine memory) or s3'],
  ['--blob-limit BYTES', ENV.blobLimit, `largest blob accepted over HTTP (default ${DEFAULTS.blobLimit}, 16 GiB)`],
  ['--blob-gc on|off', ENV.blobGc, 'delete, by itself, the attachments (and unpinned trees) that nothing names any more once a compaction, purge, stemming write, database deletion or unpin dropped them; only blobs over an hour old, once none was added for five minutes; never a blob stored by hand (default on; off with s3, whose bucket other nodes may share)'],
  ['--blob-s3-endpoint URL', ENV.blobS3Endpoint, 'S3 endpoint (MinIO, Ceph RGW, Garage…; omit for AWS)'],
  ['--blob-s3-bucket NAME', ENV.blobS3Bucket, 'S3 bucket (required with --blob-backend s3; created if missing)'],
  ['--blob-s3-region NAME', ENV.blobS3Region, 'S3 region (default us-east-1)'],
  ['--blob-s3-prefix PREFIX', ENV.blobS3Prefix, 'key prefix of this node inside the bucket'],
  ['--blob-s3-access-key-id ID', ENV.blobS3AccessKeyId, 'S3 access key id (default: the AWS SDK\'s usual sources)'],
  ['--blob-s3-secret-access-key KEY', ENV.blobS3SecretAccessKey, 'S3 secret key (prefer the variable: flags show in ps)'],
  ['--mesh on|off', ENV.mesh, 'join the mesh of trusted peers (libp2p; default on); see `refuge peers`'],
  ['--mesh-listen ADDRS', ENV.meshListen, 'mesh multiaddrs, comma-separated (default /ip4/127.0.0.1/tcp/0 and its /ws)'],
  ['--mesh-mdns on|off', ENV.meshMdns, 'find peers on the LAN by mDNS (default on when the mesh listens beyond loopback)'],
  ['--hub', ENV.meshHub, 'be a hub: relay for peers, keep their registrations, serve the DHT (REFUGE_MESH_HUB=on)'],
  ['--mesh-hub ADDRS', ENV.meshHubs, 'hubs to register with and listen through, comma-separated /…/p2p/<id> multiaddrs'],
  ['--mesh-dht on|off', ENV.meshDht, 'find peers by id in Refuge\'s private DHT (default on)'],
  ['--mesh-nat on|off', ENV.meshNat, 'UPnP port mapping and AutoNAT (default on when the mesh listens beyond loopback)'],
  ['--config FILE', '', 'JSON file with any of these settings (default DATA/refuge.json if present)'],
];

const ON_OFF = new Set<keyof NodeSettings>(['mesh', 'meshMdns', 'meshHub', 'meshDht', 'meshNat', 'corsCredentials', 'autoCompaction', 'blobGc']);

/** `key` as its flag: --body-limit for bodyLimit (the two mesh hub settings are named otherwise). */
const FLAG_NAMES: Partial<Record<string, string>> = { meshHub: '--hub', meshHubs: '--mesh-hub' };
const flagOf = (key: string): string => FLAG_NAMES[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** `value` as the setting `key` takes it; `what` names where it came from in errors (a flag, a variable, a file's key). */
function coerce(key: keyof NodeSettings, value: unknown, what: string): unknown {
  const bad = (must: string) => new RefugeError('bad_request', `${what} must be ${must}`);
  if (key === 'port' || key === 'bodyLimit' || key === 'maxDocumentSize' || key === 'blobLimit' || key === 'maxOpenDbs' || key === 'passwordIterations') {
    // Decimal digits in flags and variables, a JSON number in a file: Number() would take '' or
    // null as 0, '0x10' as 16 and [5] as 5.
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value.trim()) ? Number(value) : Number.NaN;
    // Port 0 asks for any free port; a limit or a cache of 0 would refuse everything.
    const least = key === 'port' ? 0 : 1;
    if (!Number.isSafeInteger(n) || n < least || (key === 'port' && n > 65535)) {
      throw bad(key === 'port' ? 'a port number (0-65535)' : 'a positive whole number');
    }
    // A login derives no more than this, so a larger count would lock every new user out.
    if (key === 'passwordIterations' && n > MAX_PBKDF2_ITERATIONS) throw bad(`at most ${MAX_PBKDF2_ITERATIONS}`);
    return n;
  }
  // A config file may say `"mesh": false` for off.
  if (ON_OFF.has(key) && typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value !== 'string') throw bad('a string');
  if (key === 'engine' && value !== 'leveldb' && value !== 'memory') throw bad('leveldb or memory');
  if (key === 'durability' && value !== 'durable' && value !== 'fast') throw bad('durable or fast');
  if (ON_OFF.has(key) && value !== 'on' && value !== 'off') throw bad('on or off');
  // Checked now, so a typo stops the node at start rather than failing every browser.
  if (key === 'cors') {
    try {
      parseCorsOrigins(value);
    } catch (err) {
      const reason = (err as { reason?: string }).reason ?? String(err);
      throw new RefugeError('bad_request', `${what}: ${reason.replace(/^cors: /, '')}`, { cause: err });
    }
  }
  if (key === 'blobBackend' && value !== 'fs' && value !== 'memory' && value !== 's3') throw bad('fs, memory or s3');
  if (key === 'cookieSameSite' && value !== 'lax' && value !== 'strict' && value !== 'none') throw bad('lax, strict or none');
  return value;
}

/** Why a config file could not be read, in a few words. */
function readProblem(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOENT') return 'there is no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  if (err instanceof SyntaxError) return `it is not JSON (${err.message})`;
  return String((err as Error)?.message ?? err);
}

export function loadSettings(flags: Partial<Record<keyof NodeSettings | 'config', string>>, env: NodeJS.ProcessEnv = process.env): NodeSettings {
  const out: Record<string, unknown> = { ...DEFAULTS };
  const data = flags.data ?? env[ENV.data] ?? DEFAULTS.data;
  if (flags.config === '') throw new RefugeError('bad_request', '--config needs a file name');
  const file = flags.config ?? (existsSync(join(data, 'refuge.json')) ? join(data, 'refuge.json') : undefined);
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new RefugeError('bad_request', `cannot read config file ${file}: ${readProblem(err)}`, { cause: err });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RefugeError('bad_request', `${file}: must hold a JSON object`);
    for (const [k, v] of Object.entries(parsed)) {
      // Own keys only: `constructor` or `__proto__` is no setting, whatever objects inherit.
      if (!Object.hasOwn(ENV, k)) throw new RefugeError('bad_request', `${file}: unknown setting ${k}`);
      out[k] = coerce(k as keyof NodeSettings, v, `${file}: ${k}`);
    }
  }
  for (const key of Object.keys(ENV) as Array<keyof NodeSettings>) {
    const v = env[ENV[key]];
    // A variable a flag overrides is not read: a stale one in the environment does not stop a start.
    if (v !== undefined && v !== '' && flags[key] === undefined) out[key] = coerce(key, v, ENV[key]);
  }
  for (const key of Object.keys(ENV) as Array<keyof NodeSettings>) {
    const v = flags[key];
    if (v !== undefined) out[key] = coerce(key, v, flagOf(key));
  }
  return out as unknown as NodeSettings;
}
