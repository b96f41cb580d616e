// What the design-document sandbox costs: a map over 100,000 small docs in batches of 1000 and one
// validate_doc_update call per doc, through QuickJS vs the same source run natively in Node.
// Run: node --import tsx bench/sandbox-cost.ts  (not part of bench/main.ts)

import { createSandbox } from '../src/sandbox/index.ts';
import { median } from './report.ts';

const DOCS = 100_000;
const BATCH = 1000;
const VALIDATE_DOCS = 20_000;
const ROUNDS = 5;

const MAP_SOURCE = `function (doc) {
  if (doc.type === 'post' && doc.tags) {
    for (var i = 0; i < doc.tags.length; i++) emit([doc.tags[i], doc.n], doc.title.length);
  }
}`;
const VALIDATE_SOURCE = `function (newDoc, oldDoc, userCtx, secObj) {
  if (!newDoc.type) throw({forbidden: 'type required'});
  if (typeof newDoc.n !== 'number' || newDoc.n < 0) throw({forbidden: 'n must be a positive number'});
  if (oldDoc && oldDoc.author !== userCtx.name && userCtx.roles.indexOf('_admin') === -1) throw({unauthorized: 'not yours'});
}`;

const docs = Array.from({ length: DOCS }, (_, i) => ({
  _id: `doc-${String(i).padStart(6, '0')}`,
  _rev: `1-${(i * 2654435761).toString(16).padStart(32, '0').slice(0, 32)}`,
  type: i % 10 === 0 ? 'comment' : 'post',
  n: i,
  title: `Post number ${i}`,
  author: `user${i % 50}`,
  tags: ['a', 'b', 'c'].slice(0, 1 + (i % 3)),
}));
const batches: object[][] = [];
for (let i = 0; i < DOCS; i += BATCH) batches.push(docs.slice(i, i + BATCH));
const userCtx = { name: 'user1', roles: [] };
const secObj = { admins: { names: [], roles: [] }, members: { names: [], roles: [] } };

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function nativeMap(): (batch: object[]) => unknown[] {
  let rows: unknown[] = [];
  const emit = (key: unknown, value: unknown) => rows.push([key, value]);
  const fn = new Function('emit', `return (${MAP_SOURCE});`)(emit) as (doc: object) => void;
  return (batch) =>
    batch.map((doc) => {
      rows = [];
      try {
        fn(doc);
        return rows;
      } catch (err) {
        return err;
      }
    });
}

async function main(): Promise<void> {
  let rowCount = 0;
  const t0 = performance.now();
  const sb = await createSandbox();
  const created = performance.now() - t0;
  const mapFn = sb.compile(MAP_SOURCE);
  const validateFn = sb.compile(VALIDATE_SOURCE);
  const noopFn = sb.compile('function (doc) {}');
  const firstCallMs = performance.now() - t0 - created;

  const native = nativeMap();
  const sandboxMs: number[] = [];
  const nativeMs: number[] = [];
  const nativeCopyMs: number[] = [];
  const noopMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // The floor: docs cross into the sandbox and are parsed there, the function does nothing.
    noopMs.push(time(() => {
      for (const batch of batches) sb.map(noopFn, batch);
    }));
    sandboxMs.push(time(() => {
      rowCount = 0;
      for (const batch of batches) for (const rows of sb.map(mapFn, batch)) if (Array.isArray(rows)) rowCount += rows.length;
    }));
    nativeMs.push(time(() => {
      for (const batch of batches) native(batch);
    }));
    // The isolation the sandbox gives for free (docs as copies), paid natively with a JSON round trip.
    nativeCopyMs.push(time(() => {
      for (const batch of batches) JSON.stringify(native(JSON.parse(JSON.stringify(batch)) as object[]));
    }));
  }

  const validateNative = new Function(`return (${VALIDATE_SOURCE});`)() as (...args: unknown[]) => void;
  const vSandbox: number[] = [];
  const vNative: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    vSandbox.push(time(() => {
      for (let i = 0; i < VALIDATE_DOCS; i++) {
        try {
          sb.validate(validateFn, docs[i]!, null, userCtx, secObj);
        } catch {
          // forbidden docs count as calls too
        }
      }
    }));
    vNative.push(time(() => {
      for (let i = 0; i < VALIDATE_DOCS; i++) {
        try {
          validateNative(docs[i], null, userCtx, secObj);
        } catch {
          // same
        }
      }
    }));
  }
  sb.dispose();

  const perDocUs = (ms: number) => ((ms * 1000) / DOCS).toFixed(2);
  const m = median(sandboxMs);
  const n = median(nativeMs);
  const nc = median(nativeCopyMs);
  console.log(`sandbox: created in ${created.toFixed(1)} ms, first compile (runtime + harness) ${firstCallMs.toFixed(1)} ms`);
  console.log(`map ${DOCS} docs in batches of ${BATCH} (${rowCount} rows), median of ${ROUNDS} rounds:`);
  console.log(`  sandbox          ${m.toFixed(0)} ms  (${perDocUs(m)} µs/doc, ${Math.round(DOCS / (m / 1000))} docs/s)  rounds: ${sandboxMs.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`  sandbox, no-op fn ${median(noopMs).toFixed(0)} ms  (${perDocUs(median(noopMs))} µs/doc: crossing + QuickJS JSON.parse of the docs)`);
  console.log(`  native           ${n.toFixed(0)} ms  (${perDocUs(n)} µs/doc)  -> sandbox is ${(m / n).toFixed(0)}x`);
  console.log(`  native+JSON copy ${nc.toFixed(0)} ms  (${perDocUs(nc)} µs/doc)  -> sandbox is ${(m / nc).toFixed(1)}x`);
  const vs = median(vSandbox);
  const vn = median(vNative);
  console.log(`validate, one call per doc (${VALIDATE_DOCS} calls), median of ${ROUNDS} rounds:`);
  console.log(`  sandbox ${Math.round(VALIDATE_DOCS / (vs / 1000))} calls/s (${((vs * 1000) / VALIDATE_DOCS).toFixed(1)} µs/call)  rounds: ${vSandbox.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`  native  ${Math.round(VALIDATE_DOCS / (vn / 1000))} calls/s (${((vn * 1000) / VALIDATE_DOCS).toFixed(2)} µs/call)`);
}

await main();
