// CORS as CouchDB's [cors] section gives it: off by default; with origins configured, browsers on
// them get the headers on every answer (errors included), preflights are answered before
// authentication, and other origins get nothing that would let a page read an answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCorsOrigins } from '../../src/http/index.ts';
import { rawRequest } from './raw-http.ts';
import { startTestServer } from './server.ts';

const APP = 'http://app.example';
const preflight = (method: string, headers = 'content-type') => ({
  method: 'OPTIONS',
  headers: { origin: APP, 'access-control-request-method': method, 'access-control-request-headers': headers },
});

test('off by default: no CORS headers, and a preflight is not answered as one', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const get = await rawRequest(s.server.port, { method: 'GET', path: '/', headers: { origin: APP } });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], undefined);
  const pre = await rawRequest(s.server.port, { path: '/db', ...preflight('PUT') });
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  assert.notEqual(pre.status, 204);
});

test('listed origins: preflights, answers and errors carry the headers; other origins get none', async (t) => {
  const s = await startTestServer({ cors: { origins: [APP] } });
  t.after(() => s.close());
  const port = s.server.port;
  const pre = await rawRequest(port, { path: '/db/doc', ...preflight('PUT', 'content-type, if-match') });
  assert.equal(pre.status, 204);
  assert.equal(pre.text, '');
  assert.equal(pre.headers['access-control-allow-origin'], APP);
  assert.match(String(pre.headers['access-control-allow-methods']), /\bPUT\b.*\bCOPY\b/);
  assert.match(String(pre.headers['access-control-allow-headers']), /\bcontent-type\b.*\bif-match\b/);
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(pre.headers['access-control-allow-credentials'], undefined);

  const created = await rawRequest(port, { method: 'PUT', path: '/db', headers: { origin: APP } });
  assert.equal(created.status, 201);
  assert.equal(created.headers['access-control-allow-origin'], APP);
  assert.match(String(created.headers.vary), /origin/i);
  const put = await rawRequest(port, { method: 'PUT', path: '/db/doc', body: '{"a":1}', headers: { origin: APP } });
  assert.equal(put.status, 201);
  assert.match(String(put.headers['access-control-expose-headers']), /\betag\b/);
  // An error is readable by the page too.
  const missing = await rawRequest(port, { method: 'GET', path: '/db/nope', headers: { origin: APP } });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['access-control-allow-origin'], APP);
  assert.deepEqual(JSON.parse(missing.text), { error: 'not_found', reason: 'missing' });

  // An OPTIONS that is no preflight (no Access-Control-Request-Method, or no Origin) is answered as
  // without CORS, CouchDB's JSON 405, not the plugin's text/plain 400.
  for (const headers of [{ origin: APP }, { 'access-control-request-method': 'PUT' }, {}] as Array<Record<string, string>>) {
    const plain = await rawRequest(port, { method: 'OPTIONS', path: '/db/doc', headers });
    assert.equal(plain.status, 405, JSON.stringify(headers));
    assert.deepEqual(JSON.parse(plain.text), { error: 'method_not_allowed', reason: 'Only COPY,DELETE,GET,HEAD,POST,PUT allowed' });
    assert.equal(plain.headers['access-control-allow-origin'], 'origin' in headers ? APP : undefined);
  }

  for (const origin of ['http://evil.example', 'http://app.example:8080', 'https://app.example']) {
    const other = await rawRequest(port, { method: 'GET', path: '/db/doc', headers: { origin } });
    assert.equal(other.status, 200);
    assert.equal(other.headers['access-control-allow-origin'], undefined, origin);
    const otherPre = await rawRequest(port, { path: '/db/doc', ...preflight('PUT'), headers: { ...preflight('PUT').headers, origin } });
    assert.equal(otherPre.headers['access-control-allow-origin'], undefined, origin);
  }
});

test('with an admin and credentials: preflights need no login, 401s are readable, logged-in calls pass', async (t) => {
  const s = await startTestServer({ admin: 'admin:secret', cors: { origins: '*', credentials: true } });
  t.after(() => s.close());
  const port = s.server.port;
  const pre = await rawRequest(port, { path: '/private', ...preflight('PUT', 'authorization, content-type') });
  assert.equal(pre.status, 204);
  // `*` with credentials echoes the caller's origin (browsers refuse a literal * then).
  assert.equal(pre.headers['access-control-allow-origin'], APP);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  const denied = await rawRequest(port, { method: 'PUT', path: '/private', headers: { origin: APP } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers['access-control-allow-origin'], APP);
  assert.equal(JSON.parse(denied.text).error, 'unauthorized');
  const auth = `Basic ${Buffer.from('admin:secret').toString('base64')}`;
  const created = await rawRequest(port, { method: 'PUT', path: '/private', headers: { origin: APP, authorization: auth } });
  assert.equal(created.status, 201);
  assert.equal(created.headers['access-control-allow-credentials'], 'true');
});

test('origins are read as browsers send them', () => {
  assert.equal(parseCorsOrigins(' * '), '*');
  assert.deepEqual(parseCorsOrigins('HTTP://App.Example:80/, https://b.example:8443,capacitor://localhost'), [
    'http://app.example',
    'https://b.example:8443',
    'capacitor://localhost',
  ]);
  for (const bad of ['http://a.example/path', 'http://u:p@a.example', 'a.example', 'http://a.example#x', '*,http://a.example', '']) {
    assert.throws(() => parseCorsOrigins(bad), (e: Error & { code?: string }) => e.code === 'bad_request', bad);
  }
});
