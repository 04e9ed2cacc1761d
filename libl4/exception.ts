// Exception IPC from the handler's side: the message a thread's exception handler receives
// (label -5 << 4, 12 words in the IA-32 layout of abi.ts), taken apart, and the reply that sets
// the thread's registers and lets it go on (abi.ts says what the reply's IP means).

import { EXCEPTION_MESSAGE_WORDS, ExceptionMr, Label, TCR_EXCEPTION_HANDLER } from './abi.ts';
import type { Op, ProgramEnv } from './abi.ts';
import { msgTag } from './msg-tag.ts';
import type { MsgTag } from './msg-tag.ts';
import { writeTcr } from './registers.ts';
import type { ThreadId } from './thread-id.ts';

/** An exception message, taken apart. */
export interface ExceptionMessage {
  /** EIP: the thread's IP (a program thread's entry). */
  ip: number;
  flags: number;
  /** The exception number (abi.ts ExceptionNumber). */
  exception: number;
  errorCode: number;
  sp: number;
  /** EAX: for an invalid system call, its number. */
  eax: number;
}

/** Is `tag` an exception message (label -5 << 4 and the 12 words)? */
export function isExceptionMessage(tag: MsgTag): boolean {
  return tag.label === Label.Exception && tag.untyped === EXCEPTION_MESSAGE_WORDS && tag.typed === 0;
}

/** Takes apart MR1..MR12 of an exception message (`words[0]` is MR1). Never throws. */
export function decodeExceptionMessage(words: readonly number[]): ExceptionMessage {
  const mr = (i: number): number => (words[i - 1] ?? 0) >>> 0;
  return {
    ip: mr(ExceptionMr.Eip),
    flags: mr(ExceptionMr.Eflags),
    exception: mr(ExceptionMr.Exception),
    errorCode: mr(ExceptionMr.ErrorCode),
    sp: mr(ExceptionMr.Esp),
    eax: mr(ExceptionMr.Eax),
  };
}

/**
 * MR0..MR12 of a reply setting the thread's registers: load them (loadMRs) and reply. The same
 * IP lets the thread go on after the operation that raised the exception (an invalid system
 * call then returns [eax]); another IP starts it there with `sp`.
 */
export function exceptionReply(registers: { ip: number; sp: number; flags?: number; eax?: number }): number[] {
  const words = new Array<number>(EXCEPTION_MESSAGE_WORDS + 1).fill(0);
  words[0] = msgTag(0, EXCEPTION_MESSAGE_WORDS);
  words[ExceptionMr.Eip] = registers.ip >>> 0;
  words[ExceptionMr.Eflags] = (registers.flags ?? 0) >>> 0;
  words[ExceptionMr.Esp] = registers.sp >>> 0;
  words[ExceptionMr.Eax] = (registers.eax ?? 0) >>> 0;
  return words;
}

/** Sets the caller's ExceptionHandler TCR: where its exceptions are reported (nil: nowhere). */
export function* setExceptionHandler(env: ProgramEnv, handler: ThreadId): Op<void> {
  yield* writeTcr(env, TCR_EXCEPTION_HANDLER, handler);
}
