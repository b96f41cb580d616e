// The memory engine (memory-level) against the shared storage conformance suite.

import { memoryEngine } from '../../src/storage/index.ts';
import { runStorageConformance } from './conformance.ts';

let n = 0;
runStorageConformance('memory', () => memoryEngine, async () => `memory-${n++}`, { persistent: false });
