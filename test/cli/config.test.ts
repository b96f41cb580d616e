// Node settings as `refuge start` reads them: a config file (DATA/refuge.json or --config), then
// environment variables, then flags, each overriding the one before; bad values are bad_request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSettings } from '../../src/cli/config.ts';
import { tempDir } from '../helpers/db.ts';

test('config file, then environment, then flags; on/off settings take booleans in the file', async (t) => {
  const dir = await tempDir('refuge-config-');
  t.after(dir.cleanup);
  await writeFile(join(dir.path, 'refuge.json'), JSON.stringify({ port: 7001, mesh: false, meshDht: true, durability: 'fast' }));
  const fromFile = loadSettings({ data: dir.path }, {});
  assert.deepEqual([fromFile.port, fromFile.mesh, fromFile.meshDht, fromFile.durability], [7001, 'off', 'on', 'fast']);
  const fromEnv = loadSettings({ data: dir.path }, { REFUGE_PORT: '7002', REFUGE_MESH: 'on' });
  assert.deepEqual([fromEnv.port, fromEnv.mesh], [7002, 'on']);
  const fromFlags = loadSettings({ data: dir.path, port: '7003' }, { REFUGE_PORT: '7002' });
  assert.equal(fromFlags.port, 7003);
  // The session cookie's SameSite, by flag or variable; nothing else is taken.
  assert.equal(loadSettings({ data: dir.path, cookieSameSite: 'none' }, {}).cookieSameSite, 'none');
  assert.equal(loadSettings({ data: dir.path }, { REFUGE_COOKIE_SAME_SITE: 'strict' }).cookieSameSite, 'strict');
  assert.throws(() => loadSettings({ data: dir.path, cookieSameSite: 'Lax' }, {}), (e: Error & { code?: string }) => e.code === 'bad_request');
  // A variable a flag overrides is not read: a bad one does not stop the start. Unless overridden, it does.
  assert.equal(loadSettings({ data: dir.path, port: '0' }, { REFUGE_PORT: 'abc' }).port, 0);
  assert.throws(() => loadSettings({ data: dir.path }, { REFUGE_PORT: 'abc' }), (e: Error & { code?: string; reason?: string }) => e.code === 'bad_request' && /REFUGE_PORT/.test(e.reason ?? ''));
  for (const flag of ['', ' ', '0x10', '1e3', '-1', '65536']) {
    assert.throws(() => loadSettings({ data: dir.path, port: flag }, {}), (e: Error & { code?: string }) => e.code === 'bad_request', JSON.stringify(flag));
  }
  assert.throws(() => loadSettings({ data: dir.path, bodyLimit: '1e3' }, {}), (e: Error & { code?: string }) => e.code === 'bad_request');
  assert.equal(loadSettings({ data: dir.path, port: '0' }, {}).port, 0);
  // Numbers are JSON numbers in a file, decimal digits elsewhere; limits are at least 1.
  for (const bad of [{ mesh: 'maybe' }, { mesh: 1 }, { port: 'x' }, { nope: 1 }, { port: null }, { port: [0] }, { bodyLimit: false }, { maxDocumentSize: 0 }, { blobLimit: 0 }]) {
    await writeFile(join(dir.path, 'refuge.json'), JSON.stringify(bad));
    assert.throws(() => loadSettings({ data: dir.path }, {}), (e: Error & { code?: string }) => e.code === 'bad_request', JSON.stringify(bad));
  }
});

test('password iterations: CouchDB 3.4\'s 600,000 by default, set by flag, variable or file, at most what a login derives', async (t) => {
  const dir = await tempDir('refuge-config-pbkdf2-');
  t.after(dir.cleanup);
  assert.equal(loadSettings({ data: dir.path }, {}).passwordIterations, 600_000);
  assert.equal(loadSettings({ data: dir.path, passwordIterations: '1000' }, {}).passwordIterations, 1000);
  assert.equal(loadSettings({ data: dir.path }, { REFUGE_PASSWORD_ITERATIONS: '20000' }).passwordIterations, 20_000);
  await writeFile(join(dir.path, 'refuge.json'), JSON.stringify({ passwordIterations: 1_000_000 }));
  assert.equal(loadSettings({ data: dir.path }, {}).passwordIterations, 1_000_000);
  for (const bad of ['0', '1000001', '-5', '1e5', 'many']) {
    assert.throws(
      () => loadSettings({ data: dir.path, passwordIterations: bad }, {}),
      (e: Error & { code?: string }) => e.code === 'bad_request' && e.message.includes('--password-iterations'),
      bad,
    );
  }
});

test('cors origins: * or a list of origins, checked at start; credentials on or off', async (t) => {
  const dir = await tempDir('refuge-config-cors-');
  t.after(dir.cleanup);
  const listed = loadSettings({ data: dir.path, cors: 'http://app.example, https://b.example:8443' }, { REFUGE_CORS_CREDENTIALS: 'on' });
  assert.deepEqual([listed.cors, listed.corsCredentials], ['http://app.example, https://b.example:8443', 'on']);
  assert.equal(loadSettings({ data: dir.path }, { REFUGE_CORS: '*' }).cors, '*');
  assert.equal(loadSettings({ data: dir.path }, {}).cors, undefined);
  for (const bad of ['http://app.example/path', 'app.example', '*, http://a.example', ' , ', 'http://user@a.example', 'http://a.example?x=1']) {
    assert.throws(() => loadSettings({ data: dir.path, cors: bad }, {}), (e: Error & { code?: string }) => e.code === 'bad_request', bad);
  }
  assert.throws(() => loadSettings({ data: dir.path, corsCredentials: 'maybe' }, {}), (e: Error & { code?: string }) => e.code === 'bad_request');
});

test('auto-compaction: on by default, off by flag, variable or file', async (t) => {
  const dir = await tempDir('refuge-config-compaction-');
  t.after(dir.cleanup);
  assert.equal(loadSettings({ data: dir.path }, {}).autoCompaction, 'on');
  assert.equal(loadSettings({ data: dir.path, autoCompaction: 'off' }, {}).autoCompaction, 'off');
  assert.equal(loadSettings({ data: dir.path }, { REFUGE_AUTO_COMPACTION: 'off' }).autoCompaction, 'off');
  await writeFile(join(dir.path, 'refuge.json'), JSON.stringify({ autoCompaction: false }));
  assert.equal(loadSettings({ data: dir.path }, {}).autoCompaction, 'off');
  assert.throws(() => loadSettings({ data: dir.path, autoCompaction: 'sometimes' }, {}), (e: Error & { code?: string }) => e.code === 'bad_request');
});

test('blob gc: unset (the node decides by its store), on or off by flag, variable or file', async (t) => {
  const dir = await tempDir('refuge-config-blob-gc-');
  t.after(dir.cleanup);
  assert.equal(loadSettings({ data: dir.path }, {}).blobGc, undefined);
  assert.equal(loadSettings({ data: dir.path, blobGc: 'off' }, {}).blobGc, 'off');
  assert.equal(loadSettings({ data: dir.path }, { REFUGE_BLOB_GC: 'on' }).blobGc, 'on');
  await writeFile(join(dir.path, 'refuge.json'), JSON.stringify({ blobGc: false }));
  assert.equal(loadSettings({ data: dir.path }, {}).blobGc, 'off');
  assert.throws(() => loadSettings({ data: dir.path, blobGc: 'hourly' }, {}), (e: Error & { code?: string }) => e.code === 'bad_request');
});

test('errors name the setting as it was given: the flag, the variable or the file and its key, and say why a file was not read', async (t) => {
  const dir = await tempDir('refuge-config-errors-');
  t.after(dir.cleanup);
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'bad_request');
      return (e as { reason: string }).reason;
    }
    assert.fail('no error');
  };
  assert.equal(reason(() => loadSettings({ data: dir.path, bodyLimit: 'big' }, {})), '--body-limit must be a positive whole number');
  assert.equal(reason(() => loadSettings({ data: dir.path, meshDht: 'maybe' }, {})), '--mesh-dht must be on or off');
  assert.equal(reason(() => loadSettings({ data: dir.path }, { REFUGE_MAX_OPEN_DBS: '0' })), 'REFUGE_MAX_OPEN_DBS must be a positive whole number');
  assert.match(reason(() => loadSettings({ data: dir.path, cors: 'app.example' }, {})), /^--cors: /);
  const file = join(dir.path, 'refuge.json');
  await writeFile(file, JSON.stringify({ durability: 'sometimes' }));
  assert.equal(reason(() => loadSettings({ data: dir.path }, {})), `${file}: durability must be durable or fast`);
  await writeFile(file, '{"port": 7001,');
  assert.match(reason(() => loadSettings({ data: dir.path }, {})), new RegExp(`^cannot read config file ${file}: it is not JSON \\(.+\\)$`));
  const missing = join(dir.path, 'nowhere.json');
  assert.equal(reason(() => loadSettings({ data: dir.path, config: missing }, {})), `cannot read config file ${missing}: there is no such file`);
  assert.equal(reason(() => loadSettings({ data: dir.path, config: '' }, {})), '--config needs a file name');
  // Names every object inherits are no settings.
  for (const key of ['constructor', 'hasOwnProperty', '__proto__']) {
    await writeFile(file, `{"port": 7001, ${JSON.stringify(key)}: {"x": 1}}`);
    assert.equal(reason(() => loadSettings({ data: dir.path }, {})), `${file}: unknown setting ${key}`, key);
  }
});

test('replicate --doc-ids: a comma list, or a JSON array of strings for ids that hold a comma', async () => {
  const { parseDocIds } = await import('../../src/cli/replicate.ts');
  assert.deepEqual(parseDocIds('a,b,,c'), ['a', 'b', 'c']);
  assert.deepEqual(parseDocIds('["a,b","c"]'), ['a,b', 'c']);
  assert.deepEqual(parseDocIds(' ["x"]'), ['x']);
  // Not a JSON array of strings: a comma list, brackets and all (ids may hold them).
  assert.deepEqual(parseDocIds('[x],y'), ['[x]', 'y']);
  assert.deepEqual(parseDocIds('[1]'), ['[1]']);
});
