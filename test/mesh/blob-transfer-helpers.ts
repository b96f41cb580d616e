// Helpers for the resumable blob transfer tests: a pair of mesh nodes with grants, a blob of several
// data frames and where its first transfer is cut, counts of the bytes a store serves, cut transfers.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { BlobId, BlobRead, BlobStaging, BlobStore, GetOptions } from '../../src/blobs/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { addPeer, BLOB_PROTOCOL, setGrant, type BlobResumeOptions } from '../../src/mesh/index.ts';
import { idOf, randomBytesOf } from '../blobs/helpers.ts';
import { startPeerNode, type PeerNode } from './helpers.ts';

type Scope = { after: (fn: () => Promise<void>) => void };

export const code = (c: string) => (err: unknown) => isRefugeError(err) && err.code === c;
export const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
export const FRAME = 256 * 1024;
export const KiB = 1024;

/** A blob of several data frames, and where the first transfer of it is cut: inside the third frame. */
export const data = randomBytesOf(1536 * KiB + 77);
export const id = idOf(data);
export const CUT = 600 * KiB;

export async function pair(t: Scope, resume: BlobResumeOptions = {}): Promise<[PeerNode, PeerNode]> {
  const owner = await startPeerNode({ blobResume: { minBytes: 64 * KiB, ...resume } });
  const other = await startPeerNode({ blobResume: { minBytes: 64 * KiB, ...resume } });
  t.after(async () => {
    await other.close();
    await owner.close();
  });
  await other.mesh.connect(owner.mesh.invite());
  return [owner, other];
}

/** `reader` may read `owner`'s blobs; `owner` holds the blob. */
export async function readable(t: Scope, resume?: BlobResumeOptions): Promise<[PeerNode, PeerNode]> {
  const [owner, reader] = await pair(t, resume);
  await owner.node.createDb('notes');
  await owner.trust.update((s) => setGrant(addPeer(s, { id: reader.mesh.peerId }), 'notes', 'read', `peer:${reader.mesh.peerId}`, true));
  await owner.node.blobs.put(data);
  return [owner, reader];
}

/** Records every read of `store` (where it starts, how many bytes it delivered): the bytes served. */
export function countReads(store: BlobStore): Array<{ start: number; bytes: number }> {
  const reads: Array<{ start: number; bytes: number }> = [];
  const get = store.get.bind(store);
  store.get = async (blob: BlobId, options?: GetOptions): Promise<BlobRead> => {
    const read = await get(blob, options);
    const row = { start: read.start, bytes: 0 };
    reads.push(row);
    return {
      id: read.id,
      size: read.size,
      start: read.start,
      end: read.end,
      verified: read.verified,
      async *[Symbol.asyncIterator]() {
        for await (const chunk of read) {
          row.bytes += chunk.length;
          yield chunk;
        }
      },
    };
  };
  return reads;
}

/** What a `get` asked for, as the serving side read it. */
export async function readRequest(stream: Stream): Promise<{ lp: ReturnType<typeof lpStream>; req: { offset?: number } }> {
  const lp = lpStream(stream);
  return { lp, req: JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { offset?: number } };
}

/**
 * Serves the first `get` with the blob's first CUT bytes and hangs up (no end frame), after putting
 * `next` in its place: the retry meets `next`.
 */
export async function cutThenServe(owner: PeerNode, next: (stream: Stream, connection: Connection) => Promise<void>, asked: Array<number | undefined>): Promise<void> {
  await owner.mesh.handle(BLOB_PROTOCOL, async (stream) => {
    const { lp, req } = await readRequest(stream);
    asked.push(req.offset);
    await lp.write(json({ ok: true, result: { size: data.length, offset: 0 } }));
    for (let at = 0; at < CUT; at += FRAME) await lp.write(data.subarray(at, Math.min(at + FRAME, CUT)));
    await owner.mesh.handle(BLOB_PROTOCOL, next);
    await stream.close();
  });
}

export async function noLeftovers(peer: PeerNode): Promise<void> {
  assert.equal(await peer.mesh.blobs.partial(id), 0);
  assert.deepEqual(await readdir(((await peer.mesh.blobs.staging()) as BlobStaging).dir), []);
}

/** `receiver` lets `sender` write blobs; `sender` holds the blob. */
export async function writable(t: Scope): Promise<[PeerNode, PeerNode]> {
  const [receiver, sender] = await pair(t);
  await receiver.node.createDb('notes');
  await receiver.trust.update((s) => setGrant(addPeer(s, { id: sender.mesh.peerId }), 'notes', 'write', `peer:${sender.mesh.peerId}`, true));
  await sender.node.blobs.put(data);
  return [receiver, sender];
}

/** A push that breaks off after CUT bytes (the sender hangs up without the end frame). */
export async function cutPush(receiver: PeerNode, sender: PeerNode): Promise<void> {
  // On Node the area is a BlobStaging, which tells of each append.
  const staging = (await receiver.mesh.blobs.staging()) as BlobStaging;
  const kept = once(staging, 'appended');
  const stream = await sender.mesh.openStream(receiver.mesh.peerId, BLOB_PROTOCOL);
  const lp = lpStream(stream);
  await lp.write(json({ op: 'put', id, size: data.length }));
  for (let at = 0; at < CUT; at += FRAME) await lp.write(data.subarray(at, Math.min(at + FRAME, CUT)));
  await stream.close();
  assert.equal(((await kept) as [string, { offset: number; aborted: boolean }])[1].offset, CUT);
  assert.equal(await receiver.node.blobs.has(id), false, 'nothing stored from a cut push');
  assert.equal(await receiver.mesh.blobs.partial(id), CUT);
}
