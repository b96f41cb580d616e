// In-sandbox harness: the CouchDB globals (emit, log, sum, isArray, toJSON, require, index) and
// the dispatcher the host calls, one JSON string in and one out per batch.

// Everything the harness uses is captured in this closure before any user code runs, and the
// dispatcher is never reachable from the global object. An output starting with '!' tells the
// host that user code ran out of memory, so the runtime must be replaced after this call.
import { LOCKDOWN_SOURCE } from './harness-lockdown.ts';
import { REQUIRE_SOURCE } from './harness-require.ts';

/** Kinds of batched or single runs; numbers so the host passes no string per call. */
export const RunKind = { map: 1, index: 2, filter: 3, reduce: 4, validate: 5, call: 6, validateMany: 7, reduceMany: 8 } as const;
export type RunKind = (typeof RunKind)[keyof typeof RunKind];

export const HARNESS_SOURCE = String.raw`(function (hostLog, ddocJson, sliceMs) {
'use strict';
var G = globalThis;
var parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, apply = Reflect.apply;
var now = Date.now;
var getProto = Object.getPrototypeOf, freeze = Object.freeze, ownKeys = Reflect.ownKeys;
var hasOwnProperty = Object.prototype.hasOwnProperty, StringCtor = String, Err = Error, TypeErr = TypeError;
var InternalErrorProto = InternalError.prototype;
var indirectEval = eval;
var TRAILING = /[\s;]+$/;
var fns = [];
var mode = 0, rows = null, oomSeen = false;

function hasOwn(o, k) { return apply(hasOwnProperty, o, [k]); }
function json(v) { var s = stringify(v); return s === undefined ? 'null' : s; }
function isOom(e) {
  try { return e !== null && typeof e === 'object' && getProto(e) === InternalErrorProto && e.message === 'out of memory'; }
  catch (err) { return false; }
}
function text(v) {
  if (typeof v === 'string') return v;
  try { var s = stringify(v); if (s !== undefined) return s; } catch (err) { /* fall through */ }
  return typeof v;
}
// couchjs answers a refusal's value as JSON, whatever it is, and CouchDB puts it in the reason as
// it is: a value that is no string travels beside its text.
function refusal(d, kind, v) {
  d.kind = kind;
  if (typeof v === 'string') { d.message = v; return d; }
  var s;
  try { s = stringify(v); } catch (err) { s = undefined; }
  if (s === undefined) { d.message = typeof v; return d; }
  d.message = s; d.value = parse(s);
  return d;
}
// Reading name/message may run user getters: any failure here degrades to a generic description.
function describe(e) {
  var d = { kind: 'error', name: 'Error', message: '' };
  try {
    if (isOom(e)) { oomSeen = true; d.kind = 'oom'; d.name = 'InternalError'; d.message = 'out of memory'; return d; }
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      if (hasOwn(e, 'forbidden')) return refusal(d, 'forbidden', e.forbidden);
      if (hasOwn(e, 'unauthorized')) return refusal(d, 'unauthorized', e.unauthorized);
      if (isCouchError(e)) { d.kind = 'couch'; d.name = e[1]; d.message = text(e[2]); return d; }
      var name = e.name, message = e.message;
      if (typeof message === 'string') {
        d.name = typeof name === 'string' ? name : 'Error';
        d.message = message;
        var stack = e.stack;
        if (typeof stack === 'string') d.stack = stack.slice(0, 4000);
        return d;
      }
    }
    d.kind = 'raised'; d.message = text(e);
  } catch (err) {
    d.kind = 'error'; d.name = 'Error'; d.message = 'the function threw a value that could not be described';
  }
  return d;
}
function errorText(e) { var d = describe(e); return d.kind === 'raised' ? d.message : d.name + ': ' + d.message; }
function errorJson(e) { return '{"error":' + stringify(describe(e)) + '}'; }
function deepFreeze(v) {
  var stack = [v];
  while (stack.length > 0) {
    var o = stack.pop();
    if (o === null || typeof o !== 'object') continue;
    freeze(o);
    var keys = ownKeys(o);
    for (var i = 0; i < keys.length; i++) stack.push(o[keys[i]]);
  }
  return v;
}
var ddoc = ddocJson === '' ? null : deepFreeze(parse(ddocJson));
` + REQUIRE_SOURCE + String.raw`
// Rows are serialized once per doc after the function returns, as couchjs does (a value mutated
// after emit() is serialized as it ends up); one stringify per doc is also the cheap way.
function emit(key, value) {
  if (mode !== 1) throw new Err('emit() can only be called from a map function');
  rows[rows.length] = [key, value];
}
function index(name, value, options) {
  if (mode !== 2) throw new Err('index() can only be called from a search index function');
  if (typeof name !== 'string') throw new TypeErr('name must be a string not ' + typeof name);
  if (name.charAt(0) === '_') throw { name: 'ReservedName', message: 'name must not start with an underscore' };
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TypeErr('value must be a string, a number or boolean not ' + typeof value);
  }
  if (options && typeof options !== 'object') throw new TypeErr('options must be an object not ' + typeof options);
  rows[rows.length] = [name, value, options || {}];
}
function log(message) {
  var line = typeof message === 'string' ? message : json(message);
  if (typeof hostLog === 'function') hostLog(line);
}
function sum(values) { var rv = 0; for (var i in values) rv += values[i]; return rv; }
function toJSON(value) { return stringify(value); }
var couchGlobals = {
  emit: emit, index: index, log: log, sum: sum, toJSON: toJSON, require: makeRequire(undefined),
  isArray: function (value) { return isArray(value); },
};
var globalNames = ownKeys(couchGlobals);
for (var g = 0; g < globalNames.length; g++) {
  Object.defineProperty(G, globalNames[g], { value: couchGlobals[globalNames[g]], writable: false, enumerable: false, configurable: false });
}
// couchjs refuses code generation from strings (eval, the Function constructors), and so does this
// sandbox: the harness keeps its own eval (captured above) and user code gets none. The
// constructors stay the functions' prototypes' owners, so instanceof Function still holds.
function noCodegen() { throw new EvalError('code generation from strings is not allowed'); }
noCodegen.prototype = Function.prototype;
var generated = [function () {}, function* () {}, async function () {}, async function* () {}];
for (var c = 0; c < generated.length; c++) {
  Object.defineProperty(getProto(generated[c]), 'constructor', { value: noCodegen, writable: false, enumerable: false, configurable: false });
}
G.Function = noCodegen;
delete G.eval;
` + LOCKDOWN_SOURCE + String.raw`
lockdown(G);

function compile(id, source) {
  oomSeen = false;
  var out = compileOne(id, source);
  return oomSeen ? '!' + out : out;
}

function compileOne(id, source) {
  var fn;
  try { fn = indirectEval('(' + StringCtor(source).replace(TRAILING, '') + '\n)'); }
  catch (e) { return errorJson(e); }
  if (typeof fn !== 'function') return '{"notFunction":true}';
  fns[id] = fn;
  return '{"ok":true}';
}

// A batch hands back what it has done after sliceMs (the host goes on from there with a fresh
// deadline), so the time limit holds per document, as CouchDB's does, not per batch of them.
function runBatch(fn, docs, kind, req) {
  var out = '[';
  var started = now();
  for (var i = 0; i < docs.length; i++) {
    if (i > 0 && now() - started > sliceMs) return out + ']';
    var entry;
    mode = kind; rows = [];
    try {
      if (kind === 3) entry = fn(docs[i], req) ? 'true' : 'false';
      else if (kind === 8) entry = '{"ok":' + json(fn(docs[i][0], docs[i][1], docs[i][2])) + '}';
      else if (kind === 7) {
        // Each document gets its own userCtx and secObj: one it changed must not judge the next.
        var ctx = parse(req);
        fn(docs[i][0], docs[i][1], ctx[0], ctx[1]);
        entry = 'null';
      }
      else { fn(docs[i]); mode = 0; entry = stringify(rows); }
    } catch (e) {
      entry = errorJson(e);
      // A runtime that ran out of memory is replaced: stop here, the host resumes after this doc.
      if (oomSeen) { mode = 0; rows = null; return out + (i > 0 ? ',' : '') + entry + ']'; }
    }
    mode = 0; rows = null; docs[i] = undefined;
    out += (i > 0 ? ',' : '') + entry;
  }
  return out + ']';
}

function runOne(kind, fn, args) {
  try {
    if (kind === 5) { fn(args[0], args[1], args[2], args[3]); return '{"ok":null}'; }
    var result = kind === 4 ? fn(args[0], args[1], args[2]) : apply(fn, undefined, args);
    return '{"ok":' + json(result) + '}';
  } catch (e) { return errorJson(e); }
}

function dispatch(kind, fn, payload) {
  var args;
  try { args = parse(payload); } catch (e) { return '{"batchError":' + stringify(describe(e)) + '}'; }
  if (kind === 1 || kind === 2 || kind === 8) return runBatch(fn, args, kind);
  if (kind === 3) return runBatch(fn, args[1], kind, deepFreeze(args[0]));
  if (kind === 7) return runBatch(fn, args[1], kind, args[0]);
  return runOne(kind, fn, args);
}

function run(kind, id, payload) {
  mode = 0; rows = null; oomSeen = false;
  var fn = fns[id];
  if (typeof fn !== 'function') return '{"batchError":{"kind":"error","name":"Error","message":"function not compiled"}}';
  var out = dispatch(kind, fn, payload);
  return oomSeen ? '!' + out : out;
}

return { compile: compile, run: run };
})`;
