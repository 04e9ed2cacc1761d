// Helpers for the test programs: talking to one other task by calls, sleeping, and catching a
// server's refusal as its POSIX name.
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { loadMessage, readTcr, storeMessage } from '../../../libl4/registers.ts';
import { call, receive, reply, wait } from '../../../libl4/syscalls.ts';
import { timeout } from '../../../libl4/timeout.ts';
import { ServerError } from '../../../servers/errno.ts';

/** Calls `to` with `words` (label 1); resolves to the reply's words. */
export function* ask(env: ProgramEnv, to: number, words: readonly number[]): Op<number[]> {
  yield* loadMessage(env, { label: 1, words });
  const result = yield* call(env, to);
  if (result.tag.error) throw new Error(`call to ${to >>> 14}.${to & 0x3fff} failed (${result.errorCode})`);
  return (yield* storeMessage(env, result.tag)).words;
}

/** Waits for the next message; resolves to its sender and words. */
export function* next(env: ProgramEnv): Op<{ from: number; label: number; words: number[] }> {
  for (;;) {
    const result = yield* wait(env);
    if (result.tag.error) continue;
    const { words } = yield* storeMessage(env, result.tag);
    return { from: result.from, label: result.tag.label, words };
  }
}

/** Answers a caller that is waiting for its reply. */
export function* answer(env: ProgramEnv, to: number, words: readonly number[]): Op<void> {
  yield* loadMessage(env, { label: 0, words });
  yield* reply(env, to);
}

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

/** A seeded pseudo-random generator (mulberry32): an integer in [0, n) per call. */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}
