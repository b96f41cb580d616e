// Files, folders and snapshots: the portable core plus the Node-only folder scan, snapshot and restore.

export * from './core.ts';
export { scanTree, type Scan, type ScanNode, type Skipped } from './fs-walk.ts';
export * from './snapshot.ts';
export type { PreviousSnapshot } from './previous.ts';
export * from './restore.ts';
