// In-sandbox source of CouchDB's `require`: CommonJS modules stored as strings in the design
// document, resolved by path within it ('views/lib/x', './x', '../x'), each evaluated once.

// Follows CouchDB's share/server/util.js resolveModule: a path segment other than '.'/'..' at the
// start is taken from the ddoc root; errors are CouchDB's ["error", code, reason] triples.
// Expects `ddoc` (deep-frozen or null), `indirectEval`, `hasOwn`, `isArray`, `isOom`, `errorText` in scope.
export const REQUIRE_SOURCE = String.raw`
var moduleCache = new Map();

function requireError(code, reason) { return ['error', code, reason]; }

function resolveModule(names, mod, root) {
  if (names.length === 0) {
    if (typeof mod.current !== 'string') {
      throw requireError('invalid_require_path', 'Must require a JavaScript string, not: ' + typeof mod.current);
    }
    return { current: mod.current, parent: mod.parent, id: mod.id, exports: {} };
  }
  var n = names.shift();
  if (n === '..') {
    if (!(mod && mod.parent && mod.parent.parent)) {
      throw requireError('invalid_require_path', 'Object has no parent');
    }
    return resolveModule(names, {
      id: mod.id.slice(0, mod.id.lastIndexOf('/')),
      parent: mod.parent.parent,
      current: mod.parent.current,
    });
  }
  if (n === '.') {
    if (!(mod && mod.parent)) throw requireError('invalid_require_path', 'Object has no parent');
    return resolveModule(names, { parent: mod.parent, current: mod.current, id: mod.id });
  }
  if (root) mod = { current: root };
  var current = mod.current;
  if (current === null || typeof current !== 'object' || !hasOwn(current, n)) {
    throw requireError('invalid_require_path', 'Object has no property "' + n + '"');
  }
  return resolveModule(names, { current: current[n], parent: mod, id: mod.id ? mod.id + '/' + n : n });
}

// Relative paths start from the object holding the requiring module, as in CouchDB.
function makeRequire(requiring) {
  return function require(name) {
    if (typeof name !== 'string') throw requireError('invalid_require_path', 'require() takes a string path');
    if (ddoc === null) throw requireError('invalid_require_path', 'no design document modules are available');
    var mod = resolveModule(name.split('/'), requiring && requiring.parent, ddoc);
    if (moduleCache.has(mod.id)) return moduleCache.get(mod.id);
    // Partial exports are visible to a circular require, as in CommonJS.
    moduleCache.set(mod.id, mod.exports);
    try {
      var body = indirectEval('(function (module, exports, require) {' + mod.current + '\n})');
      body(mod, mod.exports, makeRequire(mod));
    } catch (e) {
      moduleCache.delete(mod.id);
      if (isCouchError(e) || isOom(e)) throw e;
      throw requireError('compilation_error', 'Module require(\'' + name + '\') raised error ' + errorText(e));
    }
    moduleCache.set(mod.id, mod.exports);
    return mod.exports;
  };
}

function isCouchError(e) {
  return isArray(e) && e.length === 3 && e[0] === 'error' && typeof e[1] === 'string';
}
`;
