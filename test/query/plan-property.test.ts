// Property tests tying the planner to the matcher: the path index never misses a match, and
// simple scalar scans read nothing but matches.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { elementsPath } from '../../src/query/index-path.ts';
import { decodeIndexValue, indexEntries, makeIndexKey, parseIndexKey } from '../../src/query/index-keys.ts';
import { planFind } from '../../src/query/plan.ts';
import { scanBounds, type IndexScan } from '../../src/query/scan-bounds.ts';
import { matchSelector, normalizeSelector, requiresField } from '../../src/query/selector.ts';
import { getField, parseField } from '../../src/query/field-path.ts';
import { selectorJson } from '../../src/query/selector-json.ts';
import { matchCondition } from '../../src/query/selector-match.ts';
import type { Condition } from '../../src/query/selector-types.ts';
import { collate } from '../../src/query/collate.ts';
import { sortComparator, type SortField } from '../../src/query/sort.ts';
import { compareBytes, inBounds } from './helpers.ts';

// Biased towards a few names so that selectors often meet the fields they ask about.
const key = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b'), weight: 5 },
  { arbitrary: fc.constantFrom('c', '0', '_p', 'x/y', '[]', 'a.b'), weight: 1 },
);
const leaf = fc.constantFrom<unknown>(null, true, false, 0, -0, 1, 1.5, -2, 1e300, 'a', 'b', '', 'ab', '\u0000', '\u0001', '\uffff', '\u{10000}', '\ud800', 'a\u{10ffff}b', '\u{10ffff}');
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof({ maxDepth: 3 }, leaf, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 3 })),
})).v;
const doc = fc.dictionary(key, value, { maxKeys: 4 });
const docs = fc.array(doc, { minLength: 5, maxLength: 30 });

const field = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b', 'a.b', 'b.a', 'a.a'), weight: 4 },
  { arbitrary: fc.constantFrom('c', 'a.c', 'c.c.c', 'a.0', 'b.1.a', '_p', 'x/y', '[]', 'a\\.b'), weight: 1 },
);
const container = fc.constantFrom<unknown>([], [1], ['a', 'b'], {}, { a: 1 });
const anyValue = fc.oneof(leaf, leaf, container);
const scalarCond = fc.oneof(
  leaf.map((v) => ({ $eq: v })),
  fc.constantFrom('$gt', '$gte', '$lt', '$lte').chain((op) => leaf.map((v) => ({ [op]: v }))),
  fc.tuple(leaf, leaf).map(([a, b]) => ({ $gt: a, $lte: b })),
  fc.tuple(leaf, leaf).map(([a, b]) => ({ $gte: a, $lt: b })),
  fc.tuple(leaf, leaf, leaf, leaf).map(([a, b, c, d]) => ({ $gt: a, $gte: b, $lt: c, $lte: d })),
  fc.array(leaf, { maxLength: 3 }).map((vs) => ({ $in: vs })),
  fc.constant({ $exists: true }),
  fc.constantFrom('', 'a', 'ab', 'b', '\u0000', '\uffff', '\u{10000}', 'a\u{10ffff}').map((p) => ({ $beginsWith: p })),
);
const cond = fc.oneof(
  scalarCond,
  anyValue.map((v) => ({ $eq: v })),
  fc.constantFrom('$gt', '$gte', '$lt', '$lte').chain((op) => anyValue.map((v) => ({ [op]: v }))),
  fc.array(anyValue, { maxLength: 3 }).map((vs) => ({ $in: vs })),
  fc.array(anyValue, { maxLength: 2 }).map((vs) => ({ $all: vs })),
  anyValue.map((v) => ({ $ne: v })),
  fc.array(leaf, { maxLength: 2 }).map((vs) => ({ $nin: vs })),
  fc.boolean().map((b) => ({ $exists: b })),
  fc.constantFrom('null', 'boolean', 'number', 'string', 'array', 'object', 'int', 'text').map((t) => ({ $type: t })),
  fc.nat(2).map((n) => ({ $size: n })),
  scalarCond.map((c) => ({ $elemMatch: c })),
  fc.tuple(key, scalarCond).map(([k, c]) => ({ $elemMatch: { [k]: c } })),
  scalarCond.map((c) => ({ $allMatch: c })),
  scalarCond.map((c) => ({ $not: c })),
  // Prefixes with no next prefix (all U+10FFFF, a lone surrogate) scan every string: not exact.
  fc.constantFrom('\u{10ffff}', '\ud800', 'a\ud800').map((p) => ({ $beginsWith: p })),
);
// A literal prefix is a range; case folding, alternation and multi-line anchors are not. (Apart:
// compiled patterns are closures, which no deep equality takes as equal.)
const regexCond = fc
  .constantFrom('^a', '^ab', '^a.*', '^ab?', '^a\\.', '^\u{10000}', '^a\u{10ffff}', '(?i)^a', '^(a|b)', '^a|b', '(?m)^a', 'a')
  .map((r) => ({ $regex: r }));
const selectorOf = (c: fc.Arbitrary<Record<string, unknown>>) => {
  const clause = fc.tuple(field, c).map(([f, cc]) => ({ [f]: cc }));
  return fc.oneof(
    clause,
    fc.tuple(clause, clause).map(([a, b]) => ({ $and: [a, b] })),
    fc.tuple(clause, clause).map(([a, b]) => ({ $or: [a, b] })),
    fc.tuple(clause, clause, clause).map((cs) => ({ $and: [cs[0], { $or: [cs[1], cs[2]] }] })),
  );
};
const clause = fc.tuple(field, cond).map(([f, c]) => ({ [f]: c }));
const selector = selectorOf(cond);
const selectorWithRegex = selectorOf(fc.oneof(cond, regexCond));
const sort = fc.option(fc.tuple(field, fc.constantFrom('asc', 'desc')).map(([f, d]) => [{ [f]: d }]), { nil: undefined });

const keysOf = (d: Record<string, unknown>, id: string) => indexEntries(d).map(([p, e]) => makeIndexKey(p, e, id));

describe('planner vs matcher (fast-check)', () => {
  test('no false negatives: every matching document has an index entry inside the planned bounds', () => {
    fc.assert(
      fc.property(selectorWithRegex, sort, docs, (raw, s, ds) => {
        const sel = normalizeSelector(raw);
        const sortSpec = s?.map((o) => ({ field: Object.keys(o)[0]!, dir: Object.values(o)[0] as 'asc' | 'desc' }));
        const { scan } = planFind(sel, sortSpec);
        if (scan === null) return;
        const bounds = scanBounds(scan);
        ds.forEach((d, i) => {
          if (!matchSelector(d, sel)) return;
          const hit = keysOf(d, `doc${i}`).some((k) => inBounds(k, bounds));
          assert.ok(hit, `missed ${JSON.stringify(d)} for ${JSON.stringify(raw)} via ${JSON.stringify(scan)}`);
        });
      }),
      { numRuns: 3000 },
    );
  });

  test('no false positives for single scalar clauses: an entry in bounds means a match, with the right path and value', () => {
    const topField = fc.constantFrom('a', 'b', 'a.b', 'a.c', 'x/y', '[]', 'a\\.b');
    fc.assert(
      fc.property(topField, scalarCond, docs, (f, c, ds) => {
        const sel = normalizeSelector({ [f]: c });
        const { scan } = planFind(sel);
        assert.ok(scan !== null);
        const bounds = scanBounds(scan);
        ds.forEach((d, i) => {
          const inside = keysOf(d, `doc${i}`).filter((k) => inBounds(k, bounds));
          for (const k of inside) checkEntry(scan, parseIndexKey(k), c);
          assert.equal(inside.length > 0, matchSelector(d, sel), `${JSON.stringify(d)} vs ${JSON.stringify({ [f]: c })}`);
        });
      }),
      { numRuns: 3000 },
    );
  });
});

describe('selectorJson (fast-check)', () => {
  test('a normalized selector written back as JSON normalizes to itself (partial_filter_selector is stored so)', () => {
    fc.assert(
      fc.property(selector, (raw) => {
        const sel = normalizeSelector(raw);
        assert.deepStrictEqual(normalizeSelector(selectorJson(sel)), sel, JSON.stringify(raw));
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual(selectorJson(normalizeSelector({ type: 'x' })), { type: { $eq: 'x' } });
  });
});

describe('sortedByIndex (fast-check)', () => {
  test('reading the bounds in key order (backwards for desc) yields the matches in sort order', () => {
    const sortField = fc.constantFrom('a', 'b', 'a.b');
    const sortedSelector = fc.tuple(sortField, scalarCond, fc.option(clause, { nil: undefined })).map(([f, c, extra]) =>
      extra === undefined ? { [f]: c } : { $and: [{ [f]: c }, extra] },
    );
    let sortedPlans = 0;
    fc.assert(
      fc.property(sortedSelector, fc.constantFrom<'asc' | 'desc'>('asc', 'desc'), docs, (raw, dir, ds) => {
        const sel = normalizeSelector(raw);
        const field = Object.keys(raw)[0] === '$and' ? Object.keys((raw as any).$and[0])[0]! : Object.keys(raw)[0]!;
        const sort: SortField[] = [{ field, dir }];
        const plan = planFind(sel, sort);
        if (!plan.sortedByIndex || plan.scan === null) return;
        sortedPlans++;
        const withIds = ds.map((d, i) => ({ ...d, _id: `doc${i}` }));
        const bounds = scanBounds(plan.scan);
        const keys = withIds.flatMap((d) => keysOf(d, d._id).filter((k) => inBounds(k, bounds))).sort(compareBytes);
        if (dir === 'desc') keys.reverse();
        const byId = new Map(withIds.map((d) => [d._id, d]));
        const fromIndex = [...new Set(keys.map((k) => parseIndexKey(k).docId))].filter((id) => matchSelector(byId.get(id), sel));
        const inMemory = withIds.filter((d) => matchSelector(d, sel)).sort(sortComparator(sort)).map((d) => d._id);
        assert.deepEqual(fromIndex, inMemory, `${JSON.stringify(raw)} ${dir} via ${JSON.stringify(plan.scan)}`);
      }),
      { numRuns: 2000 },
    );
    assert.ok(sortedPlans > 200, `only ${sortedPlans} sorted plans were tried`);
  });
});

// Each entry read is on the scanned path (or its elements, for $in) and its value passes the clause.
function checkEntry(scan: IndexScan, entry: { path: string; encodedValue: string }, raw: Record<string, unknown>): void {
  const v = decodeIndexValue(entry.encodedValue);
  const onElements = scan.kind === 'eq' && scan.elements && entry.path === elementsPath(scan.path);
  assert.ok(entry.path === scan.path || onElements, `entry path ${entry.path} outside ${scan.path}`);
  if (scan.kind === 'exists') return;
  if ('$in' in raw) {
    assert.ok((raw.$in as unknown[]).some((x) => collate(x, v) === 0));
    return;
  }
  // Markers stand for every array/object; the comparisons must hold for all of them alike.
  for (const [op, arg] of Object.entries(raw)) {
    const cond: Condition = op === '$beginsWith' ? { op, prefix: arg as string } : { op: op as '$eq', value: arg };
    assert.ok(matchCondition(v, cond), `${JSON.stringify(v)} fails ${op} ${JSON.stringify(arg)}`);
  }
}

describe('requiresField (fast-check)', () => {
  test('a document the selector matches has every field the selector requires', () => {
    fc.assert(
      fc.property(selector, docs, field, (raw, ds, f) => {
        const sel = normalizeSelector(raw);
        if (!requiresField(sel, f)) return;
        const path = parseField(f);
        for (const d of ds) if (matchSelector(d, sel)) assert.ok(getField(d, path).found, `${JSON.stringify(raw)} requires ${f} but matches ${JSON.stringify(d)}`);
      }),
      { numRuns: 400 },
    );
  });

  test('what it requires, by example', () => {
    const req = (raw: unknown, f: string) => requiresField(normalizeSelector(raw), f);
    assert.equal(req({ a: 1 }, 'a'), true);
    assert.equal(req({ 'a.b': 1 }, 'a'), true, 'a deeper path needs its parents');
    assert.equal(req({ a: 1 }, 'a.b'), false);
    assert.equal(req({ a: { $exists: false } }, 'a'), false);
    assert.equal(req({ a: { $ne: 1 } }, 'a'), true, 'every condition but $exists:false needs its field, as in CouchDB');
    assert.equal(req({ $or: [{ a: 1 }, { a: 2 }] }, 'a'), true);
    assert.equal(req({ $or: [{ a: 1 }, { b: 2 }] }, 'a'), false);
    assert.equal(req({ $and: [{ b: 1 }, { $or: [{ a: 1 }, { a: { $gt: 3 } }] }] }, 'a'), true);
    assert.equal(req({ $nor: [{ a: 1 }] }, 'a'), true, '$nor becomes $ne, which needs the field');
    assert.equal(req({}, 'a'), false);
  });
});
