// The node: a data directory holding many databases, opened on the default engine (LevelDB) —
// what `refuge start` serves and what an embedding application opens with `openNode()`.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_DATA_DIR, resolveEngine, type OpenOptions } from '../index.ts';
import type { Durability } from '../documents/index.ts';
import { RefugeNode } from './refuge-node.ts';

export { RefugeNode, type NodeOptions } from './refuge-node.ts';

export interface OpenNodeOptions {
  dataDir?: string;
  engine?: OpenOptions['engine'];
  durability?: Durability;
}

export async function openNode(options: OpenNodeOptions = {}): Promise<RefugeNode> {
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const engine = resolveEngine(options.engine);
  if (engine.name === 'leveldb') await mkdir(join(dataDir, 'dbs'), { recursive: true });
  return RefugeNode.open({
    engine,
    durability: options.durability,
    catalogLocation: join(dataDir, 'catalog'),
    locationOf: (name) => join(dataDir, 'dbs', encodeURIComponent(name)),
  });
}
