// The environment's system calls, work and console messages (program-env.ts): the operations
// that trap to the kernel on purpose.

import { TRAP_SYSCALL, TRAP_PREEMPT, TRAP_PRINT, TRAP_SHUTDOWN, TRAP_TRACE, PRINT_LIMIT, MAX_ARGS, NO_WORDS, type Ports, IDLE, ARMED, NoResult, ValueResult, CheckedOperation } from './env-operation.ts';

// ---- System calls and the rest -----------------------------------------------------------------

export class Syscall extends CheckedOperation<number[]> {
  private number = 0;
  private args: readonly number[] = [];
  private results: number[] = [];
  private returned = false;
  private preempted = false;
  /** The current system call's argument words (reused: a call allocates nothing). */
  private readonly argWords: number[] = new Array<number>(MAX_ARGS).fill(0);

  constructor(ports: Ports) {
    super(ports, new ValueResult<number[]>([]));
  }

  arm(number: number, args: readonly number[]): this {
    this.state = ARMED;
    this.number = number;
    this.args = args;
    this.returned = false;
    this.preempted = false;
    return this;
  }

  protected step(resume?: unknown): IteratorResult<unknown, number[]> {
    if (this.state === IDLE) return this.finished();
    const thread = this.thread;
    if (this.state === ARMED) {
      thread.trapNumber = Number(this.number) >>> 0;
      // The words are copied here, in the program's own step: a hostile array (an element
      // getter, a proxy) can only raise in the program, never later in the kernel's decoding.
      const args = this.args;
      const argWords = this.argWords;
      const count = Array.isArray(args) ? Math.min(args.length, MAX_ARGS) : 0;
      for (let i = 0; i < MAX_ARGS; i++) argWords[i] = i < count ? args[i]! : 0;
      thread.trapArgCount = count;
      thread.trapArgs = argWords;
      this.args = NO_WORDS;
      return this.trap(TRAP_SYSCALL);
    }
    if (!this.returned) {
      this.returned = true;
      this.results = resume as number[];
      // A timer interrupt due by now is taken on the way back to the program, as after any step,
      // so a thread that only makes system calls is preempted too.
      if (this.due()) return this.trap(TRAP_PREEMPT);
    }
    const results = this.results;
    this.results = NO_WORDS;
    return this.finish(results);
  }
}

export class Work extends CheckedOperation<void> {
  private cycles = 0;

  constructor(ports: Ports) {
    super(ports, new NoResult());
  }

  arm(cycles: number): this {
    this.state = ARMED;
    this.cycles = cycles;
    return this;
  }

  protected step(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) {
      const cycles = this.cycles;
      if (!Number.isSafeInteger(cycles) || cycles < 0) throw new RangeError(`work takes a whole number of cycles, got ${String(cycles)}`);
      this.cpu.charge(cycles);
      if (this.due()) return this.trap(TRAP_PREEMPT);
    }
    return this.finish(undefined);
  }
}

/** print, trace and shutdown: a trap with the text or status, then done. */
export class Message extends CheckedOperation<void> {
  private readonly kind: typeof TRAP_PRINT | typeof TRAP_SHUTDOWN | typeof TRAP_TRACE;
  private message: unknown = '';

  constructor(ports: Ports, kind: typeof TRAP_PRINT | typeof TRAP_SHUTDOWN | typeof TRAP_TRACE) {
    super(ports, new NoResult());
    this.kind = kind;
  }

  arm(message: unknown): this {
    this.state = ARMED;
    this.message = message;
    return this;
  }

  protected step(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) {
      if (this.kind !== TRAP_SHUTDOWN) this.thread.trapText = String(this.message).slice(0, PRINT_LIMIT);
      else this.thread.trapNumber = Number(this.message) >>> 0;
      this.message = '';
      return this.trap(this.kind);
    }
    return this.finish(undefined);
  }
}
