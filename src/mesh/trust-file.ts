// The trust state persisted as `<dataDir>/trust.json`: small, human-readable, editable by the CLI
// while a node runs (each write is atomic; a running node notices the new file on its next check).
// Changes are read, made and written under a lock file, so two processes changing trust at once
// (two CLI commands, a command and the node) both keep their change.

import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
import { writeFileDurably } from '../platform/durable-file.ts';
import { RefugeError } from '../errors/index.ts';
import { emptyTrust, parseTrustState, type TrustState } from './trust.ts';
import type { TrustStore } from './trust-store.ts';

export const TRUST_FILE = 'trust.json';

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/** Which version of the file a cached state came from: a rename always brings a new inode. */
type Stamp = string;

export class FileTrustStore implements TrustStore {
  readonly path: string;
  private cached: { stamp: Stamp; state: TrustState } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, TRUST_FILE);
  }

  private async stamp(): Promise<Stamp> {
    try {
      const s = await stat(this.path, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      if (errno(err) === 'ENOENT') return 'missing';
      throw new RefugeError('internal', `cannot read ${this.path}`, { cause: err });
    }
  }

  async current(): Promise<TrustState> {
    const stamp = await this.stamp();
    if (this.cached?.stamp === stamp) return this.cached.state;
    const state = stamp === 'missing' ? emptyTrust() : await this.read();
    this.cached = { stamp, state };
    return state;
  }

  private async read(): Promise<TrustState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return emptyTrust();
      throw new RefugeError('internal', `cannot read ${this.path}`, { cause: err });
    }
    try {
      return parseTrustState(JSON.parse(text));
    } catch (err) {
      // Fail closed: a damaged file must not silently become "trust nobody" nor "trust everyone".
      const why = err instanceof Error ? err.message : String(err);
      throw new RefugeError('internal', `${this.path} is not a valid trust file: ${why}`, { cause: err });
    }
  }

  update(change: (state: TrustState) => TrustState): Promise<TrustState> {
    const next = this.chain.then(async () => {
      await mkdir(this.dataDir, { recursive: true });
      // The file itself may not exist yet: the lock is taken on its path as a name only. A holder
      // that died leaves a lock older than `stale`, which the next taker removes.
      const release = await lock(this.path, { realpath: false, stale: 10_000, retries: { retries: 100, minTimeout: 5, maxTimeout: 100 } }).catch((err: unknown) => {
        throw new RefugeError('unavailable', `${this.path} stayed locked by another process`, { cause: err });
      });
      try {
        this.cached = undefined;
        const state = change(await this.current());
        await this.write(state);
        return state;
      } finally {
        await release();
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(state: TrustState): Promise<void> {
    await writeFileDurably(this.path, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  }
}
