// Holds on gc over HTTP (`/_blobs/_holds`), as `ipfs add` holds Kubo's GC lock: while a writer
// holds it (a snapshot before its ref names its blocks), `POST /_blobs/_gc` is refused and the
// node's own gc waits; a hold lapses unless renewed. `refuge snapshot create --url` takes one.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NodeClient } from '../../src/cli/node-client.ts';
import { req, startBlobServer, type BlobServer } from './helpers.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('gc holds over HTTP', () => {
  let s: BlobServer;
  before(async () => {
    s = await startBlobServer();
  });
  after(() => s.close());

  test('open, list, renew and release a hold; gc is refused while one is held', async () => {
    const stray = await s.node.blobs.put(new TextEncoder().encode('nobody names this blob'));
    const opened = await req(s.port, 'POST', '/_blobs/_holds', { body: JSON.stringify({ ttl: 60 }), headers: JSON_TYPE });
    assert.equal(opened.status, 201);
    const { hold, expires_at: expires } = opened.json as { hold: string; expires_at: string };
    assert.equal(typeof hold, 'string');
    assert.ok(Date.parse(expires) > Date.now() + 50_000 && Date.parse(expires) <= Date.now() + 60_000, `expires in a minute: ${expires}`);
    assert.deepEqual((await req(s.port, 'GET', '/_blobs/_holds')).json, { holds: [{ hold, expires_at: expires }] });

    const refused = await req(s.port, 'POST', '/_blobs/_gc', { body: JSON.stringify({ grace: 0 }), headers: JSON_TYPE });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error, 'conflict');
    assert.match(refused.json.reason, /held off by 1 writer/);
    // A flag that is no boolean is refused, never read as false (which would delete for real).
    for (const flags of [{ dry_run: 'true' }, { dry_run: 1 }, { force: 'yes' }]) {
      const odd = await req(s.port, 'POST', '/_blobs/_gc', { body: JSON.stringify({ grace: 0, ...flags }), headers: JSON_TYPE });
      assert.equal(odd.status, 400, JSON.stringify(flags));
      assert.equal(odd.json.error, 'bad_request');
    }
    assert.equal(await s.node.blobs.has(stray.id), true);
    const dry = await req(s.port, 'POST', '/_blobs/_gc', { body: JSON.stringify({ grace: 0, dry_run: true }), headers: JSON_TYPE });
    assert.equal(dry.status, 200, 'a dry run deletes nothing: not held off');
    assert.deepEqual(dry.json.deleted, [stray.id]);
    assert.equal(await s.node.blobs.has(stray.id), true);

    const renewed = await req(s.port, 'PUT', `/_blobs/_holds/${hold}`, { body: JSON.stringify({ ttl: 3600 }), headers: JSON_TYPE });
    assert.equal(renewed.status, 200);
    assert.ok(Date.parse(renewed.json.expires_at) > Date.now() + 3500_000, 'renewed for an hour');

    assert.equal((await req(s.port, 'DELETE', `/_blobs/_holds/${hold}`)).status, 200);
    assert.equal((await req(s.port, 'DELETE', `/_blobs/_holds/${hold}`)).status, 404);
    assert.equal((await req(s.port, 'PUT', `/_blobs/_holds/${hold}`, { body: '{}', headers: JSON_TYPE })).status, 404, 'a released hold is not renewed');
    const swept = await req(s.port, 'POST', '/_blobs/_gc', { body: JSON.stringify({ grace: 0 }), headers: JSON_TYPE });
    assert.equal(swept.status, 200);
    assert.deepEqual(swept.json.deleted, [stray.id]);
  });

  test('a bad ttl is refused and opens nothing', async () => {
    for (const ttl of ['60', 0, -5, 86_401, null]) {
      const r = await req(s.port, 'POST', '/_blobs/_holds', { body: JSON.stringify({ ttl }), headers: JSON_TYPE });
      assert.equal(r.status, 400, `ttl ${JSON.stringify(ttl)}`);
      assert.equal(r.json.error, 'bad_request');
    }
    assert.equal((await req(s.port, 'POST', '/_blobs/_holds', { body: '[1]', headers: JSON_TYPE })).status, 400);
    assert.deepEqual((await req(s.port, 'GET', '/_blobs/_holds')).json, { holds: [] });
  });

  test('the CLI\'s client holds gc off until it releases, and gets on without holds from a node that has none', async () => {
    const client = new NodeClient(s.url);
    const release = await client.holdGc();
    assert.equal(s.node.gcHolds.count, 1);
    await assert.rejects(s.node.collectBlobGarbage({ graceMs: 0 }), (e: Error & { code?: string }) => e.code === 'conflict');
    await release();
    assert.equal(s.node.gcHolds.count, 0);
    // An older node answers 404: the snapshot goes on without a hold.
    const old = new NodeClient(`${s.url}/no-such-db`);
    const none = await old.holdGc();
    await none();
  });
});
