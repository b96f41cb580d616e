// `GET /_blobs/_gc`: what the node's own blob gc has still to look at, when it may next collect,
// whether a writer holds it off, and what its last collection did; `{"auto":false}` when it is off.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { req, startBlobServer } from './helpers.ts';

const JSON_TYPE = { 'content-type': 'application/json' };
const inline = (text: string) => ({ content_type: 'text/plain', data: Buffer.from(text).toString('base64') });

test('the node\'s own gc tells its candidates, when it is due, its holds and its last collection', async () => {
  // No timer and no quiet time: the test looks itself; an hour's grace keeps the old blob young.
  const s = await startBlobServer({ blobGc: { intervalMs: 3_600_000, quietMs: 0, graceMs: 3_600_000 } });
  try {
    const idle = await req(s.port, 'GET', '/_blobs/_gc');
    assert.equal(idle.status, 200);
    assert.deepEqual(idle.json, { auto: true, candidates: 0, due_at: null, held: false, running: false, last: null, failed: null });

    const db = await s.node.createDb('photos');
    const r1 = await db.put({ _id: 'a', _attachments: { pic: inline('the first picture') } });
    await db.put({ _id: 'a', _rev: r1.rev, _attachments: { pic: inline('the second picture') } });
    const before = Date.now();
    assert.equal((await db.compact()).droppedBodies, 1);
    const due = (await req(s.port, 'GET', '/_blobs/_gc')).json;
    assert.equal(due.candidates, 1, 'the dropped revision\'s attachment');
    assert.ok(Date.parse(due.due_at) >= before && Date.parse(due.due_at) <= Date.now(), `due now: ${due.due_at}`);
    assert.equal(due.last, null);

    const hold = (await req(s.port, 'POST', '/_blobs/_holds', { body: '{}', headers: JSON_TYPE })).json.hold as string;
    assert.equal((await req(s.port, 'GET', '/_blobs/_gc')).json.held, true, 'a snapshot holds it off');
    assert.equal((await req(s.port, 'DELETE', `/_blobs/_holds/${hold}`)).status, 200);

    const report = await s.node.collectBlobsWhereDue();
    assert.equal(report?.young, 1, 'stored within the hour: kept');
    const after = (await req(s.port, 'GET', '/_blobs/_gc')).json;
    assert.equal(after.candidates, 1, 'kept for the next collection');
    assert.ok(Date.parse(after.due_at) >= Date.now() + 3_500_000, `tried again an hour later: ${after.due_at}`);
    assert.equal(after.held, false);
    const { at, ...counts } = after.last;
    assert.deepEqual(counts, { deleted: 0, deleted_bytes: 0, young: 1, missing: 0 });
    assert.ok(Date.parse(at) >= before, `when it ran: ${at}`);
    assert.equal(after.failed, null);
  } finally {
    await s.close();
  }
});

test('with the node\'s own gc off, the answer says so', async () => {
  const s = await startBlobServer({ blobGc: false });
  try {
    const r = await req(s.port, 'GET', '/_blobs/_gc');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { auto: false });
  } finally {
    await s.close();
  }
});
