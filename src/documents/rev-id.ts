// Deterministic revision ids: `N-<md5 hex>` of (deleted, parent rev, canonical body, attachment
// names, types and digests), so identical edits on different nodes converge instead of conflicting.

import { md5Hex } from '#platform/md5';
import { canonicalJson } from './canonical-json.ts';
import { RefugeError } from '../errors/index.ts';
import { MAX_GENERATION, revGeneration, type Rev } from './rev-tree.ts';

export function computeRev(
  parent: Rev | null,
  deleted: boolean,
  body: Record<string, unknown>,
  attachmentDigests: readonly string[] = [],
): Rev {
  const gen = parent === null ? 1 : revGeneration(parent) + 1;
  if (gen > MAX_GENERATION) throw new RefugeError('bad_request', `revision generation past ${MAX_GENERATION}`);
  const digests = attachmentDigests.length ? [...attachmentDigests].sort().join(',') : '';
  const hash = md5Hex(`${deleted ? 1 : 0}\n${parent ?? ''}\n${canonicalJson(body)}\n${digests}`);
  return `${gen}-${hash}`;
}
