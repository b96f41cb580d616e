// One sandbox per design document revision, created on first use and kept until the document
// changes; compiled functions are cached by source so each compiles once per sandbox.
import { createSandbox, type DesignSandbox, type FnHandle, type SandboxOptions } from '../sandbox/index.ts';
import type { Doc } from '../documents/index.ts';

interface Entry {
  rev: string;
  sandbox: Promise<DesignSandbox>;
  fns: Map<string, FnHandle>;
}

export interface CompiledFn {
  sandbox: DesignSandbox;
  fn: FnHandle;
}

export class SandboxCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: Omit<SandboxOptions, 'ddoc'> = {}) {}

  /** `source` compiled in the sandbox of this revision of `ddoc` (an older revision's is disposed). */
  async compile(ddoc: Doc, source: string): Promise<CompiledFn> {
    const entry = this.entry(ddoc);
    const sandbox = await entry.sandbox;
    let fn = entry.fns.get(source);
    if (fn === undefined) {
      fn = await sandbox.compileAsync(source);
      entry.fns.set(source, fn);
    }
    return { sandbox, fn };
  }

  private entry(ddoc: Doc): Entry {
    const id = ddoc._id!;
    const rev = ddoc._rev ?? '';
    const found = this.entries.get(id);
    if (found && found.rev === rev) return found;
    if (found) void found.sandbox.then((s) => s.dispose(), () => undefined);
    const entry: Entry = { rev, sandbox: createSandbox({ ...this.options, ddoc }), fns: new Map() };
    entry.sandbox.catch(() => this.entries.delete(id));
    this.entries.set(id, entry);
    return entry;
  }

  /** Drops sandboxes of design documents that no longer exist. */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, e] of this.entries) {
      if (ids.has(id)) continue;
      void e.sandbox.then((s) => s.dispose(), () => undefined);
      this.entries.delete(id);
    }
  }

  dispose(): void {
    this.retain(new Set());
  }
}
