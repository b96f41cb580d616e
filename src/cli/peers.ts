// `refuge peers`: the trust file of a data directory — trusted peers, their groups, and per-database
// grants. Works while a node runs on it (the node re-reads the file on its next request).

import { RefugeError, isRefugeError } from '../errors/index.ts';
import { isPeerId, peerIdOf } from '../mesh/identity.ts';
import { readNodeKey } from '../refs/index.ts';
import { parseInvite } from '../mesh/invite.ts';
import { addPeer, findPeer, parseSubject, removePeer, setGrant, setGroup, type Access, type Subject, type TrustState } from '../mesh/trust.ts';
import { FileTrustStore } from '../mesh/trust-file.ts';
import { UsageError, num, parseSubcommand, runCommand } from './blobs-args.ts';
import { NodeClient } from './node-client.ts';

export const PEERS_HELP = `refuge peers COMMAND [--data DIR] [--json] — who this node trusts, and what they may do

Commands:
  add INVITE|ID [--name N] [--group G]...   trust a peer (an invite from \`refuge id --invite\`, or a peer id);
                                            adding it again renames it, adds groups and addresses
  ls                                        trusted peers, with names, groups and addresses
  rm ID|NAME                                stop trusting a peer (its grants go too)
  join ID|NAME GROUP / leave ID|NAME GROUP  group membership
  grant DB read|write|rw WHO                let WHO read and/or write database DB (DB * : every database)
  revoke DB read|write|rw WHO               take it back
  grants [DB]                               grants, by database
  status [--url URL]                        a running node's trusted peers, up or down now
  watch [--url URL] [--count N]             follow a running node's peers coming up and going down
                                            (a line per peer up now, then per event; stops
                                            after N lines, or at Ctrl-C)

WHO is public (anyone may read; never write), group:G, peer:ID, or a trusted peer's name.
Databases and refs are private until granted; read and write are separate. A trusted peer that is
up pulls what it may read here and what this node lets it write: documents, refs and their blobs.

Options:
  --data DIR     the node's data directory (default $REFUGE_DATA or ./refuge-data)
  --url URL      the running node, for status and watch (default $REFUGE_URL or
                 http://127.0.0.1:6986; user:pass@ for an admin)
  --json         machine-readable output on stdout
  -h, --help     this text`;

const OPTIONS = {
  data: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  group: { type: 'string', multiple: true },
  url: { type: 'string' },
  count: { type: 'string' },
} as const;

const out = (s: string) => process.stdout.write(s);

function accesses(text: string | undefined): Access[] {
  if (text === 'read' || text === 'write') return [text];
  if (text === 'rw') return ['read', 'write'];
  throw new UsageError(`access is read, write or rw, not ${JSON.stringify(text)}`);
}

/** public, group:G, peer:ID, a bare peer id, or the name of a trusted peer. */
function subjectOf(state: TrustState, who: string | undefined): Subject {
  if (who === undefined) throw new UsageError('missing WHO (public, group:G, peer:ID or a peer name)');
  if (who === 'public' || who.startsWith('group:') || who.startsWith('peer:')) return parseSubject(who);
  if (isPeerId(who)) return parseSubject(`peer:${who}`);
  const peer = findPeer(state, who);
  if (!peer) throw new UsageError(`no trusted peer named ${JSON.stringify(who)}`);
  return `peer:${peer.id}`;
}

function need(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

function printPeers(state: TrustState, json: boolean): void {
  const peers = Object.values(state.peers).sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id));
  if (json) return void out(JSON.stringify(peers) + '\n');
  if (peers.length === 0) return void out('no trusted peers\n');
  for (const p of peers) {
    out(`${p.id}${p.name ? `  ${p.name}` : ''}${p.groups.length ? `  [${p.groups.join(', ')}]` : ''}\n`);
    for (const a of p.addrs) out(`    ${a}\n`);
  }
}

function printGrants(state: TrustState, db: string | undefined, json: boolean): void {
  const entries = Object.entries(state.grants).filter(([name]) => db === undefined || name === db);
  if (json) return void out(JSON.stringify(Object.fromEntries(entries)) + '\n');
  if (entries.length === 0) return void out(db === undefined ? 'no grants: every database is private\n' : `${db}: private\n`);
  const label = (s: Subject) => (s.startsWith('peer:') ? `${s}${state.peers[s.slice(5)]?.name ? ` (${state.peers[s.slice(5)]!.name})` : ''}` : s);
  for (const [name, g] of entries.sort(([a], [b]) => a.localeCompare(b))) {
    out(`${name}\n  read:  ${g.read.map(label).join(', ') || '-'}\n  write: ${g.write.map(label).join(', ') || '-'}\n`);
  }
}

export function runPeers(args: string[]): Promise<number> {
  return runCommand(PEERS_HELP, async () => {
    const command = parseSubcommand(args, OPTIONS, PEERS_HELP);
    if (command.exit !== undefined) return command.exit;
    const { v, sub, rest } = command;
    if (sub === 'status' || sub === 'watch') {
      // A running node's answer: its data directory says nothing of where it listens.
      if (v.data !== undefined) throw new UsageError(`refuge peers ${sub} asks a running node: give its address with --url, not --data`);
      const client = new NodeClient(v.url ?? process.env.REFUGE_URL ?? 'http://127.0.0.1:6986', ' (give its address with --url)');
      return sub === 'status' ? peerStatus(client, v.json === true) : watchPeers(client, v.json === true, num(v.count, '--count'));
    }
    const store = new FileTrustStore(v.data ?? (process.env.REFUGE_DATA || './refuge-data'));
    const json = v.json === true;
    try {
      switch (sub) {
        case 'add': {
          const invite = parseInvite(need(rest[0], 'INVITE or ID'));
          const own = await readNodeKey(store.dataDir);
          if (own && peerIdOf(own.publicKey) === invite.id) {
            throw new RefugeError('bad_request', `${invite.id} is this node's own id (the invite came from \`refuge id\` here): add the other node's invite`);
          }
          const state = await store.update((s) => addPeer(s, { id: invite.id, name: v.name, groups: v.group ?? [], addrs: invite.addrs }));
          const peer = state.peers[invite.id]!;
          out(json ? JSON.stringify(peer) + '\n' : `trusted ${peer.id}${peer.name ? ` (${peer.name})` : ''}\n`);
          return 0;
        }
        case 'ls':
          printPeers(await store.current(), json);
          return 0;
        case 'rm': {
          const ref = need(rest[0], 'ID or NAME');
          await store.update((s) => removePeer(s, ref));
          if (!json) out(`no longer trusted: ${ref}\n`);
          return 0;
        }
        case 'join':
        case 'leave': {
          const [ref, group] = [need(rest[0], 'ID or NAME'), need(rest[1], 'GROUP')];
          const state = await store.update((s) => setGroup(s, ref, group, sub === 'join'));
          const peer = findPeer(state, ref)!;
          out(json ? JSON.stringify(peer) + '\n' : `${peer.name ?? peer.id}: [${peer.groups.join(', ')}]\n`);
          return 0;
        }
        case 'grant':
        case 'revoke': {
          const db = need(rest[0], 'DB');
          const kinds = accesses(rest[1]);
          const state = await store.update((s) => {
            const who = subjectOf(s, rest[2]);
            return kinds.reduce((next, access) => setGrant(next, db, access, who, sub === 'grant'), s);
          });
          printGrants(state, db, json);
          return 0;
        }
        case 'grants':
          printGrants(await store.current(), rest[0], json);
          return 0;
        default:
          throw new UsageError(`unknown peers command ${JSON.stringify(sub)}`);
      }
    } catch (err) {
      // Bad ids, invites, names and groups are the user's typing, not a failure of the node.
      if (isRefugeError(err, 'bad_request') || isRefugeError(err, 'illegal_database_name')) throw new UsageError(err.reason);
      throw err;
    }
  });
}

interface PeerRow {
  id: string;
  name?: string;
  groups: string[];
  up: boolean;
}

async function peerStatus(client: NodeClient, json: boolean): Promise<number> {
  const info = await client.json<{ peer_id: string; addresses: string[]; peers: PeerRow[]; connected: string[] }>('GET', '/_mesh/peers');
  if (json) {
    out(JSON.stringify(info) + '\n');
    return 0;
  }
  out(`this node: ${info.peer_id}\n`);
  for (const a of info.addresses) out(`    ${a}\n`);
  if (info.peers.length === 0) out('no trusted peers\n');
  for (const p of info.peers) out(`${p.up ? 'up  ' : 'down'}  ${p.id}${p.name ? `  ${p.name}` : ''}${p.groups.length ? `  [${p.groups.join(', ')}]` : ''}\n`);
  return 0;
}

/** Prints the peers up now, then one line per peer:up / peer:down, until `count` events or Ctrl-C. */
async function watchPeers(client: NodeClient, json: boolean, count: number | undefined): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let seen = 0;
  const line = (kind: 'up' | 'down', e: { peerId: string; name?: string }) => {
    out(json ? JSON.stringify({ event: `peer:${kind}`, peer: e.peerId, ...(e.name !== undefined && { name: e.name }) }) + '\n' : `${kind.padEnd(4)}  ${e.peerId}${e.name ? `  ${e.name}` : ''}\n`);
    if (count !== undefined && ++seen >= count) stop.abort();
  };
  try {
    await client.events(
      '/_mesh/_events',
      (event, data) => {
        if (event === 'peers') for (const e of data as Array<{ peerId: string; name?: string }>) line('up', e);
        else if (event === 'peer:up' || event === 'peer:down') line(event === 'peer:up' ? 'up' : 'down', data as { peerId: string; name?: string });
      },
      stop.signal,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
