// Thread control blocks and address spaces: what the kernel knows about one thread and about one
// space. They refer to each other (a thread lives in a space, a space lists its threads), so they
// share this file. The thread's message registers and thread control registers are not here: they
// live in its UTCB in emulated memory (`utcbPhysical`), as on IA-32, where the debugger and the
// thread itself can see them; a space's mappings are in its page tables and the mapping database.

import type { Op, ProgramBody, ProgramEnv } from '../../libl4/abi.ts';

/** Highest scheduling priority. */
export const MAX_PRIORITY = 255;

/** Where a thread is in its life and in IPC. */
export const ThreadState = {
  /** Created without a pager: never runs until ThreadControl gives it one. */
  Inactive: 0,
  /** Runnable (queued or running). */
  Ready: 1,
  /** Blocked in the send phase of an IPC, queued at its partner. */
  Sending: 2,
  /** Blocked in the receive phase of an IPC. */
  Receiving: 3,
  /** Deleted; the object lingers only while something still refers to it. */
  Dead: 4,
  /** In a string transfer whose copy the partner (or the partner's pager) is busy with. */
  Locked: 5,
} as const;
export type ThreadStateValue = (typeof ThreadState)[keyof typeof ThreadState];
export const THREAD_STATE_NAMES = ['inactive', 'ready', 'sending', 'receiving', 'dead', 'locked'];

/** A string transfer in progress (api/string-transfer.ts), as the TCB refers to it. */
export interface StringTransferState {
  readonly sender: Thread;
  readonly receiver: Thread;
  /** The thread whose context the copy goes on in. */
  readonly runner: Thread;
}

/** What an interrupt thread adds to a TCB: its line and the handler it is associated with. */
export interface InterruptSource {
  readonly line: number;
  /** The handler thread's global id; nil while the interrupt is not associated. */
  handler: number;
  /** Interrupts delivered to handlers. */
  delivered: number;
}

/** An exception being reported by IPC to the thread's exception handler. */
export interface ExceptionInProgress {
  number: number;
  /** The IP the thread had (a reply with another IP starts it there). */
  ip: number;
  /** How the thread goes on after the reply with the same IP (api/exceptions.ts ResumeKind). */
  resume: number;
  /** What the console says if the thread is halted after all. */
  reason: string;
  /** MR0..MR12 as they were before the exception message (restored after the reply). */
  readonly saved: number[];
}

/** A page fault being resolved by IPC to the pager: the access to retry and the saved registers. */
export interface FaultInProgress {
  address: number;
  kind: number;
  /** MR0, MR1, MR2 and BR0 as they were before the fault (restored after the reply). */
  readonly saved: number[];
  /** A fault in a string buffer during a transfer: the copy goes on after the reply. */
  transfer: boolean;
}

export class Thread {
  readonly id: number;
  readonly number: number;
  space: Space;
  /** Local id: the UTCB's address in the space (UTCB_LOCATION_NOT_SET until ThreadControl gives one). */
  utcbAddress: number;
  /** Physical address of the UTCB (-1 until the thread is activated). */
  utcbPhysical = -1;
  /** Physical frame of the kernel TCB that accounts for this thread's kernel memory. */
  tcbFrame: number;
  state: ThreadStateValue = ThreadState.Inactive;
  /** Halted by ExchangeRegisters (or stopped after its body returned or failed). */
  halted = false;
  /** Activated with a pager and waiting for the start message (IP, SP) from it. */
  awaitingStart = false;
  scheduler: number;
  priority: number;
  /** Time-slice length and what is left of it, in cycles. */
  timeslice: number;
  remaining: number;
  /** Registers visible through ExchangeRegisters. A program thread's IP names its entry. */
  ip = 0;
  sp = 0;
  flags = 0;

  // IPC
  /** The thread this one is sending to (state Sending). */
  sendTo: Thread | null = null;
  /** Threads blocked sending to this one, in arrival order. */
  readonly senders: Thread[] = [];
  /** From-specifier of the pending or current receive phase (NILTHREAD: none). */
  receiveFrom = 0;
  /** Receive timeout (X.2 16-bit form) for the receive phase that follows a blocked send. */
  receiveTimeout = 0;
  /** Cycle count at which the current blocking phase times out (Infinity: never). */
  deadline = Infinity;
  /** The from-id the current IPC returns when it completes (its only result word). */
  resultFrom = 0;
  /** Set while a page fault is being resolved through the pager. */
  fault: FaultInProgress | null = null;
  /** The record `fault` points to while a fault is in progress. */
  readonly faultRecord: FaultInProgress = { address: 0, kind: 0, saved: [0, 0, 0, 0], transfer: false };
  /** A map or grant item for this thread stopped for lack of kernel memory (since its last fault began). */
  mapRefused = false;
  /** Page faults in a row whose pager's map the kernel could not install for lack of kernel memory. */
  mapRetries = 0;
  /** The string transfer the thread is in (as sender or receiver) while it waits. */
  transfer: StringTransferState | null = null;
  /** Set for an interrupt thread (a kernel thread with no program: api/interrupts.ts). */
  interrupt: InterruptSource | null = null;
  /** Set while an exception is being reported to the exception handler. */
  exception: ExceptionInProgress | null = null;
  /** The record `exception` points to while one is in progress. */
  readonly exceptionRecord: ExceptionInProgress = { number: 0, ip: 0, resume: 0, reason: '', saved: new Array<number>(13).fill(0) };

  // Execution
  body: ProgramBody | null = null;
  program: Op<void> | null = null;
  env: ProgramEnv | null = null;
  /** The value the next resume of `program` receives (a system call's results). */
  resume: unknown = undefined;
  /** The trap in progress: system-call number and arguments (set by the env before yielding). */
  trapNumber = 0;
  trapArgs: readonly number[] = [];
  trapArgCount = 0;
  trapText = '';
  faultAddress = 0;
  faultErrorCode = 0;

  // Accounting
  cycles = 0;
  /** Position in creation order (for deterministic iteration). */
  readonly sequence: number;

  constructor(id: number, space: Space, utcbAddress: number, tcbFrame: number, scheduler: number, priority: number, timeslice: number, sequence: number) {
    this.id = id >>> 0;
    this.number = id >>> 14;
    this.space = space;
    this.utcbAddress = utcbAddress >>> 0;
    this.tcbFrame = tcbFrame;
    this.scheduler = scheduler >>> 0;
    this.priority = priority;
    this.timeslice = timeslice;
    this.remaining = timeslice;
    this.sequence = sequence;
  }

  get alive(): boolean {
    return this.state !== ThreadState.Dead;
  }

  /** Can the scheduler run it? */
  get runnable(): boolean {
    return this.state === ThreadState.Ready && !this.halted && this.program !== null;
  }
}

/** An address space: a page directory, the KIP and UTCB areas, and the frames behind its UTCBs. */
export class Space {
  readonly id: number;
  readonly pageDirectory: number;
  /** KIP and UTCB areas as fpages (0 until SpaceControl initialises the space). */
  kipArea = 0;
  utcbArea = 0;
  initialized = false;
  redirector = 0;
  /** Threads living here, in creation order. */
  readonly threads: Thread[] = [];
  /** UTCB page (linear address) -> kernel frame backing it. */
  readonly utcbFrames = new Map<number, number>();
  /** Cycles spent by its threads. */
  cycles = 0;

  constructor(id: number, pageDirectory: number) {
    this.id = id;
    this.pageDirectory = pageDirectory;
  }
}
