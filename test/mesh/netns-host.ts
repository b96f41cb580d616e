// A Refuge node in a network namespace, driven by a child script over JSON lines on stdin/stdout:
// commands go in with an id, answers and events come out. Shared by the netns tests.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A guard against a hang, not a synchronisation: every wait ends on an event well before it. */
export const HOST_WAIT_MS = 30_000;

export type Message = Record<string, unknown> & { type: string };

export class Host {
  private readonly messages: Message[] = [];
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  peerId = '';
  stderr = '';

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as Message);
      } catch {
        return;
      }
      for (const wake of [...this.waiters]) wake();
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('exit', () => {
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** The first message (past or future) that matches. */
  wait(match: (m: Message) => boolean, what: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}\n${this.stderr.slice(-2000)}`)), HOST_WAIT_MS);
      const check = () => {
        const found = this.messages.find(match);
        if (found) done(undefined, found);
        else if (this.child.exitCode !== null) done(new Error(`the node exited while waiting for ${what}\n${this.stderr.slice(-2000)}`));
      };
      const done = (err?: Error, m?: Message) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(m!);
      };
      this.waiters.add(check);
      check();
    });
  }

  async send(cmd: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    this.child.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
    const answer = await this.wait((m) => m.type === 'result' && m.id === id, `the answer to ${String(cmd.cmd)}`);
    if (answer.error !== undefined) throw new Error(String(answer.error));
    return answer.result;
  }
}

/** Starts `script` in namespace `ns` with `config`, and waits for its ready line (which names its peer id). */
export async function startHost(script: string, ns: string, config: object, hosts: Host[]): Promise<Host> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const host = new Host(child);
  hosts.push(host);
  host.peerId = String((await host.wait((m) => m.type === 'ready', `${ns} to start`)).peerId);
  return host;
}

/** Deletes these namespaces, the ones that exist. */
export function removeNamespaces(names: readonly string[]): void {
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      // Not created (or already gone).
    }
  }
}

/**
 * Fresh namespaces (`make`) for one test, and the hosts it starts: all stopped and deleted however the
 * test ends (even if the process exits first). Undefined, with `whyNot`'s reason given to `t.skip`,
 * where they cannot be made.
 */
export function namespacesFor(
  t: { skip: (why: string) => void; after: (fn: () => Promise<void>) => void },
  set: { names: readonly string[]; whyNot: () => string | undefined; make: () => void },
): Host[] | undefined {
  const why = set.whyNot();
  if (why) {
    t.skip(why);
    return undefined;
  }
  const remove = () => removeNamespaces(set.names);
  process.once('exit', remove);
  const hosts: Host[] = [];
  t.after(async () => {
    await Promise.all(
      hosts.map(async (host) => {
        if (host.child.exitCode !== null) return;
        const gone = new Promise((resolve) => host.child.once('exit', resolve));
        host.child.kill('SIGTERM');
        await gone;
      }),
    );
    remove();
  });
  remove();
  set.make();
  return hosts;
}
