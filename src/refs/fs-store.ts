// Refs on disk (Node only): <dir>/<base64url name>/<seq, 16 digits>.json, one immutable file per value,
// written to a temp file, fsynced, then hard-linked into place: a seq taken twice fails (`conflict`).

import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../platform/durable-file.ts';
import { RefugeError } from '../errors/index.ts';
import { KeyedLock } from '../blobs/keyed-lock.ts';
import { checkRefName, checkSuccessor, verifyRef, type SignedRef } from './ref.ts';
import type { RefEntry, RefMeta, RefStore } from './store.ts';

const FILE_RE = /^(\d{16})\.json$/;
const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;


export class FsRefStore implements RefStore {
  readonly dir: string;
  readonly #tmp: string;
  readonly #locks = new KeyedLock();

  private constructor(dir: string) {
    this.dir = dir;
    this.#tmp = join(dir, '.tmp');
  }

  /** Opens (creating) the store in `dir`, usually `<dataDir>/refs`. */
  static async open(dir: string): Promise<FsRefStore> {
    const store = new FsRefStore(dir);
    await mkdir(store.#tmp, { recursive: true });
    return store;
  }

  #nameDir(name: string): string {
    return join(this.dir, Buffer.from(checkRefName(name), 'utf8').toString('base64url'));
  }

  async #seqs(name: string): Promise<string[]> {
    try {
      return (await readdir(this.#nameDir(name))).filter((f) => FILE_RE.test(f)).sort();
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async #read(name: string, file: string): Promise<RefEntry> {
    const text = await readFile(join(this.#nameDir(name), file), 'utf8');
    let parsed: { ref?: unknown; meta?: RefMeta };
    try {
      parsed = JSON.parse(text) as { ref?: unknown; meta?: RefMeta };
    } catch (err) {
      throw new RefugeError('internal', `ref file ${name}/${file} is not JSON`, { cause: err });
    }
    // A file edited on disk is as forged as one from the network.
    const ref = verifyRef(parsed.ref);
    if (ref.name !== name || Number(FILE_RE.exec(file)![1]) !== ref.seq) {
      throw new RefugeError('forbidden', `ref file ${name}/${file} holds ${ref.name}@${ref.seq}`);
    }
    return parsed.meta ? { ref, meta: parsed.meta } : { ref };
  }

  async get(name: string): Promise<SignedRef | null> {
    const last = (await this.#seqs(name)).at(-1);
    return last === undefined ? null : (await this.#read(name, last)).ref;
  }

  async put(ref: SignedRef, meta?: RefMeta): Promise<void> {
    const name = checkRefName(ref?.name);
    await this.#locks.run(name, async () => {
      const checked = checkSuccessor(await this.get(name), ref);
      const dir = this.#nameDir(name);
      await mkdir(dir, { recursive: true });
      const body = JSON.stringify(meta ? { ref: checked, meta } : { ref: checked }) + '\n';
      try {
        // link() never replaces: another process that took this seq first wins.
        await writeFileDurably(join(dir, `${String(checked.seq).padStart(16, '0')}.json`), body, { replace: false, tempDir: this.#tmp });
      } catch (err) {
        if (errno(err) === 'EEXIST') throw new RefugeError('conflict', `ref ${name}: seq ${checked.seq} was written concurrently`);
        throw err;
      }
    });
  }

  async history(name: string): Promise<RefEntry[]> {
    const files = await this.#seqs(name);
    return Promise.all(files.map((f) => this.#read(name, f)));
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith('.')) continue;
      const name = Buffer.from(entry, 'base64url').toString('utf8');
      if (Buffer.from(name, 'utf8').toString('base64url') !== entry) continue;
      if ((await this.#seqs(name).catch(() => [])).length > 0) out.push(name);
    }
    return out.sort();
  }
}
