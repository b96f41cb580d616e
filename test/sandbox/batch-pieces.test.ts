// A batch of documents reaches QuickJS in pieces its heap can parse: a piece too large would run out
// of memory and be parsed again in halves, costing twice the time or more for large documents.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuickJsDesignSandbox, pieceBytes } from '../../src/sandbox/design-sandbox.ts';
import type { Deadline, RunOutcome, SandboxEngine } from '../../src/sandbox/quickjs-engine.ts';
import { createSandbox } from '../../src/sandbox/index.ts';

/** Answers each map call with one row per doc ([n, payload length]) and records each payload. */
class RecordingEngine implements SandboxEngine {
  readonly payloads: string[] = [];
  compile(): void {}
  run(_kind: number, _id: number, payload: string, _deadline: Deadline): RunOutcome {
    this.payloads.push(payload);
    const docs = JSON.parse(payload) as Array<{ n: number }>;
    return { json: JSON.stringify(docs.map((d) => [[d.n, null]])) };
  }
  dispose(): void {}
}

const doc = (n: number, bytes: number) => ({ n, pad: 'x'.repeat(bytes) });

describe('sandbox batch pieces', () => {
  it('bounds a piece by a sixteenth of the heap, within 64 KiB and 4 MiB', () => {
    assert.equal(pieceBytes(64 * 1024 * 1024), 4 * 1024 * 1024);
    assert.equal(pieceBytes(1024 * 1024 * 1024), 4 * 1024 * 1024);
    assert.equal(pieceBytes(16 * 1024 * 1024), 1024 * 1024);
    assert.equal(pieceBytes(512 * 1024), 64 * 1024);
  });

  it('sends a large batch in pieces under the bound, in order, and answers every document', () => {
    const engine = new RecordingEngine();
    const memoryBytes = 4 * 1024 * 1024;
    const sb = new QuickJsDesignSandbox(engine, 5000, memoryBytes);
    const fn = sb.compile('function (doc) { emit(doc.n, null); }');
    const docs = Array.from({ length: 100 }, (_, n) => doc(n, 10_000 + (n % 7) * 3000));
    const out = sb.map(fn, docs);
    assert.deepEqual(out, docs.map((d) => [[d.n, null]]));
    assert.ok(engine.payloads.length > 1, 'one payload for 1.5 MB of docs');
    for (const payload of engine.payloads) assert.ok(payload.length <= pieceBytes(memoryBytes) + 2, `a piece of ${payload.length} bytes`);
    // Pieces are filled: no two neighbours would have fitted together.
    for (let i = 1; i < engine.payloads.length; i++) {
      assert.ok(engine.payloads[i - 1]!.length + engine.payloads[i]!.length > pieceBytes(memoryBytes));
    }
  });

  it('sends a document larger than a piece alone', () => {
    const engine = new RecordingEngine();
    const sb = new QuickJsDesignSandbox(engine, 5000, 512 * 1024);
    const fn = sb.compile('function (doc) { emit(doc.n, null); }');
    const out = sb.map(fn, [doc(1, 10), doc(2, 100_000), doc(3, 10)]);
    assert.deepEqual(out, [[[1, null]], [[2, null]], [[3, null]]]);
    assert.deepEqual(engine.payloads.map((p) => (JSON.parse(p) as Array<{ n: number }>).map((d) => d.n)), [[1], [2], [3]]);
  });

  it('maps more JSON than its heap holds with QuickJS, every document answered', async () => {
    const sb = await createSandbox({ timeoutMs: 30_000, memoryBytes: 4 * 1024 * 1024 });
    try {
      const fn = sb.compile('function (doc) { emit(doc.n, doc.items.length); }');
      const docs = Array.from({ length: 60 }, (_, n) => ({ n, items: Array.from({ length: 3000 }, (_, i) => ({ i, s: 'abcdefghijklmnopqrstuvwxyz' })) }));
      assert.ok(JSON.stringify(docs).length > 4 * 1024 * 1024);
      assert.deepEqual(sb.map(fn, docs), docs.map((d) => [[d.n, 3000]]));
    } finally {
      sb.dispose();
    }
  });
});
