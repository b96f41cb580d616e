// `#blobs/staging` on Node: partial blobs are staged in a directory (BlobStaging).

import { BlobStaging } from './staging.ts';
import type { BlobStagingOptions, StagingArea } from './staging-area.ts';

export const stagingAvailable = true;

export function openStaging(options: BlobStagingOptions): Promise<StagingArea> {
  return BlobStaging.open(options);
}
