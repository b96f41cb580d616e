// The serving side of `/refuge/blobs/1.0.0`: `have`, `get` (from an offset when a peer continues a
// cut fetch), and `put` / `staged` from peers pushing blobs, whose large ones are staged as they
// arrive so that a cut push continues where it stopped; nothing is stored before it is verified.

import '#mesh/node20-shim';
import type { Connection, Stream } from '@libp2p/interface';
import type { BlobId, BlobRead } from '../blobs/core.ts';
import { RefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/core.ts';
import type { BlobTransfers } from './blob-resume.ts';
import { WAIT_MS, checkRequest, framed, framesOf, writeFrames, type Lp } from './blob-wire.ts';
import { canReadBlobs, canWriteBlobs } from './grants.ts';
import type { RefReach } from './ref-reach.ts';
import type { TrustStore } from './trust-store.ts';
import { decodeJson, encodeJson, errorAnswer } from './wire.ts';

export interface BlobServing {
  trust: TrustStore;
  node: RefugeNode | undefined;
  reach: RefReach | undefined;
  transfers: BlobTransfers;
  maxPutBytes: number;
}

/** Thrown once the stream is cut: nobody is left to answer. */
class Cut extends Error {}

/**
 * Serves this node's blobs to trusted peers holding some read grant (see canReadBlobs), and to any
 * peer the blobs of the trees of refs it may read (public refs to strangers); takes blobs from
 * peers that may write a database here.
 */
export function blobHandler(ctx: BlobServing): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const peer = connection.remotePeer.toString();
    const lp = framed(stream);
    try {
      const answered = { yes: false };
      let pushing = false;
      try {
        const req = checkRequest(decodeJson(await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })));
        pushing = req.op === 'put';
        const node = ctx.node;
        if (!node) throw new RefugeError('not_found', 'this node serves no blobs');
        const state = await ctx.trust.current();
        if (req.op === 'put' || req.op === 'staged') {
          // Blobs come only from peers that may write a database here (their documents will need them).
          if (!canWriteBlobs(state, peer, await node.allDbs())) throw new RefugeError('forbidden', `peer ${peer} may not store blobs here`);
          if (req.size > ctx.maxPutBytes) throw new RefugeError('too_large', `blob ${req.id} is ${req.size} bytes, more than ${ctx.maxPutBytes}`);
          // A failure (bytes that are not the blob) is answered: the sender reads the answer after its data.
          const result = await ctx.transfers.exclusive<object>(req.id, () => (req.op === 'put' ? receive(ctx, node, req, lp, peer) : staged(ctx, node, req)));
          await lp.write(encodeJson({ ok: true, result }));
          await stream.close();
          return;
        }
        const dbs = await node.allDbs();
        // Which blobs are here: readers, and writers about to push (to send only what is missing);
        // anyone else only of blobs in the tree of a ref it may read (a public ref's, for strangers).
        const asked = req.op === 'have' ? req.ids : [req.id];
        const reader = canReadBlobs(state, peer, dbs) || (req.op === 'have' && canWriteBlobs(state, peer, dbs));
        if (!reader && !(await ctx.reach!.allows(state, peer, asked))) {
          throw new RefugeError('forbidden', `peer ${peer} may not ${req.op === 'have' ? 'ask for' : 'read'} blobs here`);
        }
        if (req.op === 'have') await lp.write(encodeJson({ ok: true, result: await node.blobs.stat(req.ids) }));
        else await send(node, req.id, req.offset ?? 0, lp, answered);
      } catch (err) {
        // Once bytes flow, a failure (a corrupt local copy) can only cut the stream: the reader refuses it.
        if (answered.yes || err instanceof Cut) throw err;
        await lp.write(encodeJson(errorAnswer(err)));
        // A refused put's data may still be coming, into a stream paused for want of a reader: the
        // reset stops the sender's writes, and it reads the answer that went before it.
        if (pushing) {
          stream.abort(new Error('the put was refused'));
          return;
        }
      }
      await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

/**
 * A `get`: the size and the offset the bytes start at, then the bytes. A whole read is verified as
 * it streams; a ranged one may not be (large blobs), which the fetching side's own check covers.
 */
async function send(node: RefugeNode, id: BlobId, offset: number, lp: Lp, answered: { yes: boolean }): Promise<void> {
  let read: BlobRead | undefined;
  let size: number;
  if (offset === 0) {
    read = await node.blobs.get(id);
    size = read.size;
  } else {
    const [stat] = await node.blobs.stat([id]);
    if (!stat) throw new RefugeError('not_found', `blob ${id} not found`);
    size = stat.size;
    if (offset > size) throw new RefugeError('bad_request', `offset ${offset} is past the ${size} bytes of blob ${id}`);
    if (offset < size) read = await node.blobs.get(id, { start: offset });
  }
  answered.yes = true;
  await lp.write(encodeJson({ ok: true, result: { size, offset } }));
  await writeFrames(lp, read);
}

/** Bytes of a pushed blob this node kept from a cut push (0 when none, or kept for another size). */
async function staged(ctx: BlobServing, node: RefugeNode, req: { id: BlobId; size: number }): Promise<{ offset: number; stored: boolean }> {
  if (await node.blobs.has(req.id)) return { offset: 0, stored: true };
  if (req.size < ctx.transfers.minBytes) return { offset: 0, stored: false };
  const info = await (await ctx.transfers.area()).find(req.id);
  return { offset: info && info.meta.size === req.size ? info.offset : 0, stored: false };
}

/**
 * A `put`: small blobs go straight into the store; large ones are staged as they arrive (kept when
 * the stream is cut), then verified whole into the store. A put at an offset continues what is
 * staged, which must be exactly that many bytes of a blob of that size (conflict otherwise).
 */
async function receive(ctx: BlobServing, node: RefugeNode, req: { id: BlobId; size: number; offset?: number }, lp: Lp, peer: string): Promise<{ created: boolean }> {
  const offset = req.offset ?? 0;
  const who = `peer ${peer}`;
  const direct = async () => ({ created: (await node.blobs.put(framesOf(lp, req.size, who, req.id), { expectedId: req.id, maxSize: req.size })).created });
  if (offset === 0 && req.size < ctx.transfers.minBytes) return direct();
  const area = await ctx.transfers.area();
  const info = await area.find(req.id);
  if (offset > 0 && (info?.offset !== offset || info.meta.size !== req.size)) {
    throw new RefugeError('conflict', `${offset} bytes of a ${req.size}-byte blob ${req.id} are not staged here (${info?.offset ?? 0} are)`);
  }
  if (offset === 0) {
    if (info) await area.discard(req.id);
    if (!(await ctx.transfers.stage(req.id, req.size, peer))) return direct();
  }
  let appended;
  try {
    appended = await area.append(req.id, offset, framesOf(lp, req.size - offset, who, req.id));
  } catch (err) {
    await area.discard(req.id); // more bytes than announced: what is staged is not that blob
    throw err;
  }
  if (appended.aborted) throw new Cut(`the push of ${req.id} was cut at byte ${appended.offset}`, { cause: appended.cause });
  return { created: (await area.finish(req.id, node.blobs, { expectedId: req.id, discardOnMismatch: true })).created };
}
