// The extra gc roots of a node: every database's attachment blob ids, once `Database` can list them
// (`Database.attachmentBlobIds()`: winners and every revision still stored).

import type { RefugeNode } from '../node/index.ts';

interface AttachmentLister {
  attachmentBlobIds?: () => AsyncIterable<string>;
}

export function nodeExtraRoots(node: RefugeNode): () => AsyncIterable<string> {
  return async function* () {
    for (const name of await node.allDbs()) {
      // Held one at a time: a node with many databases keeps only a few open (maxOpenDbs).
      const lease = await node.lease(name);
      try {
        const db = lease.db as unknown as AttachmentLister;
        if (typeof db.attachmentBlobIds === 'function') yield* db.attachmentBlobIds();
      } finally {
        lease.release();
      }
    }
  };
}
