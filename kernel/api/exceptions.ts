// Exception IPC: a program thread's exception reported to its exception handler (X.2, label
// -5 << 4, the IA-32 register layout of libl4/abi.ts), and what the handler's reply does.
//
// Exceptions of program threads (libl4/abi.ts ExceptionNumber): #UD when the program yields
// something that is not an operation of its environment, #GP for an invalid system call or a
// shutdown by an unprivileged thread, and the kernel's own number for a host exception raised by
// the body. The thread calls its handler as it calls its pager on a fault: MR0-MR12 are saved
// and restored around the IPC, so its message registers survive. Without a handler (the TCR is
// nil) the thread is halted and reported on the console, as a thread without a pager is.

import { hex32, type HardwareInterface } from '../../emulator/hardware.ts';
import { EXCEPTION_MESSAGE_WORDS, ExceptionMr, Label, NILTHREAD, TCR_EXCEPTION_HANDLER } from '../../libl4/abi.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { Thread, ExceptionInProgress } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { Ipc } from './ipc.ts';

/** How the thread goes on after the handler's reply with its IP unchanged. */
export const ResumeKind = {
  /** The operation that raised it returns (an invalid system call returns [EAX]). */
  Continue: 0,
  SystemCall: 1,
  /** The body is gone (a host exception): it starts afresh at the IP. */
  Restart: 2,
} as const;
export type ResumeKindValue = (typeof ResumeKind)[keyof typeof ResumeKind];

export interface ExceptionParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  readonly utcbs: Utcbs;
  readonly ipc: Ipc;
  readonly halt: (thread: Thread, reason: string) => void;
  readonly start: (thread: Thread, ip: number, sp: number) => void;
}

function formatThread(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}

export class Exceptions {
  private readonly parts: ExceptionParts;

  constructor(parts: ExceptionParts) {
    this.parts = parts;
  }

  /**
   * Reports exception `number` of `thread` to its exception handler, or halts the thread with
   * `reason` when it has none. `eax` is the EAX word of the message.
   */
  raise(thread: Thread, number: number, eax: number, resume: ResumeKindValue, reason: string, errorCode = 0): void {
    const { hw, costs, counters, tracer, utcbs } = this.parts;
    counters.exceptions++;
    hw.cpu.charge(hw.profile.costs.exceptionEntry + costs.faultPath);
    const handler = utcbs.readTcr(thread, TCR_EXCEPTION_HANDLER);
    if (tracer.enabled) tracer.emit('exception', thread.id, `${number} at ${hex32(thread.ip)}: ${reason}`);
    if (handler === NILTHREAD) {
      this.parts.halt(thread, reason);
      return;
    }
    counters.exceptionIpcs++;
    // The reason is in no register: the console says it, as the kernel debugger would, and the
    // handler decides what becomes of the thread.
    hw.console.write(`kernel: thread ${formatThread(thread.id)}: ${reason}; told its exception handler ${formatThread(handler)}\n`);
    const record = thread.exceptionRecord;
    for (let i = 0; i <= EXCEPTION_MESSAGE_WORDS; i++) record.saved[i] = utcbs.readMr(thread, i);
    record.number = number;
    record.ip = thread.ip;
    record.resume = resume;
    record.reason = reason;
    thread.exception = record;
    const words = [thread.ip, thread.flags, number, errorCode, 0, 0, 0, thread.sp, 0, 0, 0, eax];
    utcbs.writeMr(thread, 0, ((Label.Exception << 16) | EXCEPTION_MESSAGE_WORDS) >>> 0);
    for (let i = 0; i < EXCEPTION_MESSAGE_WORDS; i++) utcbs.writeMr(thread, i + 1, words[i]! >>> 0);
    this.parts.ipc.call(thread, handler);
  }

  /** The thread's exception IPC ended: take the reply's registers, restore the MRs, go on or halt. */
  exceptionDone(thread: Thread, error: number): void {
    const { hw, utcbs } = this.parts;
    const record: ExceptionInProgress = thread.exception!;
    thread.exception = null;
    const ip = utcbs.readMr(thread, ExceptionMr.Eip);
    const flags = utcbs.readMr(thread, ExceptionMr.Eflags);
    const sp = utcbs.readMr(thread, ExceptionMr.Esp);
    const eax = utcbs.readMr(thread, ExceptionMr.Eax);
    for (let i = 0; i <= EXCEPTION_MESSAGE_WORDS; i++) utcbs.writeMr(thread, i, record.saved[i]!);
    if (error !== 0) {
      this.parts.halt(thread, `${record.reason}; exception IPC to the handler failed (error ${error})`);
      return;
    }
    hw.cpu.charge(hw.profile.costs.exceptionReturn);
    thread.flags = flags;
    if (record.resume === ResumeKind.Restart || ip !== record.ip) {
      this.parts.start(thread, ip, sp);
      return;
    }
    thread.sp = sp;
    thread.resume = record.resume === ResumeKind.SystemCall ? [eax] : undefined;
  }
}
