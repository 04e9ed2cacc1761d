// The machinery every operation of a program's environment is built from (program-env.ts says
// why the environment is shaped so): trap tags, the limits of bulk operations, the reusable
// result objects, and the Operation base class, a state machine with the generator protocol.

import type { CpuPort, PhysicalMemoryPort, TimerPort } from '../../emulator/hardware.ts';
import type { Thread } from '../generic/thread.ts';

// Trap tags are symbols private to the kernel, so a program cannot forge one by yielding a value
// of its own: anything else it yields halts it.
export const TRAP_SYSCALL: unique symbol = Symbol('syscall');
export const TRAP_FAULT: unique symbol = Symbol('fault');
export const TRAP_PREEMPT: unique symbol = Symbol('preempt');
export const TRAP_PRINT: unique symbol = Symbol('print');
export const TRAP_SHUTDOWN: unique symbol = Symbol('shutdown');
export const TRAP_TRACE: unique symbol = Symbol('trace');
export type Trap = typeof TRAP_SYSCALL | typeof TRAP_FAULT | typeof TRAP_PREEMPT | typeof TRAP_PRINT | typeof TRAP_SHUTDOWN | typeof TRAP_TRACE;

/** Longest text one print may carry (longer text is cut). */
export const PRINT_LIMIT = 4096;
/** Largest count one bulk operation accepts. */
export const BULK_LIMIT = 64 * 1024 * 1024;
/** System-call argument words copied for the kernel (the longest call, ExchangeRegisters, takes 7). */
export const MAX_ARGS = 8;
/** Below this many bytes a bulk piece is copied byte by byte rather than by a typed-array copy. */
export const SMALL_COPY = 64;
/** Word arrays batch the rest of a page only when at least this many words are left. */
export const BATCH_MIN = 16;
/** What a finished operation holds instead of its caller's arrays (so they can be collected). */
export const NO_WORDS: number[] = [];
export const NO_WORD_ARRAY = new Uint32Array(0);
export const NO_BYTES = new Uint8Array(0);

export interface ProgramEnvOptions {
  /** Bulk operations translate a page at a time (default); false: access by access. */
  readonly batched?: boolean;
}

/** What every operation object works with. */
export interface Ports {
  readonly cpu: CpuPort;
  readonly physical: PhysicalMemoryPort;
  readonly timer: TimerPort;
  readonly thread: Thread;
  readonly batched: boolean;
}

// Operation states: free to hand out; handed out and not yet run; suspended at a trap.
export const IDLE = 0;
export const ARMED = 1;
export const SUSPENDED = 2;

/**
 * Results. Each kind of value has a class of its own: V8 keeps a number in an object's field
 * unboxed only while every object of its shape stores numbers there, and `{ done, value }`
 * literals all share one shape, so a word >= 2^31 stored in one would allocate a heap number.
 */
export class WordResult implements IteratorReturnResult<number> {
  readonly done = true;
  value = -0;
}
export class NoResult implements IteratorReturnResult<void> {
  readonly done = true;
  value: void = undefined;
}
export class ValueResult<T> implements IteratorReturnResult<T> {
  readonly done = true;
  value: T;
  constructor(value: T) {
    this.value = value;
  }
}
export class TrapResult implements IteratorYieldResult<unknown> {
  readonly done = false;
  value: unknown = undefined;
}

/** A reusable operation: the generator protocol over a state machine (see the top). */
export abstract class Operation<T> implements Generator<unknown, T, unknown> {
  state = IDLE;
  protected readonly cpu: CpuPort;
  protected readonly physical: PhysicalMemoryPort;
  protected readonly timer: TimerPort;
  protected readonly thread: Thread;
  protected readonly batched: boolean;
  /** The result of a trap (reused; the kernel reads it at once). */
  private readonly trapped = new TrapResult();
  /** The result of completion (reused; `yield*` reads it at once). */
  protected readonly result: IteratorReturnResult<T>;

  constructor(ports: Ports, result: IteratorReturnResult<T>) {
    this.cpu = ports.cpu;
    this.physical = ports.physical;
    this.timer = ports.timer;
    this.thread = ports.thread;
    this.batched = ports.batched;
    this.result = result;
  }

  abstract next(resume?: unknown): IteratorResult<unknown, T>;

  [Symbol.iterator](): this {
    return this;
  }

  return(value: T): IteratorResult<unknown, T> {
    this.state = IDLE;
    return { done: true, value };
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    this.state = IDLE;
    throw error;
  }

  /** What next() answers when no call is in progress: a finished generator's result. */
  protected finished(): IteratorResult<unknown, T> {
    return { done: true, value: undefined as T };
  }

  protected trap(trap: Trap): TrapResult {
    this.state = SUSPENDED;
    this.trapped.value = trap;
    return this.trapped;
  }

  /** Records the fault the MMU just raised and yields it. */
  protected fault(): TrapResult {
    this.thread.faultAddress = this.cpu.cr2;
    this.thread.faultErrorCode = this.cpu.lastErrorCode;
    return this.trap(TRAP_FAULT);
  }

  protected finish(value: T): IteratorReturnResult<T> {
    this.state = IDLE;
    this.result.value = value;
    return this.result;
  }

  /** The timer poll between steps. */
  protected due(): boolean {
    return this.cpu.cyclesReached(this.timer.deadline);
  }
}

/**
 * An operation whose steps can raise (argument checks, conversions of the program's values, a
 * hostile array's getters): an error leaves the object free for the next call, as a generator
 * that threw is finished. (The single accesses, where nothing raises, define next themselves.)
 */
export abstract class CheckedOperation<T> extends Operation<T> {
  next(resume?: unknown): IteratorResult<unknown, T> {
    try {
      return this.step(resume);
    } catch (error) {
      this.state = IDLE;
      throw error;
    }
  }

  protected abstract step(resume: unknown): IteratorResult<unknown, T>;
}


export function checkBulk(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > BULK_LIMIT) {
    throw new RangeError(`a bulk access takes 0 to ${BULK_LIMIT} bytes, got ${String(length)}`);
  }
  return length;
}
