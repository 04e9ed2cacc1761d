// Helpers for the test programs: talking to one other task by calls, sleeping, and catching a
// server's refusal as its POSIX name.
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { readTcr } from '../../../libl4/registers.ts';
import { receive } from '../../../libl4/syscalls.ts';
import { timeout } from '../../../libl4/timeout.ts';
import { ServerError } from '../../../servers/errno.ts';

export { answer, ask, next } from '../../../servers/demo/messages.ts';
export { seededRandom } from '../../../libhurd-mm/policies.ts';

/** Waits `us` microseconds of emulated time. */
export function* sleep(env: ProgramEnv, us: number): Op<void> {
  const self = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  yield* receive(env, self, timeout(us));
}

/** Runs `op`; resolves to 'ok' or the POSIX name of the refusal it threw. */
export function* refusal(op: Op<unknown>): Op<string> {
  try {
    yield* op;
    return 'ok';
  } catch (error) {
    if (error instanceof ServerError) return error.code;
    throw error;
  }
}

export function hex(n: number): string {
  return (n >>> 0).toString(16);
}
