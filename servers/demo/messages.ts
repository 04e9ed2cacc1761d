// Plain messages between two programs, for demos and test programs that talk to one another
// without a protocol of their own: a call with label 1 and its reply's words, waiting for the
// next message, and answering a caller. Servers with a protocol use rpc.ts and server-loop.ts.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { loadMessage, storeMessage } from '../../libl4/registers.ts';
import { call, reply, wait } from '../../libl4/syscalls.ts';

/** Calls `to` with `words` (label 1); resolves to the reply's words. */
export function* ask(env: ProgramEnv, to: number, words: readonly number[]): Op<number[]> {
  yield* loadMessage(env, { label: 1, words });
  const result = yield* call(env, to);
  if (result.tag.error) throw new Error(`call to ${to >>> 14}.${to & 0x3fff} failed (${result.errorCode})`);
  return (yield* storeMessage(env, result.tag)).words;
}

/** Waits for the next message; resolves to its sender, label and words. */
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
