// Documents: the embeddable CouchDB-compatible database (revision trees, changes, local docs,
// compaction, path index and Mango find). Portable: storage comes in through a StorageEngine.

export { Database, type OpenDatabaseOptions } from './database.ts';
export type { DropWatcher } from './database-base.ts';
export * from './types.ts';
export { LOCAL_ADMIN, isDbAdmin, securityNames, type DesignHooks, type FilterRequest, type UserCtx, type WriteContext } from './hooks.ts';
export type { FindRequest } from './find.ts';
export { FindPager, collectFind, type FindEnd, type FindListing, type FindResult } from './find-pager.ts';
export type { PathQuery, PathQueryRow } from './path-query.ts';
export type { PurgeResult } from './purge.ts';
export type { CompactionTask } from './compaction.ts';
export { nonNegative, parseFindOptions } from './find.ts';
export { findWarnings } from './find-warnings.ts';
export { compareIndexPlaces, encodeBookmark, placeAnchor, sortAnchor, type Bookmark, type IndexPlace } from './find-bookmark.ts';
export { explainMrargs, explainOpts, explainSelector, readsStale, type ExplainRequest } from './explain.ts';
export {
  isValidRev,
  mergePath,
  parseRev,
  revGeneration,
  type Rev,
  type RevNode,
  type RevTree,
} from './rev-tree.ts';
export { compareLeaves, conflicts, leaves, winner } from './rev-leaves.ts';
export { stem } from './rev-stemming.ts';
export { computeRev } from './rev-id.ts';
export { AttachmentBytes, readAttachmentBytes, servedContentType } from './attachments.ts';
export { attsSinceGeneration } from './attachment-edits.ts';
export { canonicalJson } from './canonical-json.ts';
export { HASHED_LENGTH, checkDoc, checkOpenOptions, isSystemDbName, isWellFormedUtf16, splitDoc, validateDbName, validateDocId } from './validate.ts';
export { validateLocalDoc } from './local-docs.ts';
export { IdGenerator, randomUuid } from './ids.ts';
export { CommitSignal, liveChanges, type FeedSource } from './subscription.ts';
export { changeRowJson, sinceHere } from './changes.ts';
export type { AllDocsListing, ChangesListing, Listing } from './listings.ts';
