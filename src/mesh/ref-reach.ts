// Blobs a peer may read because a ref it may read needs them: the trees under those refs' current
// roots, walked once per root and kept for the next request (a root's tree never changes). It is
// how a public ref serves its tree to peers this node does not trust, who may read no other blob.

import type { BlobId } from '../blobs/core.ts';
import { reachableBlobs } from '../files/core.ts';
import type { RefugeNode } from '../node/core.ts';
import { canRef } from './grants.ts';
import type { TrustState } from './trust.ts';

/** Trees kept: a node serves few refs, and each new value replaces its ref's old root. */
const KEPT_TREES = 16;

export class RefReach {
  private readonly trees = new Map<string, Promise<Set<BlobId>>>();

  constructor(private readonly node: RefugeNode) {}

  /** True when each of `ids` lies in the tree of some ref `peerId` may read under `state`. */
  async allows(state: TrustState, peerId: string, ids: readonly BlobId[]): Promise<boolean> {
    const left = new Set(ids);
    for (const name of await this.node.refs.list()) {
      if (left.size === 0) break;
      if (!canRef(state, peerId, 'read', name)) continue;
      const ref = await this.node.refs.get(name);
      if (!ref) continue;
      const tree = await this.tree(ref.root);
      for (const id of left) if (tree.has(id)) left.delete(id);
    }
    return left.size === 0;
  }

  private tree(root: string): Promise<Set<BlobId>> {
    let tree = this.trees.get(root);
    if (!tree) {
      // A tree that cannot be walked (a damaged block) allows nothing, and is walked again next time.
      tree = reachableBlobs(this.node.blobs, [root]).then(
        (r) => r.reachable,
        () => {
          this.trees.delete(root);
          return new Set<BlobId>();
        },
      );
      this.trees.set(root, tree);
      if (this.trees.size > KEPT_TREES) this.trees.delete(this.trees.keys().next().value!);
    }
    return tree;
  }
}
