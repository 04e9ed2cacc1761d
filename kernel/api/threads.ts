// The life of a thread: creation (inactive), activation (a UTCB and a pager: it then waits for
// its start message), start at an IP, halting, and deletion, which aborts the IPC of everyone
// blocked on it and frees its memory, and its space's with its last thread.

import { hex32, type HardwareInterface } from '../../emulator/hardware.ts';
import { IpcError, NILTHREAD, TCR_EXCEPTION_HANDLER, TCR_MY_GLOBAL_ID, TCR_PAGER, UTCB_SIZE, ErrorCode } from '../../libl4/abi.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { KernelMemory } from '../generic/kernel-memory.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import { Thread, ThreadState, type Space } from '../generic/thread.ts';
import { formatId, type Tracer } from '../generic/trace.ts';
import { createProgramEnv } from '../ia32/program-env.ts';
import type { ProgramText } from '../ia32/text.ts';
import { describe } from '../ia32/trap-entry.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { fpageContains } from './fpage.ts';
import { RECEIVE, SEND, type Ipc } from './ipc.ts';
import type { StringTransfers } from './string-transfer.ts';

export const DEFAULT_PRIORITY = 100;

export interface ThreadLifecycleParts {
  readonly hw: HardwareInterface;
  readonly kmem: KernelMemory;
  readonly threads: ThreadTable;
  readonly spaces: AddressSpaces;
  readonly utcbs: Utcbs;
  readonly scheduler: Scheduler;
  readonly ipc: Ipc;
  readonly strings: StringTransfers;
  readonly text: ProgramText;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  /** Programs' bulk operations translate a page at a time (KernelConfig.batchedAccesses). */
  readonly batchedAccesses: boolean;
}

export class ThreadLifecycle {
  private readonly hw: HardwareInterface;
  private readonly kmem: KernelMemory;
  private readonly threads: ThreadTable;
  private readonly spaces: AddressSpaces;
  private readonly utcbs: Utcbs;
  private readonly scheduler: Scheduler;
  private readonly ipc: Ipc;
  private readonly strings: StringTransfers;
  private readonly text: ProgramText;
  private readonly counters: KernelCounters;
  private readonly tracer: Tracer;
  private readonly batchedAccesses: boolean;
  private nextSequence = 0;

  constructor(parts: ThreadLifecycleParts) {
    this.hw = parts.hw;
    this.kmem = parts.kmem;
    this.threads = parts.threads;
    this.spaces = parts.spaces;
    this.utcbs = parts.utcbs;
    this.scheduler = parts.scheduler;
    this.ipc = parts.ipc;
    this.strings = parts.strings;
    this.text = parts.text;
    this.counters = parts.counters;
    this.tracer = parts.tracer;
    this.batchedAccesses = parts.batchedAccesses;
  }

  /** A new inactive thread, or null when kernel memory is out. */
  create(id: number, space: Space, utcbAddress: number, scheduler: number, timeslice: number): Thread | null {
    const tcb = this.kmem.allocate();
    if (tcb < 0) return null;
    const thread = new Thread(id, space, utcbAddress, tcb, scheduler, DEFAULT_PRIORITY, timeslice, this.nextSequence++);
    this.threads.add(thread);
    space.threads.push(thread);
    return thread;
  }

  /**
   * Gives an inactive thread its UTCB and pager; it then waits for its start message. Returns 0
   * or an error code (UTCB area, no memory).
   */
  activate(thread: Thread, pager: number): number {
    const space = thread.space;
    const location = thread.utcbAddress;
    if (!fpageContains(space.utcbArea, location, UTCB_SIZE) || location % UTCB_SIZE !== 0) return ErrorCode.UtcbArea;
    if (space.threads.some((t) => t !== thread && t.alive && t.utcbPhysical >= 0 && t.utcbAddress === location)) return ErrorCode.UtcbArea;
    const frame = this.spaces.utcbFrame(space, (location & ~0xfff) >>> 0);
    if (frame < 0) return ErrorCode.NoMemory;
    thread.utcbPhysical = frame + (location & 0xfff);
    this.hw.physical.fill(thread.utcbPhysical, UTCB_SIZE, 0);
    this.utcbs.writeTcr(thread, TCR_MY_GLOBAL_ID, thread.id);
    this.utcbs.writeTcr(thread, TCR_PAGER, pager);
    this.utcbs.writeTcr(thread, TCR_EXCEPTION_HANDLER, NILTHREAD);
    thread.env = createProgramEnv(this.hw, this.text, thread, { batched: this.batchedAccesses });
    // Activated: it waits for the start message (IP, SP) from its pager.
    thread.awaitingStart = true;
    thread.state = ThreadState.Receiving;
    thread.receiveFrom = pager;
    thread.deadline = Infinity;
    return 0;
  }

  /** Starts (or restarts) a thread's program at `ip`. Returns false if no body starts there. */
  start(thread: Thread, ip: number, sp: number): boolean {
    thread.ip = ip >>> 0;
    thread.sp = sp >>> 0;
    const body = this.text.bodyAt(ip);
    thread.awaitingStart = false;
    thread.fault = null;
    if (!body || !thread.env) {
      this.halt(thread, `no program at ${hex32(ip)}`);
      return false;
    }
    thread.body = body;
    try {
      thread.program = body(thread.env);
    } catch (error) {
      this.halt(thread, `program at ${hex32(ip)} failed to start: ${describe(error)}`);
      return false;
    }
    thread.resume = undefined;
    this.scheduler.makeReady(thread);
    return true;
  }

  /** Stops a thread for good (until ExchangeRegisters resumes it), with a console report. */
  halt(thread: Thread, reason: string): void {
    if (!thread.halted) this.counters.threadsHalted++;
    thread.halted = true;
    this.scheduler.removeReady(thread);
    this.hw.console.write(`kernel: thread ${formatId(thread.id)} halted: ${reason}\n`);
    this.tracer.emit('halt', thread.id, reason);
  }

  /** Deletes a thread: aborts its IPC and its partners', frees its memory, and its space when empty. */
  delete(thread: Thread): void {
    if (!thread.alive) return;
    // A string transfer it is in is aborted for both sides (error 7).
    this.strings.abortTransferOf(thread);
    this.ipc.unblock(thread);
    for (const sender of thread.senders.splice(0)) {
      sender.sendTo = null;
      this.ipc.complete(sender, IpcError.NonExistingPartner, SEND);
    }
    // Closed receives from this thread (by its global id, or by its local id within its space) can never complete.
    for (const other of this.threads.values()) {
      const from = other.receiveFrom;
      const named = from === thread.id || (other.space === thread.space && from === thread.utcbAddress);
      if (other.state === ThreadState.Receiving && !other.awaitingStart && named) {
        this.ipc.complete(other, IpcError.NonExistingPartner, RECEIVE);
      }
    }
    this.scheduler.removeReady(thread);
    thread.state = ThreadState.Dead;
    thread.program = null;
    this.threads.remove(thread);
    const space = thread.space;
    space.threads.splice(space.threads.indexOf(thread), 1);
    this.kmem.free(thread.tcbFrame);
    if (this.scheduler.handoff === thread) this.scheduler.handoff = null;
    if (space.threads.length === 0) this.spaces.delete(space);
  }
}
