// Signed refs and the node key: the portable part (keys, refs, memory store) plus the Node-only
// key file and filesystem ref store.

export * from './core.ts';
export { FsRefStore } from './fs-store.ts';
export { IDENTITY_FILE, loadOrCreateNodeKey, readNodeKey } from './key-file.ts';
