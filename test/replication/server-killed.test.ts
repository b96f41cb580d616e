// Replication survives its target server being killed (SIGKILL) mid-way: run again, it resumes
// from the last checkpoint, re-reads at most the batches in flight, and everything arrives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openCoreDatabase } from '../../src/core.ts';
import { HttpPeer, LocalPeer, replicate } from '../../src/replication/index.ts';
import { tempDir } from '../helpers/db.ts';

const bin = fileURLToPath(new URL('../../bin/refuge.mjs', import.meta.url));

async function startChild(dataDir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, 'start', '--port', String(port), '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = /listening on (http:\/\/\S+)/.exec(l);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return { child, url };
}

test('replication resumes from its checkpoint after the target server is killed', async (t) => {
  const dir = await tempDir('refuge-kill-');
  const total = 3000;
  const batchSize = 100;
  const source = await openCoreDatabase('source');
  let live: ChildProcess | undefined;
  t.after(async () => {
    if (live && live.exitCode === null && live.signalCode === null) {
      const exited = new Promise((resolve) => live!.once('exit', resolve));
      live.kill('SIGKILL');
      await exited;
    }
    await source.close();
    await dir.cleanup();
  });
  await source.bulkDocs(Array.from({ length: total }, (_, i) => ({ _id: `doc${String(i).padStart(5, '0')}`, i })));

  let server = await startChild(dir.path, 0);
  live = server.child;
  const port = Number(new URL(server.url).port);
  const first = replicate(new LocalPeer(source), new HttpPeer(`${server.url}/target`), { batchSize, batchesInFlight: 2, checkpointInterval: 0, createTarget: true, retry: false });
  let checkpointed = 0;
  const killed = new Promise<void>((resolve) => {
    first.on('checkpoint', (p) => {
      if (p.docsWritten >= total / 3 && checkpointed === 0) {
        checkpointed = Number(p.checkpointedSeq);
        server.child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await killed;
  await assert.rejects(first.done);
  assert.ok(checkpointed > 0 && checkpointed < total);

  // Same port, same data: the replication id is the same, so the checkpoint is found.
  server = await startChild(dir.path, port);
  live = server.child;
  const second = replicate(new LocalPeer(source), new HttpPeer(`${server.url}/target`), { batchSize, batchesInFlight: 2, checkpointInterval: 0, retry: false });
  const report = await second.done;
  assert.ok(
    report.docsRead <= total - checkpointed + 2 * batchSize,
    `re-read ${report.docsRead} docs after a checkpoint at ${checkpointed}`,
  );
  const info = (await (await fetch(`${server.url}/target`)).json()) as { doc_count: number };
  assert.equal(info.doc_count, total);
  const all = (await (await fetch(`${server.url}/target/_all_docs?keys=${encodeURIComponent(JSON.stringify(['doc00000', 'doc02999']))}`)).json()) as {
    rows: Array<{ id?: string }>;
  };
  assert.deepEqual(all.rows.map((r) => r.id), ['doc00000', 'doc02999']);
});
