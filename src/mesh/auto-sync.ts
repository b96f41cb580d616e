// Opportunistic replication: when a trusted peer comes up, pull every database it lets this node read
// and this node lets it write (continuous, from the checkpoint; created here when missing), and every
// ref likewise (its signed values, then its tree's blobs); stop when it goes down. What a peer
// shares is looked at again when it says it changed (`rescan`: it made or granted a database, as
// this node tells its peers in turn) and every `rescanMs` in case a word was lost. Each side pulls
// what it accepts, so two nodes running AutoSync replicate both ways without pushing.

import { RefugeError, isRefugeError, toRefugeError } from '../errors/index.ts';
import type { DbLease, RefugeNode } from '../node/core.ts';
import { LocalPeer, Replication, type ReplicateOptions, type ReplicationProgress } from '../replication/index.ts';
import { Emitter } from '../replication/emitter.ts';
import { accessOf, can, canRef } from './grants.ts';
import type { MeshNode } from './mesh-node.ts';
import type { RefPull } from './ref-exchange.ts';

export interface AutoSyncOptions {
  mesh: MeshNode;
  /** The local node whose databases receive what peers share. */
  node: RefugeNode;
  /** Options for every replication (continuous is forced on). */
  replicate?: ReplicateOptions;
  /**
   * Create a database the peer shares when this node lets it write there but has none of that name
   * (default true): a write grant is this node's consent to hold what the peer sends. False pulls
   * only into databases made here beforehand.
   */
  createDbs?: boolean;
  /**
   * How often a peer's shared databases and refs are looked at again while it is up (default 30 s):
   * a database that exists on only one side yet, or whose pull failed, starts at the next look.
   */
  rescanMs?: number;
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
  /** A shared ref was pulled (values stored, tree fetched), or could not be (`error`). */
  ref: { peerId: string; name: string; pull?: RefPull; error?: RefugeError };
};

interface PeerSession {
  cancelled: boolean;
  pulls: Map<string, Replication>;
  /** Aborts listings and ref pulls in progress when the peer goes. */
  abort: AbortController;
  rescanTimer?: ReturnType<typeof setInterval>;
  dbsRunning?: Promise<void>;
  /** A look was asked for while one ran (its listing may predate the change): look again after it. */
  lookAgain?: boolean;
  refsRunning?: Promise<void>;
}

export class AutoSync extends Emitter<AutoSyncEvents> {
  private readonly sessions = new Map<string, PeerSession>();
  private readonly offs: Array<() => void>;
  private readonly starting = new Set<Promise<void>>();
  private stopped = false;
  /** Ends the watch on this node's database creations. */
  private readonly watch = new AbortController();

  constructor(private readonly options: AutoSyncOptions) {
    super();
    const { mesh } = options;
    this.offs = [
      mesh.on('peer:up', (e) => this.track(e.peerId, this.begin(e.peerId))),
      mesh.on('peer:down', (e) => this.end(e.peerId)),
      // A grant given or revoked while a peer is up: its pulls start again under the new grants.
      mesh.on('trust:changed', () => {
        for (const peerId of [...this.sessions.keys()]) void this.refresh(peerId);
        // What this node shares may have changed too: each up peer looks again at once.
        for (const peerId of mesh.upPeers().map((p) => p.peerId)) void mesh.tellSharesChanged(peerId);
      }),
      mesh.on('peer:shares', (e) => {
        const session = this.sessions.get(e.peerId);
        if (session) this.rescan(session, e.peerId);
      }),
    ];
    void this.watchCreations();
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
    this.watch.abort();
    // Ref pulls are tracked with the starts: abort them rather than wait for whole trees.
    for (const session of this.sessions.values()) {
      session.abort.abort(new RefugeError('closed', 'auto-sync stopped'));
      if (session.rescanTimer) clearInterval(session.rescanTimer);
    }
    await Promise.allSettled(this.starting);
    const running = [...this.sessions.values()].flatMap((s) => [...s.pulls.values()]);
    for (const peerId of [...this.sessions.keys()]) this.end(peerId);
    await Promise.allSettled(running.map((r) => r.done));
  }

  /**
   * Tells the up peers a database made here is shared with them (an app's, or one a pull just
   * created), so they start pulling it now instead of at their next periodic look.
   */
  private async watchCreations(): Promise<void> {
    const { node, mesh } = this.options;
    try {
      for await (const rows of node.subscribeDbUpdates({ since: node.dbUpdatesSeq, signal: this.watch.signal })) {
        const created = rows.filter((r) => r.type === 'created').map((r) => r.dbName);
        if (created.length === 0) continue;
        const state = await mesh.trust.current();
        for (const { peerId } of mesh.upPeers()) {
          const shares = created.some((db) => {
            const access = accessOf(state, peerId, db);
            return access.read || access.write;
          });
          if (shares) void mesh.tellSharesChanged(peerId);
        }
      }
    } catch {
      // Stopped, or the node closed: nothing more to tell.
    }
  }

  private track(peerId: string, task: Promise<void>): Promise<void> {
    const p = task.catch((err) => this.emit('stop', { peerId, db: '*', error: toRefugeError(err) }));
    this.starting.add(p);
    return p.finally(() => this.starting.delete(p));
  }

  private async begin(peerId: string): Promise<void> {
    if (this.stopped || this.sessions.has(peerId)) return;
    const session: PeerSession = { cancelled: false, pulls: new Map(), abort: new AbortController() };
    this.sessions.set(peerId, session);
    try {
      await this.pullDbs(session, peerId);
    } catch (err) {
      // The peer left already, or does not speak the protocol: nothing to pull until it comes back.
      if (this.sessions.get(peerId) === session) this.sessions.delete(peerId);
      if (!session.cancelled && !isRefugeError(err, 'closed')) this.emit('stop', { peerId, db: '*', error: toRefugeError(err) });
      return;
    }
    if (session.cancelled) return;
    this.pullRefs(session, peerId);
    session.rescanTimer = setInterval(() => this.rescan(session, peerId), this.options.rescanMs ?? 30_000);
    (session.rescanTimer as { unref?: () => void }).unref?.();
  }

  /** Looks again at what a peer shares: databases not pulled now start, refs are pulled again. */
  private rescan(session: PeerSession, peerId: string): void {
    // Looked at only while connected: asking a peer that went away would dial it back.
    if (session.cancelled || !this.options.mesh.connectedPeers().includes(peerId)) return;
    if (session.dbsRunning) {
      session.lookAgain = true;
    } else {
      const run = this.pullDbs(session, peerId).catch((err) => {
        if (!session.cancelled) this.emit('stop', { peerId, db: '*', error: toRefugeError(err) });
      });
      session.dbsRunning = run.finally(() => {
        session.dbsRunning = undefined;
        if (session.lookAgain) {
          session.lookAgain = false;
          this.rescan(session, peerId);
        }
      });
      this.track(peerId, session.dbsRunning);
    }
    this.pullRefs(session, peerId);
  }

  /**
   * Starts a pull of each database the peer shares that is not being pulled: one it lets this node
   * read and this node lets it write (created here if missing, unless `createDbs` is false).
   */
  private async pullDbs(session: PeerSession, peerId: string): Promise<void> {
    const { mesh } = this.options;
    const shared = await mesh.sharedDbs(peerId, { signal: session.abort.signal });
    const state = await mesh.trust.current();
    for (const { db, read } of shared) {
      if (session.cancelled) return;
      if (session.pulls.has(db) || !read || !can(state, peerId, 'write', db)) continue;
      // Held while its pull runs (until the peer goes down), not for good: see maxOpenDbs.
      const local = await this.localDb(peerId, db);
      if (local === undefined) continue;
      if (session.cancelled || session.pulls.has(db)) {
        local.release();
        if (session.cancelled) return;
        continue;
      }
      this.pull(session, peerId, db, local);
    }
  }

  /** The local database a pull writes to, created when missing and allowed; undefined to skip it. */
  private async localDb(peerId: string, db: string): Promise<DbLease | undefined> {
    const { node } = this.options;
    try {
      return await node.lease(db);
    } catch (err) {
      if (!isRefugeError(err, 'not_found')) throw err;
      if (this.options.createDbs === false) return undefined;
    }
    try {
      await node.createDb(db, { hold: false });
    } catch (err) {
      // A name this node cannot hold (the peer's to fix): that database is skipped and reported.
      if (isRefugeError(err, 'illegal_database_name')) {
        this.emit('stop', { peerId, db, error: toRefugeError(err) });
        return undefined;
      }
      // Made meanwhile by someone else (another peer's pull, a client): pulled into all the same.
      if (!isRefugeError(err, 'file_exists')) throw err;
    }
    return node.lease(db);
  }

  /** Pulls every ref the peer shares and this node accepts from it (a write grant), one at a time. */
  private pullRefs(session: PeerSession, peerId: string): void {
    const { mesh } = this.options;
    if (session.cancelled || session.refsRunning || !mesh.connectedPeers().includes(peerId)) return;
    const signal = session.abort.signal;
    const run = (async () => {
      let names: string[];
      try {
        names = await mesh.refs.list(peerId, signal);
      } catch (err) {
        if (!session.cancelled && !signal.aborted) this.emit('ref', { peerId, name: '*', error: toRefugeError(err) });
        return;
      }
      const state = await mesh.trust.current();
      for (const name of names) {
        if (session.cancelled || signal.aborted) return;
        if (!canRef(state, peerId, 'write', name)) continue;
        try {
          const pull = await mesh.refs.pull(peerId, name, signal);
          this.emit('ref', { peerId, name, pull });
        } catch (err) {
          if (!session.cancelled && !signal.aborted) this.emit('ref', { peerId, name, error: toRefugeError(err) });
        }
      }
    })();
    session.refsRunning = run.finally(() => {
      session.refsRunning = undefined;
    });
    this.track(peerId, session.refsRunning);
  }

  private pull(session: PeerSession, peerId: string, db: string, local: DbLease): void {
    // Never dialling: a pull runs while the peer is up, and a request that was on its way when it went
    // down must not call it back (peer:down then ends the pull).
    let rep: Replication;
    try {
      rep = new Replication(this.options.mesh.peer(peerId, db, { dial: false }), new LocalPeer(local.db), { ...this.options.replicate, continuous: true });
    } catch (err) {
      local.release();
      throw err;
    }
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
      local.release();
    });
  }

  private end(peerId: string): void {
    const session = this.sessions.get(peerId);
    if (!session) return;
    session.cancelled = true;
    session.abort.abort(new RefugeError('closed', `peer ${peerId} went down`));
    if (session.rescanTimer) clearInterval(session.rescanTimer);
    this.sessions.delete(peerId);
    for (const rep of session.pulls.values()) rep.cancel();
  }
}
