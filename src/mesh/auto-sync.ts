// Opportunistic replication: when a trusted peer comes up, pull every database it lets this node read
// and this node lets it write (continuous, from the checkpoint); stop when it goes down. Each side
// pulls what it accepts, so two nodes running AutoSync replicate both ways without pushing.

import type { Database } from '../documents/index.ts';
import { isRefugeError, toRefugeError, type RefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { LocalPeer, Replication, type ReplicateOptions, type ReplicationProgress } from '../replication/index.ts';
import { Emitter } from '../replication/emitter.ts';
import { can } from './grants.ts';
import type { MeshNode } from './mesh-node.ts';

export interface AutoSyncOptions {
  mesh: MeshNode;
  /** The local node whose databases receive what peers share. */
  node: RefugeNode;
  /** Options for every replication (continuous is forced on). */
  replicate?: ReplicateOptions;
}

export interface PullKey {
  peerId: string;
  db: string;
}

export type AutoSyncEvents = {
  /** A pull from a peer's database started. */
  start: PullKey;
  /** A pull caught up (or waits to retry, with `error`). */
  paused: PullKey & { progress: ReplicationProgress; error?: RefugeError };
  /** A pull ended: the peer went down, AutoSync stopped, or it failed (`error`; db `*`: listing failed). */
  stop: PullKey & { error?: RefugeError };
};

interface PeerSession {
  cancelled: boolean;
  pulls: Map<string, Replication>;
}

export class AutoSync extends Emitter<AutoSyncEvents> {
  private readonly sessions = new Map<string, PeerSession>();
  private readonly offs: Array<() => void>;
  private readonly starting = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: AutoSyncOptions) {
    super();
    const { mesh } = options;
    this.offs = [mesh.on('peer:up', (e) => this.track(e.peerId, this.begin(e.peerId))), mesh.on('peer:down', (e) => this.end(e.peerId))];
    for (const p of mesh.upPeers()) this.track(p.peerId, this.begin(p.peerId));
  }

  /** The pulls running now. */
  active(): PullKey[] {
    return [...this.sessions].flatMap(([peerId, s]) => [...s.pulls.keys()].map((db) => ({ peerId, db })));
  }

  /** Re-reads what is shared with a peer (after grants changed): its pulls restart from their checkpoints. */
  async refresh(peerId: string): Promise<void> {
    if (!this.sessions.has(peerId)) return;
    this.end(peerId);
    await this.track(peerId, this.begin(peerId));
  }

  /** Cancels every pull and waits for them to end. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.offs) off();
    await Promise.allSettled(this.starting);
    const running = [...this.sessions.values()].flatMap((s) => [...s.pulls.values()]);
    for (const peerId of [...this.sessions.keys()]) this.end(peerId);
    await Promise.allSettled(running.map((r) => r.done));
  }

  private track(peerId: string, task: Promise<void>): Promise<void> {
    const p = task.catch((err) => this.emit('stop', { peerId, db: '*', error: toRefugeError(err) }));
    this.starting.add(p);
    return p.finally(() => this.starting.delete(p));
  }

  private async begin(peerId: string): Promise<void> {
    if (this.stopped || this.sessions.has(peerId)) return;
    const session: PeerSession = { cancelled: false, pulls: new Map() };
    this.sessions.set(peerId, session);
    const { mesh, node } = this.options;
    let shared;
    try {
      shared = await mesh.sharedDbs(peerId);
    } catch (err) {
      // The peer left already, or does not speak the protocol: nothing to pull until it comes back.
      if (this.sessions.get(peerId) === session) this.sessions.delete(peerId);
      if (!isRefugeError(err, 'closed')) this.emit('stop', { peerId, db: '*', error: toRefugeError(err) });
      return;
    }
    const state = await mesh.trust.current();
    for (const { db, read } of shared) {
      if (session.cancelled || !read || !can(state, peerId, 'write', db)) continue;
      let local: Database;
      try {
        local = await node.db(db);
      } catch (err) {
        if (isRefugeError(err, 'not_found')) continue;
        throw err;
      }
      if (session.cancelled) return;
      this.pull(session, peerId, db, local);
    }
  }

  private pull(session: PeerSession, peerId: string, db: string, local: Database): void {
    const rep = new Replication(this.options.mesh.peer(peerId, db), new LocalPeer(local), { ...this.options.replicate, continuous: true });
    session.pulls.set(db, rep);
    const key = { peerId, db };
    rep.on('paused', (p) => {
      const { error, ...progress } = p;
      this.emit('paused', error ? { ...key, progress, error } : { ...key, progress });
    });
    this.emit('start', key);
    rep.done.then(
      () => this.emit('stop', key),
      (err) => this.emit('stop', { ...key, error: toRefugeError(err) }),
    );
    rep.done.catch(() => undefined).finally(() => {
      if (session.pulls.get(db) === rep) session.pulls.delete(db);
    });
  }

  private end(peerId: string): void {
    const session = this.sessions.get(peerId);
    if (!session) return;
    session.cancelled = true;
    this.sessions.delete(peerId);
    for (const rep of session.pulls.values()) rep.cancel();
  }
}
