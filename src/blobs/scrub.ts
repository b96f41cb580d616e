// Scrubbing by verification: walk a store's listing page by page and verify every blob, the loop
// shared by backends that verify by reading (the local ones through BaseBlobStore, and HTTP).

import type { BlobId } from './id.ts';
import type { BlobStore, ScrubOptions, ScrubReport } from './types.ts';

export async function scrubByVerifying(store: Pick<BlobStore, 'list' | 'verify'>, options: ScrubOptions = {}): Promise<ScrubReport> {
  const report: ScrubReport = { checked: 0, bytes: 0, corrupt: [] };
  let after: BlobId | undefined;
  do {
    options.signal?.throwIfAborted();
    const page = await store.list(after === undefined ? {} : { after });
    for (const id of page.ids) {
      options.signal?.throwIfAborted();
      const result = await store.verify(id, options.signal ? { signal: options.signal } : {});
      if (result.status === 'missing') continue; // deleted while we walked
      report.checked++;
      report.bytes += result.size ?? 0;
      if (result.status === 'corrupt') report.corrupt.push(id);
      options.onProgress?.({ checked: report.checked, bytes: report.bytes, corrupt: report.corrupt.length, last: result });
    }
    after = page.next;
  } while (after !== undefined);
  return report;
}
