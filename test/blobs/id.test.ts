// Blob ids: the canonical sha256-<hex> spelling, and conversion to and from CIDv1 (raw, base32).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bases } from 'multiformats/basics';
import { CID } from 'multiformats/cid';
import {
  DAG_PB_CODEC,
  RAW_CODEC,
  blobIdFromCid,
  blobIdFromDigest,
  blobIdToCid,
  digestOfBlobId,
  isBlobId,
  parseBlobId,
  toBlobId,
} from '../../src/blobs/core.ts';
import { bytes, idOf, isCode } from './helpers.ts';

const EMPTY = 'sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HELLO = 'sha256-b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';

test('canonical ids parse; anything else is bad_request', () => {
  assert.equal(parseBlobId(EMPTY), EMPTY);
  assert.equal(isBlobId(HELLO), true);
  for (const bad of ['', 'sha256-', HELLO.toUpperCase(), `sha256-${'A'.repeat(64)}`, `${HELLO}0`, HELLO.slice(0, -1), ` ${HELLO}`, `${HELLO}\n`, null, 7]) {
    assert.equal(isBlobId(bad), false, String(bad));
    assert.throws(() => parseBlobId(bad), isCode('bad_request'), String(bad));
  }
  // A huge string is refused without echoing all of it.
  assert.throws(() => parseBlobId('x'.repeat(1_000_000)), (err: Error) => err.message.length < 300);
});

test('digests convert both ways', () => {
  const digest = digestOfBlobId(HELLO);
  assert.equal(digest.length, 32);
  assert.equal(blobIdFromDigest(digest), HELLO);
  assert.equal(idOf(bytes('hello world')), HELLO);
  assert.throws(() => blobIdFromDigest(new Uint8Array(31)), isCode('bad_request'));
});

test('CIDv1 raw base32, as IPFS prints them', () => {
  assert.equal(blobIdToCid(EMPTY), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  assert.equal(blobIdToCid(HELLO), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  assert.equal(blobIdFromCid('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'), HELLO);
  const cid = CID.parse(blobIdToCid(HELLO));
  assert.deepEqual([cid.version, cid.code, cid.multihash.code], [1, RAW_CODEC, 0x12]);
  // A dag-pb node's CID (v1, or v0 `Qm…`) names the blob of its bytes too.
  const pb = blobIdToCid(HELLO, DAG_PB_CODEC);
  assert.ok(pb.startsWith('bafybei'));
  assert.equal(blobIdFromCid(pb), HELLO);
  assert.equal(blobIdFromCid('QmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4'), HELLO);
  // Either spelling in, the canonical id out.
  assert.equal(toBlobId(HELLO), HELLO);
  assert.equal(toBlobId('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'), HELLO);
});

test('a CID in any multibase names the same blob: base32 upper, base16, base36, base58btc, base64', () => {
  const cid = CID.parse(blobIdToCid(HELLO));
  for (const base of [bases.base32upper, bases.base16, bases.base16upper, bases.base36, bases.base58btc, bases.base64, bases.base64url]) {
    const text = cid.toString(base.encoder);
    assert.equal(toBlobId(text), HELLO, text);
  }
  assert.throws(() => toBlobId('#nothing'), isCode('bad_request'));
});

test('CIDs that are not SHA-256, or not CIDs, are bad_request', () => {
  // identity multihash (code 0x00) and blake2b-256 CIDs
  const identity = 'bafkqaaa';
  assert.throws(() => blobIdFromCid(identity), isCode('bad_request'));
  assert.throws(() => blobIdFromCid('bafk2bzacea'), isCode('bad_request'));
  for (const bad of ['', 'hello', 'bafkrei', 'Qm123', HELLO.toUpperCase()]) {
    assert.throws(() => toBlobId(bad), isCode('bad_request'), bad);
  }
});
