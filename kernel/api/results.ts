// The result word of the non-IPC system calls: 1 for success, 0 for failure with the reason in
// the caller's ErrorCode TCR (X.2 error codes: libl4/abi.ts ErrorCode).

import type { Thread } from '../generic/thread.ts';
import type { Utcbs } from '../ia32/utcb.ts';

export const OK = 1;
export const FAILED = 0;

/** Answers an error: sets the caller's ErrorCode and returns the failure word. */
export function fail(utcbs: Utcbs, thread: Thread, code: number): number {
  utcbs.setError(thread, code);
  return FAILED;
}
