// The command loop the netns child scripts share: commands come as JSON lines on stdin, answers go
// out as JSON lines on stdout (next to the events each script reports with `say`).

import { createInterface } from 'node:readline';
import type { RefugeNode } from '../../src/node/index.ts';
import { addPeer, setGrant, type MemoryTrustStore, type MeshNode } from '../../src/mesh/index.ts';
import { replicate } from '../../src/replication/index.ts';

export type Command = {
  id: number;
  cmd: string;
  peer?: string;
  db?: string;
  count?: number;
  target?: string;
  internal?: string;
  external?: string;
  port?: number;
};

export const say = (message: object): void => {
  process.stdout.write(JSON.stringify(message) + '\n');
};

/** Runs commands until stdin ends: the common ones here, the rest by `extra` (undefined: unknown). */
export async function serveCommands(
  mesh: MeshNode,
  node: RefugeNode,
  trust: MemoryTrustStore,
  extra: (c: Command) => Promise<unknown> | undefined = () => undefined,
): Promise<void> {
  const run = async (c: Command): Promise<unknown> => {
    switch (c.cmd) {
      case 'trust':
        await trust.update((s) => setGrant(addPeer(s, { id: c.peer! }), c.db!, 'read', `peer:${c.peer}`, true));
        await mesh.syncTrust();
        return null;
      case 'put': {
        const db = await node.createDb(c.db!);
        for (let i = 0; i < c.count!; i++) await db.put({ _id: `doc-${i}`, i });
        return null;
      }
      case 'connect':
        return mesh.connect(c.target!, { signal: AbortSignal.timeout(20_000) });
      case 'replicate': {
        const target = await node.createDb(c.db!);
        const result = await replicate(mesh.peer(c.peer!, c.db!), target).done;
        return { status: result.status, docCount: (await target.info()).docCount };
      }
      case 'stop':
        await mesh.stop();
        await node.close();
        setImmediate(() => process.exit(0));
        return null;
    }
    const answer = extra(c);
    if (answer === undefined) throw new Error(`unknown command ${c.cmd}`);
    return answer;
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const c = JSON.parse(line) as Command;
    run(c).then(
      (result) => say({ type: 'result', id: c.id, result }),
      (err: unknown) => say({ type: 'result', id: c.id, error: (err as Error)?.message ?? String(err) }),
    );
  }
  await mesh.stop();
  await node.close();
}
