// Trap entry for program threads: runs a thread's program (a generator) step by step until it
// traps in a way that ends its turn, and hands each trap to the kernel's handler for it.
//
// A step is one `next()` of the generator: the program runs until its environment yields one of
// the trap tags of program-env.ts (or until it returns or throws). This is the place where an
// IA-32 kernel's trap gates and its system-call entry would be; what the kernel then does is
// the handlers' business (api/dispatch.ts implements them), so this file knows no L4 semantics.

import type { HardwareInterface } from '../../emulator/hardware.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { Thread } from '../generic/thread.ts';
import { TRAP_FAULT, TRAP_PREEMPT, TRAP_PRINT, TRAP_SHUTDOWN, TRAP_SYSCALL, TRAP_TRACE } from './program-env.ts';

export interface TrapHandlers {
  /** A system call (number and arguments are in the thread). True: the thread runs on. */
  systemCall(thread: Thread): boolean;
  /** A page fault (address and error code are in the thread); the thread's turn ends. */
  pageFault(thread: Thread): void;
  /** The interrupt line was sampled asserted. True: the thread runs on. */
  interrupt(thread: Thread): boolean;
  /** Kernel-debugger output (the text is in the thread). */
  print(thread: Thread): void;
  /** A trace point (the text is in the thread). */
  tracePoint(thread: Thread): void;
  /** The shutdown request (the status is in the thread); the thread's turn ends. */
  shutdown(thread: Thread): void;
  /** The program's body raised a host exception (its generator has ended). */
  programRaised(thread: Thread, error: unknown): void;
  /** The program yielded something that is not one of the trap tags (an invalid instruction). */
  invalidTrap(thread: Thread): void;
  /** The program's body returned. */
  programReturned(thread: Thread): void;
}

/**
 * Runs `thread`'s program until it blocks, is preempted, or stops. `observe` (the debugger's, or
 * null) is told of each step before it runs.
 */
export function runProgram(thread: Thread, hw: HardwareInterface, scheduler: Scheduler, handlers: TrapHandlers, observe: ((thread: number) => void) | null): void {
  const cpu = hw.cpu;
  const timer = hw.timer;
  for (;;) {
    const program = thread.program;
    if (!program || !thread.runnable || scheduler.current !== thread) return;
    if (observe !== null) observe(thread.id);
    let done: boolean | undefined;
    let trap: unknown;
    try {
      const resume = thread.resume;
      thread.resume = undefined;
      const step = program.next(resume);
      // Read inside the try as well: a body that is not a generator function (any function
      // can be given a code address) may answer with a result whose getters throw.
      done = step.done;
      trap = step.value;
    } catch (error) {
      handlers.programRaised(thread, error);
      return;
    }
    if (done) {
      handlers.programReturned(thread);
      return;
    }
    switch (trap) {
      case TRAP_SYSCALL:
        if (!handlers.systemCall(thread)) return;
        break;
      case TRAP_FAULT:
        handlers.pageFault(thread);
        return;
      case TRAP_PREEMPT:
        if (timer.due(cpu.cycles) && !handlers.interrupt(thread)) return;
        break;
      case TRAP_PRINT:
        handlers.print(thread);
        break;
      case TRAP_TRACE:
        handlers.tracePoint(thread);
        break;
      case TRAP_SHUTDOWN:
        handlers.shutdown(thread);
        return;
      default:
        handlers.invalidTrap(thread);
        return;
    }
  }
}

/** A host exception as text. */
export function describe(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
    return String(error);
  } catch {
    // A program threw a value that cannot be turned into text (its toString throws).
    return 'an exception that cannot be shown';
  }
}
