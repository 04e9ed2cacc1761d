// Requests of a task's threads to its own pager thread (index.ts sends them, pager.ts serves
// them). The threads of a task share its memory, and so the request itself: the caller leaves
// it where the pager finds it (the pager's inbox, under the caller's local id) and calls the
// pager with an empty message of label MM_REQUEST; the pager's empty reply says it is done, with
// the result or the error in the request. One call at a time per thread, so one slot each.

import type { Kind, Policy } from './types.ts';

export const MM_REQUEST = 0x5a01;

interface Outcome {
  result?: number;
  error?: unknown;
}

export type Request = Outcome &
  (
    | { readonly op: 'mmap'; readonly size: number; readonly rights: number; readonly kind: Kind; readonly policy: Policy | undefined; readonly address: number | undefined; readonly file?: number; readonly offset?: number }
    | { readonly op: 'munmap'; readonly address: number; readonly size: number }
    | { readonly op: 'mprotect'; readonly address: number; readonly size: number; readonly rights: number }
    | { readonly op: 'madvise'; readonly address: number; readonly size: number; readonly advice: string }
  );
