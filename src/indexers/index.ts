// Indexers: derived indexes fed from a database's changes feed, each tracking its own indexed
// sequence (views, Mango json indexes and full-text search implement `Indexer`).
export type { Indexer, IndexerChange, UpdateMode } from './types.ts';
export { IndexFeeder, updateMode, type FeederOptions } from './feeder.ts';
export { IndexHolds, type Holdable } from './holds.ts';
