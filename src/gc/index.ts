// Garbage collection of blobs: pins, blob ages for the grace period, and the mark-and-sweep itself.

export * from './gc.ts';
export * from './pins.ts';
export { FsPinStore } from './pins-file.ts';
export * from './ages.ts';
export * from './holds.ts';
