// Helpers for the mesh tests: Refuge nodes with a MeshNode each, listening on loopback (port 0),
// events awaited (never slept on), and everything closed and removed afterwards.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openNode, type RefugeNode } from '../../src/node/index.ts';
import { AutoSync, FileTrustStore, MeshNode, MemoryTrustStore, addPeer, setGrant, type MeshNodeOptions, type TrustState, type TrustStore } from '../../src/mesh/index.ts';
import type { Emitter } from '../../src/replication/emitter.ts';
import type { Database } from '../../src/documents/index.ts';

export interface PeerNode {
  node: RefugeNode;
  mesh: MeshNode;
  trust: TrustStore;
  dataDir: string | undefined;
  /** Stops the mesh and closes the node (the data directory stays, for restarts). */
  close(): Promise<void>;
}

export interface PeerNodeOptions extends Partial<Omit<MeshNodeOptions, 'key' | 'node' | 'trust'>> {
  /** A data directory (LevelDB, key and trust on disk); default a memory node. */
  dataDir?: string;
  /** With a data directory: how many databases the node keeps open. */
  maxOpenDbs?: number;
}

export async function startPeerNode(options: PeerNodeOptions = {}): Promise<PeerNode> {
  const { dataDir, maxOpenDbs, ...meshOptions } = options;
  const node = dataDir
    ? await openNode({ dataDir, engine: 'leveldb', durability: 'fast', ...(maxOpenDbs !== undefined && { maxOpenDbs }) })
    : await openNode({ engine: 'memory', blobs: { backend: 'memory' } });
  const trust = dataDir ? new FileTrustStore(dataDir) : new MemoryTrustStore();
  let mesh: MeshNode;
  try {
    mesh = await MeshNode.start({ key: node.key, trust, node, keepTrustedConnected: false, ...meshOptions });
  } catch (err) {
    await node.close();
    throw err;
  }
  // A change made here takes effect before update() returns, as the CLI's does within a second: a
  // trust watcher that noticed a change only after the peers met would restart their pulls midway.
  const synced: TrustStore = {
    current: () => trust.current(),
    update: async (change) => {
      const state = await trust.update(change);
      await mesh.syncTrust();
      return state;
    },
  };
  return {
    node,
    mesh,
    trust: synced,
    dataDir,
    close: async () => {
      await mesh.stop();
      await node.close();
    },
  };
}

/** A memory node on the mesh with AutoSync running (a checkpoint per batch), closed after the test. */
export async function startSyncingPeer(t: { after(fn: () => Promise<void>): void }, options: PeerNodeOptions = {}): Promise<{ peer: PeerNode; sync: AutoSync }> {
  const peer = await startPeerNode(options);
  const sync = new AutoSync({ mesh: peer.mesh, node: peer.node, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await sync.stop();
    await peer.close();
  });
  return { peer, sync };
}

/**
 * Two memory nodes, closed after the test: `server` holds database `db` with `docs` in it and lets
 * `client` (trusted, connected to it) read that database.
 */
export async function serverAndReader(t: { after(fn: () => Promise<void>): void }, db: string, docs: Array<Record<string, unknown>>): Promise<{ server: PeerNode; client: PeerNode }> {
  const server = await startPeerNode();
  const client = await startPeerNode();
  t.after(async () => {
    await client.close();
    await server.close();
  });
  const me = client.mesh.peerId;
  await server.trust.update((s) => setGrant(addPeer(s, { id: me }), db, 'read', `peer:${me}`, true));
  await (await server.node.createDb(db)).bulkDocs(docs);
  return { server, client };
}

/** A trust update: `peer` trusted, and allowed to read and write database `db` (by its id). */
export const sharing = (peer: string, db: string) => (s: TrustState): TrustState => {
  let next = addPeer(s, { id: peer });
  for (const access of ['read', 'write'] as const) next = setGrant(next, db, access, `peer:${peer}`, true);
  return next;
};

export async function tempDir(prefix = 'refuge-mesh-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Resolves with the first `event` payload that satisfies `match`. */
export function nextEvent<E extends object, K extends keyof E>(emitter: Emitter<E>, event: K, match: (payload: E[K]) => boolean = () => true): Promise<E[K]> {
  return new Promise((resolve) => {
    const off = emitter.on(event, (payload) => {
      if (!match(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** The `refuge` command of this checkout. */
export const REFUGE_BIN = fileURLToPath(new URL('../../bin/refuge.mjs', import.meta.url));

/** `refuge ARGS` as a user runs it (a child process), with no REFUGE_URL / REFUGE_DATA from outside. */
export function runRefuge(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REFUGE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REFUGE_URL: '', REFUGE_DATA: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Resolves once `db` holds `count` live documents and, when given, a document `seen` accepts:
 * checked on each batch of its live changes feed (no polling).
 */
export async function holds(db: Database, count: number, seen?: (doc: Record<string, unknown>) => boolean): Promise<void> {
  let found = seen === undefined;
  for await (const batch of db.subscribe({ since: 0, includeDocs: true })) {
    if (!found) found = batch.some((row) => row.doc !== undefined && seen!(row.doc as Record<string, unknown>));
    if (found && (await db.info()).docCount === count) return;
  }
}
