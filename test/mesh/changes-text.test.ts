// The mesh's changes answers splice stored document text (no parse, no serialization): what the
// asker reads back must equal the documents the database gives, whatever each row holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalPeer } from '../../src/replication/index.ts';
import { ReplicationService, addPeer, setGrant, type TrustState } from '../../src/mesh/index.ts';
import { JsonText, decodeJson, encodeJson } from '../../src/mesh/wire.ts';
import { putVariedDocs } from '../helpers/db.ts';
import { startPeerNode } from './helpers.ts';

test('a changes answer with documents reads back as the local peer answers it', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(() => Promise.all([a.close(), b.close()]));
  const asker = b.mesh.peerId;
  await a.trust.update((s: TrustState) => setGrant(addPeer(s, { id: asker }), 'notes', 'read', `peer:${asker}`, true));
  const db = await a.node.createDb('notes');
  await putVariedDocs(db);

  const service = new ReplicationService({ node: a.node, trust: a.trust });
  for (const style of ['all_docs', 'main_only'] as const) {
    const answer = await service.answer(asker, { op: 'changes', db: 'notes', since: 0, limit: 100, style, includeDocs: true });
    assert.ok(answer instanceof JsonText, 'answered as text');
    const expected = await new LocalPeer(db).changes({ since: 0, limit: 100, style, includeDocs: true });
    // As the asker reads it: the frame's bytes.
    const read = decodeJson(encodeJson({ ok: true, result: answer })) as { ok: true; result: { results: unknown[] } };
    assert.deepEqual(read, { ok: true, result: JSON.parse(JSON.stringify(expected)) });
    // The attached document comes without its doc (fetched apart), the others with theirs.
    const rows = read.result.results as Array<{ id: string; doc?: unknown; attachmentBytes?: number }>;
    assert.deepEqual(rows.filter((r) => r.doc === undefined).map((r) => r.id), ['attached']);
  }
  // Most rows were spliced, not serialized: the local peer hands them over as text when asked.
  const spliced = await new LocalPeer(db).changes({ since: 0, limit: 100, style: 'all_docs', includeDocs: true, docText: true });
  assert.equal(spliced.results.filter((r) => r.docJson !== undefined).length, spliced.results.length - 1);
});

test('a text answer is encoded piece by piece into its frame, however many bytes its characters take', () => {
  const wide = 'é'.repeat(300) + '😀'.repeat(200) + '中'.repeat(500);
  for (const parts of [['{"a":"', wide, '","b":[', '1,2', ']}'], ['{"a":"' + wide + '"}'], ['{"a":"', '', '"}'], ['[]']]) {
    const text = new JsonText(parts);
    assert.deepEqual(decodeJson(encodeJson({ ok: true, result: text })), { ok: true, result: JSON.parse(parts.join('')) }, `pieces ${parts.length}`);
    assert.deepEqual(encodeJson({ ok: true, result: text }), new TextEncoder().encode('{"ok":true,"result":' + parts.join('') + '}'), 'the same bytes as the whole text encoded');
  }
});
