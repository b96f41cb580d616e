// A whole Refuge node inside a browser tab (or any process without a data directory): databases
// and blobs on the engine it is given (IndexedDB in a browser), a node key kept beside them, and
// the mesh over WebSockets with auto-sync, so trusted peers replicate with it as with any node.

import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RefugeError } from '../errors/index.ts';
import { MemoryBlobStore, type BlobStore } from '../blobs/core.ts';
import { RefugeNode } from '../node/core.ts';
import { nodeKeyFromSecret, generateNodeKey, ownerOf, type NodeKey } from '../refs/core.ts';
import type { StorageEngine } from '../storage/index.ts';
import { AutoSync, type AutoSyncOptions } from './auto-sync.ts';
import { MeshNode, type MeshNodeOptions } from './mesh-node.ts';
import type { TrustStore } from './trust-store.ts';
import { KvTrustStore } from './trust-kv.ts';

export interface BrowserNodeOptions extends Omit<MeshNodeOptions, 'key' | 'trust' | 'node' | 'publishAddressesTo'> {
  /** Where databases, the catalog and the key live (e.g. `indexedDbEngine()`). */
  engine: StorageEngine;
  /** The prefix of every location on the engine (default `refuge`): two nodes in one origin differ by it. */
  name?: string;
  /** Attachments and blobs (default in memory; `blobs.IndexedDbBlobStore` keeps them in a browser). */
  blobs?: BlobStore;
  /** Who this node trusts and what it grants (default: kept on the engine at `<name>/trust`, nobody at first). */
  trust?: TrustStore;
  /** The node's key; default the one kept on the engine, made on first start. */
  key?: NodeKey;
  /** Options of the auto-sync with trusted peers. */
  sync?: Omit<AutoSyncOptions, 'mesh' | 'node'>;
}

export interface BrowserNode {
  node: RefugeNode;
  mesh: MeshNode;
  sync: AutoSync;
  trust: TrustStore;
  /** Stops syncing and the mesh, then closes the databases and the blob store. */
  close(): Promise<void>;
}

const KEY_RECORD = 'ed25519';

/** The key kept at `<name>/identity` on the engine, made and kept on first use. */
export async function storedNodeKey(engine: StorageEngine, name = 'refuge'): Promise<NodeKey> {
  const store = await engine.open({ location: `${name}/identity` });
  try {
    const text = await store.get(KEY_RECORD);
    if (text !== undefined) {
      try {
        const { secretKey, publicKey } = JSON.parse(text) as { secretKey: string; publicKey: string };
        const key = nodeKeyFromSecret(hexToBytes(secretKey));
        if (ownerOf(key.publicKey) !== publicKey) throw new Error('the public key does not match the secret key');
        return key;
      } catch (err) {
        throw new RefugeError('internal', `the node key kept at ${name}/identity is damaged`, { cause: err });
      }
    }
    const key = generateNodeKey();
    await store.batch([{ type: 'put', key: KEY_RECORD, value: JSON.stringify({ secretKey: bytesToHex(key.secretKey), publicKey: ownerOf(key.publicKey) }) }], { sync: true });
    return key;
  } finally {
    await store.close();
  }
}

/**
 * Starts a node on `options.engine` with the mesh and auto-sync running. It listens nowhere by
 * default (a browser cannot): it dials the trusted peers whose addresses its trust state holds,
 * and they reach it back over those connections.
 */
export async function startBrowserNode(options: BrowserNodeOptions): Promise<BrowserNode> {
  const { engine, name = 'refuge', blobs = new MemoryBlobStore(), sync: syncOptions, ...meshOptions } = options;
  const key = options.key ?? (await storedNodeKey(engine, name));
  const kept = options.trust ? undefined : await KvTrustStore.open(engine, `${name}/trust`);
  const trust = options.trust ?? kept!;
  let node: RefugeNode;
  try {
    node = await RefugeNode.open({
      engine,
      locationOf: (db) => `${name}/db/${db}`,
      indexLocationOf: (db) => `${name}/idx/${db}`,
      catalogLocation: `${name}/catalog`,
      blobs,
      key,
    });
  } catch (err) {
    await kept?.close();
    throw err;
  }
  let mesh: MeshNode;
  try {
    mesh = await MeshNode.start({ listen: [], ...meshOptions, key, trust, node });
  } catch (err) {
    await node.close();
    await kept?.close();
    throw err;
  }
  const sync = new AutoSync({ ...syncOptions, mesh, node });
  return {
    node,
    mesh,
    sync,
    trust,
    close: async () => {
      await sync.stop();
      await mesh.stop();
      await node.close();
      await kept?.close();
    },
  };
}
