// `refuge id`: the node's identity — its Ed25519 public key (the default output, as before), its mesh
// peer id, and an invite (peer id + addresses) another node accepts with `refuge peers add`.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IDENTITY_FILE, loadOrCreateNodeKey } from '../refs/index.ts';
import { publicKeyOfOwner, ownerOf } from '../refs/keys.ts';
import { readAddressFile } from '../mesh/address-file.ts';
import { peerIdOf } from '../mesh/identity.ts';
import { encodeInvite, parseAddr } from '../mesh/invite.ts';
import { UsageError, parse, runCommand } from './blobs-args.ts';
import { DEFAULT_URL } from './blobs-target.ts';
import { NodeClient } from './node-client.ts';

export const ID_HELP = `refuge id [--url URL | --data DIR] [--peer-id | --invite] [--addr MULTIADDR]... [--json]

Prints the node's public key (Ed25519, hex): its mesh identity and the signer of its refs.
  --peer-id        print its mesh peer id (12D3KooW…) instead
  --invite         print an invite token (peer id + addresses) for \`refuge peers add\` on another node
  --addr MULTIADDR an address to put in the invite (repeatable); default, with --data: the addresses
                   a node running on DIR publishes in DIR/mesh-addresses.json
  --url URL        a running node (default $REFUGE_URL or ${DEFAULT_URL})
  --data DIR       a data directory (read directly, also while a node runs on it)
  --json           {"publicKey","type","peerId","addresses","invite"}
  -h, --help       this text`;

const OPTIONS = {
  url: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'peer-id': { type: 'boolean' },
  invite: { type: 'boolean' },
  addr: { type: 'string', multiple: true },
} as const;

export function runId(args: string[]): Promise<number> {
  return runCommand(ID_HELP, async () => {
    const { values: v, positionals } = parse(args, OPTIONS);
    if (v.help) return process.stdout.write(ID_HELP + '\n'), 0;
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    if (v['peer-id'] && v.invite) throw new UsageError('--peer-id and --invite are exclusive');
    // Checked before an identity may be minted in --data: a typo changes nothing on disk.
    for (const addr of v.addr ?? []) {
      try {
        parseAddr(addr);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    let owner: string;
    const client = v.data === undefined ? new NodeClient(v.url ?? (process.env.REFUGE_URL || DEFAULT_URL)) : undefined;
    if (v.data !== undefined) {
      // A new identity is minted where none was: say so, since a mistyped --data mints one too.
      const existed = existsSync(join(v.data, IDENTITY_FILE));
      owner = ownerOf((await loadOrCreateNodeKey(v.data)).publicKey);
      if (!existed) process.stderr.write(`refuge: no identity in ${v.data} yet: created a new one there\n`);
    } else owner = await client!.owner();
    const peerId = peerIdOf(publicKeyOfOwner(owner));
    // A running node says where its mesh listens (none when its mesh is off, or the admin is needed).
    const listening = async () => (await client!.json<{ addresses?: string[] }>('GET', '/_mesh/peers').catch(() => ({ addresses: [] }))).addresses ?? [];
    const addresses = v.addr ?? (v.data !== undefined ? await readAddressFile(v.data, peerId) : await listening());
    const invite = encodeInvite({ id: peerId, addrs: addresses });
    if (v.json) {
      process.stdout.write(JSON.stringify({ publicKey: owner, type: 'ed25519', peerId, addresses, invite }) + '\n');
    } else if (v.invite) {
      if (addresses.length === 0) process.stderr.write('refuge: no addresses known (is the node running? or pass --addr): the invite names the peer id only\n');
      process.stdout.write(invite + '\n');
    } else {
      process.stdout.write((v['peer-id'] ? peerId : owner) + '\n');
    }
    return 0;
  });
}
