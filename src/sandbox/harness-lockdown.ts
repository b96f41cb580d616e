// In-sandbox source that freezes every intrinsic reachable from the global object, so one user
// function cannot change what JSON, Array, Object... mean for the next doc, call or the harness.

// Freezing a prototype breaks plain assignment of an inherited name on instances (the "override
// mistake": `MyErr.prototype.name = 'x'`, `Child.prototype.constructor = Child`), so those few
// names become accessors whose setter defines an own property on the instance instead.
// Kept as a string: it runs inside QuickJS, never in Node.
export const LOCKDOWN_SOURCE = String.raw`
function lockdown(G) {
  var O = Object, freeze = O.freeze, getProto = O.getPrototypeOf, getDesc = O.getOwnPropertyDescriptor;
  var defProp = O.defineProperty, ownKeys = Reflect.ownKeys, apply = Reflect.apply;
  var hasOwnProperty = O.prototype.hasOwnProperty;

  function enableOverride(obj, name) {
    var desc = getDesc(obj, name);
    if (!desc || !('value' in desc) || !desc.configurable) return;
    var value = desc.value;
    defProp(obj, name, {
      __proto__: null,
      get: function () { return value; },
      set: function (v) {
        if (this === obj) throw new TypeError('Cannot assign to read only property \'' + name + '\'');
        if (apply(hasOwnProperty, this, [name])) this[name] = v;
        else defProp(this, name, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  function enableAll(obj, names) { for (var i = 0; i < names.length; i++) enableOverride(obj, names[i]); }
  enableAll(O.prototype, ['constructor', 'toString', 'valueOf']);
  enableAll(Function.prototype, ['toString']);
  enableAll(Array.prototype, ['toString']);
  var errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, InternalError, AggregateError];
  for (var e = 0; e < errors.length; e++) enableAll(errors[e].prototype, ['constructor', 'name', 'message', 'toString']);

  // Intrinsics no global names: reachable from user code through syntax (generators, iterators...).
  var roots = [];
  function hidden(make) { try { roots.push(make()); } catch (err) { /* absent in this engine */ } }
  hidden(function () { return getProto(function* () {}); });
  hidden(function () { return getProto(async function () {}); });
  hidden(function () { return getProto(async function* () {}); });
  hidden(function () { return getProto([][Symbol.iterator]()); });
  hidden(function () { return getProto(''[Symbol.iterator]()); });
  hidden(function () { return getProto(new Map()[Symbol.iterator]()); });
  hidden(function () { return getProto(new Set()[Symbol.iterator]()); });
  hidden(function () { return getProto(/a/[Symbol.matchAll]('')); });
  hidden(function () { return getProto(Int8Array); });
  hidden(function () { return getProto([].values().map(function (x) { return x; })); });
  hidden(function () { return getProto(Iterator.from({ next: function () { return { done: true }; } })); });

  var globalNames = ownKeys(G);
  for (var g = 0; g < globalNames.length; g++) {
    var gd = getDesc(G, globalNames[g]);
    if ('value' in gd) roots.push(gd.value); else { roots.push(gd.get); roots.push(gd.set); }
  }
  var seen = new Set();
  seen.add(G); // the global object stays extensible: sloppy user code creates globals
  while (roots.length > 0) {
    var o = roots.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
    seen.add(o);
    freeze(o);
    roots.push(getProto(o));
    var keys = ownKeys(o);
    for (var k = 0; k < keys.length; k++) {
      var d = getDesc(o, keys[k]);
      if ('value' in d) roots.push(d.value); else { roots.push(d.get); roots.push(d.set); }
    }
  }
  // Global bindings of the intrinsics and of the CouchDB helpers cannot be reassigned either.
  for (var n = 0; n < globalNames.length; n++) {
    var name = globalNames[n], bd = getDesc(G, name);
    if (!bd.configurable) continue;
    if ('value' in bd) defProp(G, name, { __proto__: null, writable: false, configurable: false });
    else defProp(G, name, { __proto__: null, configurable: false });
  }
}
`;
