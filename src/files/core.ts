// The portable face of files (Node and browsers): chunking, UnixFS import and export over any
// BlobStore, and reachability for gc. Folder snapshots and restores (Node only) are in index.ts.

export * from './chunker.ts';
export * from './blocks.ts';
export * from './block-writer.ts';
export * from './unixfs.ts';
export * from './export.ts';
export * from './reachable.ts';
