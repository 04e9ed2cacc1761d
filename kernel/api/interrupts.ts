// Interrupts as X.2 has them: every line of the interrupt controller is an interrupt thread (thread
// number = line, version 1, below the KIP's SystemBase), associated with a handler thread by
// ThreadControl(irq, irq, nil, handler, -1) and dissociated by naming the interrupt thread itself
// as the handler. A raised line is taken by the kernel (acknowledged and masked) and becomes IPC
// from the interrupt thread to the handler: label -1 << 4, no words. The handler's message to the
// interrupt thread (a reply, or the send phase of a reply-wait) acknowledges it and unmasks the
// line; a request raised meanwhile stays latched and is delivered then.
//
// An interrupt thread is a TCB without a program or UTCB that makes a call to its handler: if the
// handler waits for it (an open receive or a closed one naming it) it gets the message at once,
// otherwise the interrupt thread queues among the handler's senders, in arrival order. Lines
// pending at the same time are taken by the priority of their interrupt threads (Schedule sets
// it; higher first), then by line number. A handler woken by an interrupt runs at once if its
// priority is above the running thread's. Line 0 is the interval timer's, which the kernel keeps.

import { hex32, type HardwareInterface, type InterruptControllerPort } from '../../emulator/hardware.ts';
import { ErrorCode, NILTHREAD } from '../../libl4/abi.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import { Space, ThreadState, type Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { SYSTEM_BASE } from '../ia32/kip.ts';
import type { Ipc } from './ipc.ts';

/** The interval timer's line: never associated. */
const TIMER_LINE = 0;

export interface InterruptParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  readonly threads: ThreadTable;
  readonly ipc: Ipc;
  /** Makes a TCB (null when kernel memory is out). */
  readonly createThread: (id: number, space: Space, scheduler: number) => Thread | null;
  /** The space interrupt threads live in: the kernel's own (no user mappings). */
  readonly kernelDirectory: number;
}

export class Interrupts {
  private readonly parts: InterruptParts;
  private readonly controller: InterruptControllerPort;
  private readonly kernelSpace: Space;

  constructor(parts: InterruptParts) {
    this.parts = parts;
    this.controller = parts.hw.interrupts;
    if (this.controller.lines > SYSTEM_BASE) throw new RangeError(`${this.controller.lines} interrupt lines do not fit below SystemBase ${SYSTEM_BASE}`);
    this.kernelSpace = new Space(-2, parts.kernelDirectory);
  }

  /** Is `id` an interrupt thread's id (a thread number below SystemBase)? */
  static isInterruptId(id: number): boolean {
    return (id & 0x3f) !== 0 && id >>> 14 < SYSTEM_BASE;
  }

  /**
   * ThreadControl on an interrupt thread: associates it with `handler`, or dissociates it when
   * `handler` is the interrupt thread itself. 0 or an error code.
   */
  control(caller: Thread, irq: number, spaceSpecifier: number, handler: number): number {
    const line = irq >>> 14;
    if ((irq & 0x3fff) !== 1 || line >= this.controller.lines || line === TIMER_LINE) return ErrorCode.InvalidThread;
    if (spaceSpecifier !== irq) return ErrorCode.InvalidSpace;
    let thread = this.parts.threads.get(line);
    if (handler === irq) {
      if (thread) this.dissociate(thread);
      return 0;
    }
    const target = this.parts.threads.byId(handler);
    if (!target || target.interrupt || target.utcbPhysical < 0) return ErrorCode.InvalidThread;
    if (!thread) {
      const made = this.parts.createThread(irq, this.kernelSpace, caller.id);
      if (!made) return ErrorCode.NoMemory;
      made.interrupt = { line, handler: NILTHREAD, delivered: 0 };
      thread = made;
    }
    const source = thread.interrupt!;
    if (source.handler === handler) return 0;
    // A new handler: whatever was on its way to the old one is withdrawn.
    this.withdraw(thread);
    source.handler = handler;
    thread.scheduler = caller.id;
    this.controller.unmask(line);
    return 0;
  }

  /** Is `thread` an interrupt thread without a handler (Schedule refuses those)? */
  isDissociated(thread: Thread): boolean {
    return thread.interrupt !== null && thread.interrupt.handler === NILTHREAD;
  }

  /** Takes every pending line and delivers its interrupt: by priority, then line. */
  deliver(now: number): void {
    let bits = this.controller.pending(now);
    if (bits === 0) return;
    const ready: Thread[] = [];
    for (let line = 0; bits !== 0; line++, bits >>>= 1) {
      if (!(bits & 1)) continue;
      const thread = this.parts.threads.get(line);
      if (thread?.interrupt && thread.interrupt.handler !== NILTHREAD && thread.state === ThreadState.Inactive) ready.push(thread);
      else this.controller.mask(line); // nobody to take it: keep it latched and quiet
    }
    ready.sort((a, b) => b.priority - a.priority || a.number - b.number);
    for (const thread of ready) this.take(thread);
  }

  /**
   * An interrupt thread's IPC ended: with success, the handler's acknowledgement (the line is
   * unmasked); with an error, the handler went away (the interrupt is dissociated).
   */
  done(thread: Thread, error: number): void {
    const source = thread.interrupt!;
    thread.state = ThreadState.Inactive;
    thread.sendTo = null;
    thread.receiveFrom = NILTHREAD;
    if (error !== 0) {
      source.handler = NILTHREAD;
      this.controller.mask(source.line);
      return;
    }
    this.controller.unmask(source.line);
  }

  private take(thread: Thread): void {
    const { hw, costs, counters, tracer, ipc } = this.parts;
    const source = thread.interrupt!;
    this.controller.acknowledge(source.line);
    this.controller.mask(source.line);
    counters.interrupts++;
    counters.exceptions++;
    source.delivered++;
    hw.cpu.charge(hw.profile.costs.exceptionEntry + hw.profile.costs.exceptionReturn + costs.interruptPath);
    const handler = this.parts.threads.byId(source.handler);
    if (tracer.enabled) tracer.emit('interrupt', thread.id, `line ${source.line} to ${handler ? hex32(handler.id) : 'a deleted handler'}`);
    if (!handler) {
      this.done(thread, ErrorCode.InvalidThread);
      return;
    }
    ipc.kernelCall(thread, handler);
  }

  private dissociate(thread: Thread): void {
    const source = thread.interrupt!;
    this.withdraw(thread);
    source.handler = NILTHREAD;
    this.controller.mask(source.line);
  }

  /** Withdraws an interrupt on its way to the handler (queued) or waiting for its acknowledgement. */
  private withdraw(thread: Thread): void {
    if (thread.state === ThreadState.Inactive) return;
    this.parts.ipc.unblock(thread);
    thread.state = ThreadState.Inactive;
    thread.receiveFrom = NILTHREAD;
  }
}
