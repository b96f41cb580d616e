// Malformed requests at the HTTP level for the robustness suite: db names and path tricks, bad
// percent-encodings, huge URLs and bodies, media types, methods, raw bytes, seeded fuzz samples.

import fc from 'fast-check';
import { JSON_ENDPOINTS, enc, j, type Case } from './malformed-cases.ts';

export function dbNameCases(): Case[] {
  const out: Case[] = [];
  const names = ['Bad', '_bad', '1abc', 'a%20b', '..%2F..', '%2e%2e', '%2E', 'a%00b', 'a'.repeat(300), 'ABC', 'a%2F..%2F..%2Fetc', '%24x', 'a.b', '-x', '%C3%A9t%C3%A9', 'a%0Ab'];
  for (const name of names) {
    out.push({ label: `PUT db ${name.slice(0, 40)}`, method: 'PUT', path: `/${name}` });
    out.push({ label: `DELETE db ${name.slice(0, 40)}`, method: 'DELETE', path: `/${name}` });
    out.push({ label: `GET db ${name.slice(0, 40)}`, method: 'GET', path: `/${name}` });
    out.push({ label: `POST doc into ${name.slice(0, 40)}`, method: 'POST', path: `/${name}`, body: '{}' });
  }
  out.push({ label: 'PUT existing db', method: 'PUT', path: '/data' });
  out.push({ label: 'DELETE db with ?rev', method: 'DELETE', path: '/data?rev=1-abc' });
  // Path tricks are not resolved: they name a db, doc or attachment that does not exist.
  for (const [method, path, body] of [
    ['PUT', '/a/../b'],
    ['GET', '/data/../_all_dbs'],
    ['DELETE', '/data/../other'],
    ['GET', '/%2e%2e/_all_dbs'],
    ['PUT', '/%2e%2e'],
    ['DELETE', '/..%2F..'],
    ['GET', '/data/..%2F..%2Fother'],
    ['GET', '/./data/../data'],
    ['GET', '/data/nope/../../other'],
    ['DELETE', '/data/nope/..'],
    ['PUT', '/nodb/./..', '{}'],
    ['PUT', '/nodb/doc', '{}'],
    ['GET', '/nodb/_all_docs'],
    ['POST', '/nodb/_bulk_docs', '{"docs":[]}'],
    ['GET', '/data/nope'],
    ['GET', '/data/_design/nope'],
    ['GET', '/data/_local/nope'],
    // Names of Object.prototype's members are no database endpoints (they were a 500).
    ['GET', '/data/__proto__'],
    ['PUT', '/data/__proto__', '{}'],
    ['DELETE', '/data/__defineGetter__'],
    ['COPY', '/data/__lookupSetter__'],
    ['HEAD', '/data/__proto__'],
  ] as Array<[string, string, string?]>) {
    out.push({ label: `path trick ${method} ${path}`, method, path, body });
  }
  return out;
}

export function encodingCases(): Case[] {
  const out: Case[] = [];
  for (const bad of ['%ff', '%C0%AF', '%E2%82', '%zz', '%', '%e2%82%28', '%ed%a0%80', '%f8%88%80%80%80', 'a%']) {
    out.push({ label: `bad encoding db ${bad}`, method: 'GET', path: `/${bad}` });
    out.push({ label: `bad encoding PUT db ${bad}`, method: 'PUT', path: `/x${bad}` });
    out.push({ label: `bad encoding doc ${bad}`, method: 'GET', path: `/data/${bad}` });
    out.push({ label: `bad encoding PUT doc ${bad}`, method: 'PUT', path: `/data/x${bad}`, body: '{}' });
    out.push({ label: `bad encoding ddoc ${bad}`, method: 'PUT', path: `/data/_design/x${bad}`, body: '{}' });
  }
  for (const nul of ['%00', 'a%00', '%00a', '_local%2F%00']) {
    out.push({ label: `NUL doc id ${nul}`, method: 'PUT', path: `/data/${nul}`, body: '{}' });
  }
  out.push({ label: 'NUL local id', method: 'PUT', path: '/data/_local/a%00b', body: '{}' });
  out.push({ label: 'lone surrogate id (CESU)', method: 'PUT', path: '/data/%ed%b0%80', body: '{}' });
  // URLs far beyond the header limit: refused by the HTTP parser, still with a JSON error.
  for (const n of [20_000, 70_000]) out.push({ label: `very long id ${n}`, method: 'GET', path: `/data/${'a'.repeat(n)}` });
  out.push({ label: 'very long PUT id', method: 'PUT', path: `/data/${'b'.repeat(40_000)}`, body: '{}' });
  out.push({ label: 'very long db name', method: 'PUT', path: `/${'c'.repeat(30_000)}` });
  out.push({ label: 'very long query', method: 'GET', path: `/data/_all_docs?startkey=${'%22' + 'd'.repeat(30_000) + '%22'}` });
  return out;
}

export function sizeAndTypeCases(bodyLimit: number): Case[] {
  const out: Case[] = [];
  const big = (n: number) => j({ _id: 'huge', pad: 'x'.repeat(n) });
  for (const [method, path] of JSON_ENDPOINTS) {
    out.push({ label: `huge body ${method} ${path}`, method, path, body: big(bodyLimit + 1) });
  }
  for (const n of [bodyLimit * 2, bodyLimit * 8]) {
    out.push({ label: `huge _bulk_docs ${n}`, method: 'POST', path: '/data/_bulk_docs', body: j({ docs: [{ _id: 'huge', pad: 'y'.repeat(n) }] }) });
    out.push({
      label: `huge chunked PUT ${n}`,
      method: 'PUT',
      path: '/data/huge',
      body: big(n),
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
  }
  const types = [
    'application/xml',
    'application/octet-stream',
    'multipart/form-data; boundary=x',
    'multipart/related; boundary=x',
    'image/png',
    'text/html',
    'application/x-www-form-urlencoded',
    'application/jsonx',
  ];
  for (const type of types) {
    // A document PUT is JSON whatever its type (CouchDB's rule), so only the other endpoints refuse.
    const strict = JSON_ENDPOINTS.filter(([m, p]) => p !== '/_session' && !(m === 'PUT' && /^\/data\/(_design\/|_local\/)?[a-z0-9]+$/.test(p)));
    for (const [method, path] of strict) {
      out.push({ label: `content-type ${type} ${method} ${path}`, method, path, body: '{"docs":[],"a":1}', headers: { 'content-type': type } });
    }
  }
  return out;
}

export function methodCases(): Case[] {
  const out: Case[] = [];
  const paths = ['/', '/data', '/data/d01', '/data/_all_docs', '/_all_dbs', '/data/_bulk_docs', '/data/_design/ddoc', '/data/_local/ckpt', '/data/d01/att'];
  for (const method of ['PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'LINK', 'PURGE', 'LOCK', 'COPY']) {
    for (const path of paths) out.push({ label: `${method} ${path}`, method, path });
  }
  for (const [method, path] of [
    ['POST', '/_all_dbs'],
    ['PUT', '/_uuids'],
    ['DELETE', '/_up'],
    ['PUT', '/'],
    ['DELETE', '/'],
    ['POST', '/'],
    ['PUT', '/data/_all_docs'],
    ['DELETE', '/data/_changes'],
    ['GET', '/data/_bulk_docs'],
    ['GET', '/data/_find'],
    ['GET', '/data/_revs_diff'],
    ['PUT', '/data/_find'],
    ['POST', '/data/d01'],
    ['GET', '/data/_compact'],
    ['GET', '/_replicate'],
    ['PUT', '/data/_index'],
    ['POST', '/data/_revs_limit'],
    ['GET', '/data/_purge'],
  ]) {
    out.push({ label: `${method} ${path}`, method: method!, path: path!, body: method === 'GET' ? undefined : '{}' });
  }
  for (const line of ['BREW /data HTTP/1.1', 'CONNECT /data HTTP/1.1', 'GET /data HTTP/9.9', 'G\u0000T / HTTP/1.1', 'GET  HTTP/1.1']) {
    out.push({ label: `raw ${JSON.stringify(line)}`, method: 'RAW', path: '', socket: `${line}\r\nHost: x\r\nConnection: close\r\n\r\n` });
  }
  out.push({ label: 'raw bad header', method: 'RAW', path: '', socket: 'GET / HTTP/1.1\r\nHost x\r\n\r\n' });
  out.push({ label: 'raw bad content-length', method: 'RAW', path: '', socket: 'PUT /data/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}' });
  out.push({
    label: 'raw conflicting lengths',
    method: 'RAW',
    path: '',
    socket: 'PUT /data/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
  });
  out.push({ label: 'raw bad chunk', method: 'RAW', path: '', socket: 'PUT /data/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n' });
  return out;
}

export function miscCases(): Case[] {
  const out: Case[] = [];
  for (const body of ['"x"', '0', '-1', '1.5', '{}', '[]', 'null', 'true', '1e400', '"5"']) {
    out.push({ label: `_revs_limit ${body}`, method: 'PUT', path: '/data/_revs_limit', body });
  }
  for (const body of [{ name: 1, password: 'x' }, { name: 'a' }, { name: 'admin', password: 'secret' }, {}]) {
    out.push({ label: `_session ${j(body)}`, method: 'POST', path: '/_session', body: j(body) });
  }
  for (const body of [{}, { source: 1 }, { source: 'data', target: 5 }, { cancel: true }, { source: 'nodb', target: 'newdb' }, { source: 'data', target: 'Bad' }]) {
    out.push({ label: `_replicate ${j(body)}`, method: 'POST', path: '/_replicate', body: j(body) });
  }
  out.push({ label: 'attachment on missing doc', method: 'GET', path: '/data/nope/file.txt' });
  out.push({ label: 'attachment in missing db', method: 'PUT', path: '/nodb/doc/file.txt', body: 'hi', headers: { 'content-type': 'text/plain' } });
  out.push({ label: '_purge bad body', method: 'POST', path: '/data/_purge', body: '[' });
  // Purge is refused whole when any part is malformed or over CouchDB's limits (100 ids, 1000 revs).
  const rev = '1-' + 'a'.repeat(32);
  const tooManyIds = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`d${String(i).padStart(2, '0')}`, [rev]]));
  const tooManyRevs = { d01: Array.from({ length: 1001 }, (_, i) => `${i + 1}-${'a'.repeat(32)}`) };
  for (const body of [[], 'd01', 1, null, { d01: rev }, { d01: [rev], d02: {} }, { d01: ['garbage'] }, { d01: [rev, 7] }, { d01: [null] }, tooManyIds, tooManyRevs]) {
    out.push({ label: `_purge ${j(body).slice(0, 60)}`, method: 'POST', path: '/data/_purge', body: j(body) });
  }
  for (const body of ['"x"', '0', '-1', '1.5', '{}', '[]', 'null', '1e400']) {
    out.push({ label: `_purged_infos_limit ${body}`, method: 'PUT', path: '/data/_purged_infos_limit', body });
  }
  return out;
}

/** Seeded random samples: invalid JSON text, bad integers/booleans, bad db names, bad docs. */
export function fuzzCases(): Case[] {
  const out: Case[] = [];
  const seed = 20240611;
  const invalidJson = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  });
  for (const [i, s] of fc.sample(invalidJson, { seed, numRuns: 60 }).entries()) {
    const [method, path] = JSON_ENDPOINTS[i % JSON_ENDPOINTS.length]!;
    out.push({ label: `fuzz bad JSON ${j(s)} ${method} ${path}`, method, path, body: s });
  }
  const notInt = fc.string({ minLength: 0, maxLength: 12 }).filter((s) => !/^[0-9]{1,15}$/.test(s));
  const intParams = ['/data/_all_docs?limit=', '/data/_all_docs?skip=', '/data/_changes?limit=', '/_uuids?count='];
  for (const [i, s] of fc.sample(notInt, { seed: seed + 1, numRuns: 40 }).entries()) {
    out.push({ label: `fuzz int ${j(s)}`, method: 'GET', path: intParams[i % intParams.length] + enc(s) });
  }
  const notBool = fc.string({ maxLength: 8 }).filter((s) => s !== 'true' && s !== 'false');
  // View options only: `_changes` and document reads take the word `true` and ignore other values.
  const boolParams = ['/data/_all_docs?descending=', '/data/_all_docs?inclusive_end=', '/data/_all_docs?include_docs=', '/data/_all_docs?conflicts='];
  for (const [i, s] of fc.sample(notBool, { seed: seed + 2, numRuns: 40 }).entries()) {
    out.push({ label: `fuzz bool ${j(s)}`, method: 'GET', path: boolParams[i % boolParams.length] + enc(s) });
  }
  const badDbName = fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }).filter((s) => !/^[a-z][a-z0-9_$()+/-]*$/.test(s));
  for (const s of fc.sample(badDbName, { seed: seed + 3, numRuns: 40 })) {
    out.push({ label: `fuzz db name ${j(s)}`, method: 'PUT', path: `/${enc(s)}` });
  }
  // Documents with a random unknown `_` member, or random non-object values: never written.
  const special = fc.string({ minLength: 1, maxLength: 8 }).map((s) => '_x' + s);
  const badDoc = fc.oneof(
    fc.tuple(special, fc.jsonValue()).map(([k, v]) => ({ _id: 'fuzz', [k]: v })),
    fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 })),
  );
  for (const doc of fc.sample(badDoc, { seed: seed + 4, numRuns: 40 })) {
    out.push({ label: `fuzz bad doc ${j(doc).slice(0, 60)}`, method: 'POST', path: '/data/_bulk_docs', body: j({ docs: [{ _id: 'sneaky' }, doc] }) });
  }
  return out;
}
