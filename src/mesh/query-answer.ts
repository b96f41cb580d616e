// What this node answers to a flooded query: Mango `find` over the databases the ASKER may read
// here, or whether it holds a blob — evaluated with the asker's grants, never the relay's.

import type { RefugeNode } from '../node/core.ts';
import { can, canReadBlobs, isTrusted } from './grants.ts';
import type { SignedQuery } from './query-protocol.ts';
import type { LocalAnswer } from './query-router.ts';
import type { TrustStore } from './trust-store.ts';
import { ALL_DBS } from './trust.ts';

/**
 * Answers travel back through the relays in clear (inside each hop's Noise channel): private data
 * (anything but public databases) is only answered when the first relay (`from`) is a peer this
 * node trusts, or is the asker itself. Public databases are answered to anyone who asks.
 */
/** No peer id: `can` for it is true exactly for public databases. */
const ANYONE = '';

export function localAnswerer(node: RefugeNode, trust: TrustStore) {
  return async (query: SignedQuery, from: string, signal: AbortSignal): Promise<LocalAnswer[]> => {
    const state = await trust.current();
    const viaTrusted = from === query.origin || isTrusted(state, from);
    const names = await node.allDbs();
    const q = query.question;
    if (q.kind === 'blob') {
      if (!viaTrusted || !canReadBlobs(state, query.origin, names)) return [];
      const [stat] = await node.blobs.stat([q.blob]);
      return stat ? [{ blob: { id: q.blob, size: stat.size } }] : [];
    }
    const wanted = q.db === ALL_DBS ? names : names.filter((n) => n === q.db);
    const out: LocalAnswer[] = [];
    let left = query.limit;
    for (const name of wanted) {
      if (signal.aborted || left <= 0) break;
      if (!can(state, query.origin, 'read', name)) continue;
      // A grant to the asker is not a grant to an untrusted relay: only public data goes through one.
      if (!viaTrusted && !can(state, ANYONE, 'read', name)) continue;
      const lease = await node.lease(name);
      let docs;
      try {
        ({ docs } = await lease.db.find({ selector: q.selector, limit: left }));
      } finally {
        lease.release();
      }
      if (docs.length === 0) continue;
      out.push({ db: name, docs });
      left -= docs.length;
    }
    return out;
  };
}
