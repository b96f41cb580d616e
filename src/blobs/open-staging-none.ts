// `#blobs/staging` where there is no filesystem (browsers): an area that holds nothing, so a cut
// transfer starts over instead of continuing (mesh transfers stage nothing when `stagingAvailable`
// is false, and only ever find nothing staged).

import { RefugeError } from '../errors/index.ts';
import type { AppendResult, BlobStagingOptions, StagedInfo, StagingArea } from './staging-area.ts';
import type { PutResult } from './types.ts';

export const stagingAvailable = false;

const refuse = (): Promise<never> => Promise.reject(new RefugeError('not_implemented', 'staging partial blobs needs a filesystem, which this platform lacks'));

class NoStaging implements StagingArea {
  async find(): Promise<StagedInfo | null> {
    return null;
  }
  async list(): Promise<StagedInfo[]> {
    return [];
  }
  info(): Promise<StagedInfo> {
    return refuse();
  }
  create(): Promise<StagedInfo> {
    return refuse();
  }
  append(): Promise<AppendResult> {
    return refuse();
  }
  finish(): Promise<PutResult> {
    return refuse();
  }
  async discard(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {}
}

export async function openStaging(_options: BlobStagingOptions): Promise<StagingArea> {
  return new NoStaging();
}
