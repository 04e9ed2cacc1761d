// The run loop: picks the next thread, runs it until it traps in a way that ends its turn, and
// accounts for what it used; idles the clock forward to the next timeout when nothing is ready.
//
// Time slices: the interval timer is armed with the rest of the thread's slice (or the cycle
// limit, or the next device interrupt a device has scheduled, whichever comes first). A thread
// whose slice runs out goes to the tail of its priority's queue with a fresh slice, and the
// partner it woke by IPC loses its hand-off, so two threads calling each other cannot starve the
// rest of their priority. Device interrupts are taken whenever the CPU samples its interrupt
// line: between a thread's steps, and before each dispatch; a handler of higher priority than
// the running thread then runs at once. The trap handlers here are what ia32/trap-entry.ts calls
// for each trap of a program thread.

import type { HardwareInterface } from '../../emulator/hardware.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { Thread } from '../generic/thread.ts';
import type { Timeouts } from '../generic/timeouts.ts';
import { formatId, type Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { describe, runProgram, type TrapHandlers } from '../ia32/trap-entry.ts';
import { ExceptionNumber, NILTHREAD } from '../../libl4/abi.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { ResumeKind, type Exceptions } from './exceptions.ts';
import type { Interrupts } from './interrupts.ts';
import type { Ipc } from './ipc.ts';
import type { PageFaults } from './page-faults.ts';
import type { StringTransfers } from './string-transfer.ts';
import { handleSyscall, type SystemCallParts } from './syscalls.ts';
import type { ThreadLifecycle } from './threads.ts';

export interface RunResult {
  /** Why the run stopped: nothing left to run, the cycle limit, a shutdown, or stop(). */
  readonly reason: 'idle' | 'max-cycles' | 'shutdown' | 'stopped';
  readonly cycles: number;
  /** The status a privileged thread shut the machine down with (null unless shut down). */
  readonly exitStatus: number | null;
}

export interface DispatchParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  readonly scheduler: Scheduler;
  readonly timeouts: Timeouts;
  readonly spaces: AddressSpaces;
  readonly ipc: Ipc;
  readonly faults: PageFaults;
  readonly exceptions: Exceptions;
  readonly interrupts: Interrupts;
  readonly strings: StringTransfers;
  readonly lifecycle: ThreadLifecycle;
  readonly syscalls: SystemCallParts;
}

export class Dispatcher implements TrapHandlers {
  /** Set by a privileged thread's shutdown. */
  exitStatus: number | null = null;

  private readonly parts: DispatchParts;
  private readonly hw: HardwareInterface;
  private readonly scheduler: Scheduler;
  private stopRequested = false;
  /** The thread that ran last (a context switch is counted when another one runs). */
  private lastRun: Thread | null = null;
  /** Its global id, kept after it is deleted, for the trace of the next switch (nil before any ran). */
  private lastRunId = NILTHREAD;
  /** Where the running thread's turn ends: the end of its slice or the cycle limit. */
  private turnEnd = Infinity;

  constructor(parts: DispatchParts) {
    this.parts = parts;
    this.hw = parts.hw;
    this.scheduler = parts.scheduler;
  }

  /** Asks run() to return after the current trap. */
  stop(): void {
    this.stopRequested = true;
  }

  run(options: { maxCycles?: number } = {}): RunResult {
    const limit = options.maxCycles ?? Infinity;
    const cpu = this.hw.cpu;
    const timeouts = this.parts.timeouts;
    const controller = this.hw.interrupts;
    this.stopRequested = false;
    for (;;) {
      const now = cpu.cycles;
      if (this.exitStatus !== null) return { reason: 'shutdown', cycles: now, exitStatus: this.exitStatus };
      if (this.stopRequested) return { reason: 'stopped', cycles: now, exitStatus: null };
      if (now >= limit) return { reason: 'max-cycles', cycles: now, exitStatus: null };
      if (!timeouts.empty) this.parts.ipc.expireTimeouts(now);
      const strings = this.parts.strings;
      if (strings.nextDeadline <= now) strings.expire(now);
      this.parts.interrupts.deliver(now);
      const thread = this.scheduler.takeNext();
      if (!thread) {
        const raise = controller.nextRaise;
        const transfers = strings.nextDeadline;
        if (timeouts.empty && raise === Infinity && transfers === Infinity) return { reason: 'idle', cycles: now, exitStatus: null };
        // Idle until the next timeout, transfer timeout or device interrupt (or the cycle limit).
        const until = Math.min(timeouts.next, transfers, raise, limit);
        if (until > now) {
          cpu.charge(until - now);
          this.parts.counters.idleCycles += until - now;
        }
        continue;
      }
      this.dispatch(thread, limit);
    }
  }

  private dispatch(thread: Thread, limit: number): void {
    const cpu = this.hw.cpu;
    if (this.lastRun !== thread) {
      this.parts.counters.contextSwitches++;
      cpu.charge(this.parts.costs.contextSwitch);
      // The event names the thread switched from; its text, the thread switched to.
      if (this.parts.tracer.enabled) this.parts.tracer.emit('switch', this.lastRunId, `to ${formatId(thread.id)}`);
    }
    if (((cpu.cr3 & ~0xfff) >>> 0) !== thread.space.pageDirectory) cpu.cr3 = thread.space.pageDirectory;
    this.scheduler.current = thread;
    this.lastRun = thread;
    this.lastRunId = thread.id;
    const start = cpu.cycles;
    this.turnEnd = Math.min(start + Math.max(1, thread.remaining), limit);
    this.hw.timer.arm(Math.min(this.turnEnd, this.hw.interrupts.nextRaise));
    // A string copy that goes on in this thread's context comes first.
    if (thread.transfer !== null && thread.transfer.runner === thread && thread.fault === null) this.parts.strings.resume(thread);
    runProgram(thread, this.hw, this.scheduler, this, this.parts.tracer.stepObserver);
    this.hw.timer.disarm();
    this.scheduler.current = null;
    const used = cpu.cycles - start;
    thread.cycles += used;
    thread.space.cycles += used;
    if (!thread.alive) return;
    thread.remaining -= used;
    if (thread.remaining <= 0) {
      thread.remaining = thread.timeslice;
      // Its slice is used up: the partner it woke waits its turn in the queue, so a pair of
      // threads handing the processor to each other cannot starve their priority level.
      this.scheduler.handoff = null;
    }
    // Still runnable (preempted, yielded, or making way for a higher priority): back in the queue.
    if (thread.runnable) this.scheduler.makeReady(thread);
  }

  // ---- Trap handlers ----------------------------------------------------------------------------

  systemCall(thread: Thread): boolean {
    this.parts.counters.syscalls++;
    handleSyscall(this.parts.syscalls, thread);
    const scheduler = this.scheduler;
    if (scheduler.handoff || this.stopRequested || scheduler.yielding) {
      scheduler.yielding = false;
      return false;
    }
    // A higher-priority thread made ready by this call runs first.
    return scheduler.highestReady() <= thread.priority;
  }

  pageFault(thread: Thread): void {
    this.parts.faults.pageFault(thread);
  }

  /**
   * The interrupt line: device interrupts are delivered; then, at the end of the turn, the
   * time-slice interrupt (entry and IRET charged, the slice used up) ends it. Before that the
   * thread runs on, unless a handler of higher priority was woken.
   */
  interrupt(thread: Thread): boolean {
    const { hw, counters } = this.parts;
    const now = hw.cpu.cycles;
    this.parts.interrupts.deliver(now);
    if (now < this.turnEnd) {
      hw.timer.arm(Math.min(this.turnEnd, hw.interrupts.nextRaise));
      return this.scheduler.highestReady() <= thread.priority && thread.runnable;
    }
    counters.timerInterrupts++;
    counters.exceptions++;
    hw.timer.interrupts++;
    hw.cpu.charge(hw.profile.costs.exceptionEntry + hw.profile.costs.exceptionReturn);
    thread.remaining = 0;
    return false;
  }

  print(thread: Thread): void {
    this.hw.console.write(thread.trapText);
  }

  tracePoint(thread: Thread): void {
    const tracer = this.parts.tracer;
    if (tracer.enabled) tracer.emit('user', thread.id, thread.trapText);
  }

  shutdown(thread: Thread): void {
    if (!this.parts.spaces.isPrivileged(thread.space)) {
      this.parts.exceptions.raise(thread, ExceptionNumber.GeneralProtection, 0, ResumeKind.Continue, 'shutdown refused: not a privileged thread');
      return;
    }
    this.exitStatus = thread.trapNumber;
  }

  programRaised(thread: Thread, error: unknown): void {
    // The generator has ended: only a new start can run the thread again.
    thread.program = null;
    this.parts.exceptions.raise(thread, ExceptionNumber.HostException, 0, ResumeKind.Restart, `program raised ${describe(error)}`);
  }

  invalidTrap(thread: Thread): void {
    this.parts.exceptions.raise(thread, ExceptionNumber.InvalidOpcode, 0, ResumeKind.Continue, 'program yielded outside the environment');
  }

  programReturned(thread: Thread): void {
    // The body returned: the thread stops, quietly (it may still be deleted or restarted).
    thread.program = null;
    thread.halted = true;
    this.parts.tracer.emit('halt', thread.id, 'program returned');
  }
}
