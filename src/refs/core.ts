// The portable face of refs (Node and browsers): Ed25519 keys, signing and verifying refs, the
// RefStore interface with its memory implementation.

export * from './keys.ts';
export * from './ref.ts';
export * from './store.ts';
