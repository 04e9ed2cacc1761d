// The environment of a program thread: its memory accesses, system calls and debugging aids.
//
// Each operation is run by the program with `yield*`. A memory access translates through the MMU
// at CPL 3 in the thread's own address space (the one in CR3 while it runs). If the translation
// faults, the operation yields a fault trap; the kernel turns it into page-fault IPC to the
// thread's pager and resumes the operation after the reply, which retries the access. Bulk
// operations make one access per 32-bit word, or per piece of an aligned dword (like a string
// instruction), so they fault page by page and resume where they stopped. The timer is polled
// after every operation, and after each word of readWords and writeWords, as a CPU samples its
// interrupt line between instructions.
//
// Traps carry no data of their own: the operation stores what the kernel needs in the thread
// (system-call number and arguments, fault address, text) and yields one of the TRAP_ tags.
//
// Shaped for speed, since programs make millions of accesses:
// - No generator per call. Each operation of an environment has one reusable operation object, a
//   small state machine with the generator protocol, which the call arms and returns. When the
//   access hits the TLB and no interrupt is due, `next` returns the object's preallocated result:
//   nothing is allocated. An operation object still in use (a program holding an operation it
//   has not run, or running one from inside another) makes the call take a fresh object of the
//   same kind, so every call behaves as a generator of its own would. A completed operation's
//   object may be handed out again by a later call (programs run each operation once).
// - Bulk operations translate a page at a time (CpuPort.trySpan32 and repeatMove32: the same
//   accesses, hits, stamps and cycles as access by access, with one translation and one typed-
//   array copy per page). With `batched: false` they translate access by access: the reference
//   the determinism tests compare them with.
// - The timer poll is cpu.cyclesReached(deadline): two compares while only hits happen.
// Access kinds are written as literals in the hot paths: 0 a read, 1 a write (emulator/paging.ts).

import type { CpuPort, HardwareInterface, PhysicalMemoryPort, TimerPort } from '../emulator/hardware.ts';
import type { Op, ProgramBody, ProgramEnv } from '../libl4/abi.ts';
import type { ProgramText } from './text.ts';
import type { Thread } from './thread.ts';

// Trap tags are symbols private to the kernel, so a program cannot forge one by yielding a value
// of its own: anything else it yields halts it.
export const TRAP_SYSCALL: unique symbol = Symbol('syscall');
export const TRAP_FAULT: unique symbol = Symbol('fault');
export const TRAP_PREEMPT: unique symbol = Symbol('preempt');
export const TRAP_PRINT: unique symbol = Symbol('print');
export const TRAP_SHUTDOWN: unique symbol = Symbol('shutdown');
type Trap = typeof TRAP_SYSCALL | typeof TRAP_FAULT | typeof TRAP_PREEMPT | typeof TRAP_PRINT | typeof TRAP_SHUTDOWN;

/** Longest text one print may carry (longer text is cut). */
const PRINT_LIMIT = 4096;
/** Largest count one bulk operation accepts. */
const BULK_LIMIT = 64 * 1024 * 1024;
/** System-call argument words copied for the kernel (the longest call, ExchangeRegisters, takes 7). */
const MAX_ARGS = 8;
/** Below this many bytes a bulk piece is copied byte by byte rather than by a typed-array copy. */
const SMALL_COPY = 64;
/** Word arrays batch the rest of a page only when at least this many words are left. */
const BATCH_MIN = 16;
/** What a finished operation holds instead of its caller's arrays (so they can be collected). */
const NO_WORDS: number[] = [];
const NO_WORD_ARRAY = new Uint32Array(0);
const NO_BYTES = new Uint8Array(0);

export interface ProgramEnvOptions {
  /** Bulk operations translate a page at a time (default); false: access by access. */
  readonly batched?: boolean;
}

/** What every operation object works with. */
interface Ports {
  readonly cpu: CpuPort;
  readonly physical: PhysicalMemoryPort;
  readonly timer: TimerPort;
  readonly thread: Thread;
  readonly batched: boolean;
}

// Operation states: free to hand out; handed out and not yet run; suspended at a trap.
const IDLE = 0;
const ARMED = 1;
const SUSPENDED = 2;

/**
 * Results. Each kind of value has a class of its own: V8 keeps a number in an object's field
 * unboxed only while every object of its shape stores numbers there, and `{ done, value }`
 * literals all share one shape, so a word >= 2^31 stored in one would allocate a heap number.
 */
class WordResult implements IteratorReturnResult<number> {
  readonly done = true;
  value = -0;
}
class NoResult implements IteratorReturnResult<void> {
  readonly done = true;
  value: void = undefined;
}
class ValueResult<T> implements IteratorReturnResult<T> {
  readonly done = true;
  value: T;
  constructor(value: T) {
    this.value = value;
  }
}
class TrapResult implements IteratorYieldResult<unknown> {
  readonly done = false;
  value: unknown = undefined;
}

/** A reusable operation: the generator protocol over a state machine (see the top). */
abstract class Operation<T> implements Generator<unknown, T, unknown> {
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
abstract class CheckedOperation<T> extends Operation<T> {
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

// ---- Single accesses ----------------------------------------------------------------------------

/** read32 of an aligned address: the hottest operation there is. */
class ReadWord extends Operation<number> {
  private address = 0;
  private preempted = false;
  private value = -0;

  constructor(ports: Ports) {
    super(ports, new WordResult());
  }

  arm(address: number): this {
    this.state = ARMED;
    this.address = address;
    this.preempted = false;
    return this;
  }

  next(): IteratorResult<unknown, number> {
    if (this.state !== ARMED) return this.resume();
    const value = this.cpu.tryRead32(this.address, 3);
    if (value < 0) return this.fault();
    if (this.cpu.cyclesReached(this.timer.deadline)) {
      this.value = value;
      this.preempted = true;
      return this.trap(TRAP_PREEMPT);
    }
    this.state = IDLE;
    const result = this.result;
    result.value = value;
    return result;
  }

  private resume(): IteratorResult<unknown, number> {
    if (this.state === IDLE) return this.finished();
    if (this.preempted) return this.finish(this.value);
    this.state = ARMED; // after a fault: the access again
    return this.next();
  }
}

/** write32 of an aligned address. */
class WriteWord extends Operation<void> {
  private address = 0;
  private value = 0;
  private preempted = false;

  constructor(ports: Ports) {
    super(ports, new NoResult());
  }

  arm(address: number, value: number): this {
    this.state = ARMED;
    this.address = address;
    this.value = value;
    this.preempted = false;
    return this;
  }

  next(): IteratorResult<unknown, void> {
    if (this.state !== ARMED) return this.resume();
    if (!this.cpu.tryWrite32(this.address, this.value, 3)) return this.fault();
    if (this.cpu.cyclesReached(this.timer.deadline)) {
      this.preempted = true;
      return this.trap(TRAP_PREEMPT);
    }
    this.state = IDLE;
    return this.result;
  }

  private resume(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.preempted) return this.finish(undefined);
    this.state = ARMED;
    return this.next();
  }
}

/**
 * An access of 1, 2 or 4 bytes at any address. One that crosses a page translates each page once,
 * as the CPU does, both before any byte moves; a fault of either retries both.
 */
class SpanAccess<T extends number | void> extends Operation<T> {
  private address = 0;
  private size = 1;
  private kind: 0 | 1 = 0;
  private value = 0;
  private preempted = false;
  /** Physical address of the second page of a page-crossing access. */
  private secondPage = 0;

  constructor(ports: Ports, kind: 0 | 1) {
    super(ports, (kind === 0 ? new WordResult() : new NoResult()) as IteratorReturnResult<T>);
    this.kind = kind;
  }

  arm(address: number, size: number, value: number): this {
    this.state = ARMED;
    this.address = address;
    this.size = size;
    this.value = value;
    this.preempted = false;
    return this;
  }

  next(): IteratorResult<unknown, T> {
    if (this.state === IDLE) return this.finished();
    if (this.state === SUSPENDED && this.preempted) return this.finish(this.outcome(this.value));
    const address = this.address;
    const size = this.size;
    const first = this.cpu.tryTranslate(address, this.kind, 3);
    if (first < 0) return this.fault();
    const crossing = (address & 0xfff) + size > 0x1000;
    if (crossing) {
      this.secondPage = this.cpu.tryTranslate((address + size - 1) & ~0xfff, this.kind, 3);
      if (this.secondPage < 0) return this.fault();
    }
    const physical = this.physical;
    let value = 0;
    if (this.kind === 0) {
      if (!crossing) value = size === 4 ? physical.read32(first) : size === 2 ? physical.read16(first) : physical.read8(first);
      else {
        for (let i = 0; i < size; i++) value |= physical.read8(this.byteAddress(first, i)) << (8 * i);
        value >>>= 0;
      }
    } else if (!crossing) {
      if (size === 4) physical.write32(first, this.value);
      else if (size === 2) physical.write16(first, this.value);
      else physical.write8(first, this.value);
    } else {
      for (let i = 0; i < size; i++) physical.write8(this.byteAddress(first, i), this.value >>> (8 * i));
    }
    if (this.due()) {
      this.value = value;
      this.preempted = true;
      return this.trap(TRAP_PREEMPT);
    }
    return this.finish(this.outcome(value));
  }

  /** A read's value; nothing for a write. */
  private outcome(value: number): T {
    return (this.kind === 0 ? value : undefined) as T;
  }

  /** The physical address of byte `i` of a page-crossing access. */
  private byteAddress(first: number, i: number): number {
    const byte = (this.address + i) >>> 0;
    return (byte & ~0xfff) === (this.address & ~0xfff) ? first + i : this.secondPage + (byte & 0xfff);
  }
}

// ---- Word arrays --------------------------------------------------------------------------------

/**
 * readWords and writeWords: one read32 or write32 per word, the timer polled after each, as
 * `count` separate operations would. Batched, an aligned array goes a page at a time: a word is
 * translated on its own (it may miss or fault), the timer is polled, and then as many of the
 * page's further words as the timer allows before it is due are one run of hits. An unaligned
 * array goes word by word, each an access of its own (two where a word crosses a page).
 */
abstract class WordArray<T> extends CheckedOperation<T> {
  protected address = 0;
  protected count = 0;
  protected index = 0;
  private readonly kind: 0 | 1;
  /** Each word of an unaligned array. */
  private readonly single: SpanAccess<number | void>;
  /** The value of the word being written, taken from the program's array once (a fault retries). */
  private held = 0;
  private holding = false;

  constructor(ports: Ports, result: IteratorReturnResult<T>, kind: 0 | 1) {
    super(ports, result);
    this.kind = kind;
    this.single = new SpanAccess(ports, kind);
  }

  protected start(address: number, count: number): void {
    this.state = ARMED;
    this.address = address;
    this.count = count;
    this.index = 0;
    this.holding = false;
    this.single.state = IDLE;
  }

  /** The value a write of word `index` stores (writes only). */
  protected abstract outgoing(index: number): number;
  /** Word `index` was read as `value` (reads only). */
  protected abstract incoming(index: number, value: number): void;
  /** Moves the `n` words from `index` on, which lie in one page from physical address `physical`. */
  protected abstract words(index: number, physical: number, n: number): void;
  protected abstract value(): T;

  /** From where the last trap left off to the next trap or the end. */
  protected run(): IteratorResult<unknown, T> {
    const cpu = this.cpu;
    const kind = this.kind;
    while (this.index < this.count) {
      const at = (this.address + 4 * this.index) >>> 0;
      if ((at & 3) !== 0) {
        const single = this.single;
        if (single.state === IDLE) single.arm(at, 4, kind === 1 ? this.outgoing(this.index) : 0);
        const step = single.next();
        if (!step.done) return this.trap(step.value as Trap);
        if (kind === 0) this.incoming(this.index, step.value as number);
        this.index++;
        continue;
      }
      if (kind === 0) {
        const value = cpu.tryRead32(at, 3);
        if (value < 0) return this.fault();
        this.incoming(this.index, value);
      } else {
        if (!this.holding) {
          this.held = this.outgoing(this.index);
          this.holding = true;
        }
        if (!cpu.tryWrite32(at, this.held, 3)) return this.fault();
        this.holding = false;
      }
      this.index++;
      if (this.due()) return this.trap(TRAP_PREEMPT);
      // A few words (message registers, mostly) go one by one: that is cheaper than a batch.
      if (!this.batched || this.count - this.index < BATCH_MIN) continue;
      const rest = Math.min(1023 - ((at & 0xfff) >>> 2), this.count - this.index);
      if (rest <= 0) continue;
      // Every further word of the page is a hit of tlbHit cycles: as many as come before the
      // timer is due, then the poll after the last of them finds it due.
      const budget = cpu.hitsUntil(this.timer.deadline);
      const n = Math.min(rest, budget);
      this.words(this.index, cpu.trySpan32((at + 4) >>> 0, n, kind, 3), n);
      this.index += n;
      if (n === budget) return this.trap(TRAP_PREEMPT);
    }
    return this.finish(this.value());
  }
}

class ReadWords extends WordArray<number[]> {
  private out: number[] = [];

  constructor(ports: Ports) {
    super(ports, new ValueResult<number[]>([]), 0);
  }

  arm(address: number, count: number): this {
    this.start(address, count);
    return this;
  }

  protected step(): IteratorResult<unknown, number[]> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) {
      checkBulk(this.count * 4);
      this.out = this.count <= 65536 ? new Array<number>(this.count) : [];
    }
    return this.run();
  }

  protected outgoing(): number {
    return 0;
  }
  protected incoming(index: number, value: number): void {
    this.out[index] = value;
  }
  protected words(index: number, physical: number, n: number): void {
    const out = this.out;
    if (physical + 4 * n > this.physical.size) {
      for (let i = 0; i < n; i++) out[index + i] = this.physical.read32(physical + 4 * i);
      return;
    }
    const words = this.physical.words;
    const first = physical >>> 2;
    for (let i = 0; i < n; i++) out[index + i] = words[first + i]!;
  }
  protected value(): number[] {
    const out = this.out;
    this.out = NO_WORDS;
    return out;
  }
}

/** readWordsInto: readWords into the caller's Uint32Array. */
class ReadWordsInto extends WordArray<void> {
  private into: Uint32Array = NO_WORD_ARRAY;

  constructor(ports: Ports) {
    super(ports, new NoResult(), 0);
  }

  arm(address: number, into: Uint32Array): this {
    this.start(address, 0);
    this.into = into;
    return this;
  }

  protected step(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) {
      if (!(this.into instanceof Uint32Array)) throw new TypeError('readWordsInto takes a Uint32Array');
      this.count = checkBulk(this.into.length * 4) / 4;
    }
    return this.run();
  }

  protected outgoing(): number {
    return 0;
  }
  protected incoming(index: number, value: number): void {
    this.into[index] = value;
  }
  protected words(index: number, physical: number, n: number): void {
    const into = this.into;
    if (physical + 4 * n > this.physical.size) {
      for (let i = 0; i < n; i++) into[index + i] = this.physical.read32(physical + 4 * i);
      return;
    }
    const words = this.physical.words;
    const first = physical >>> 2;
    if (n >= SMALL_COPY) into.set(words.subarray(first, first + n), index);
    else for (let i = 0; i < n; i++) into[index + i] = words[first + i]!;
  }
  protected value(): void {
    this.into = NO_WORD_ARRAY;
  }
}

class WriteWords extends WordArray<void> {
  private data: readonly number[] | Uint32Array = [];

  constructor(ports: Ports) {
    super(ports, new NoResult(), 1);
  }

  arm(address: number, data: readonly number[] | Uint32Array): this {
    this.start(address, 0);
    this.data = data;
    return this;
  }

  protected step(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) this.count = checkBulk(this.data.length * 4) / 4;
    return this.run();
  }

  protected outgoing(index: number): number {
    return this.data[index]! >>> 0;
  }
  protected incoming(): void {}
  protected words(index: number, physical: number, n: number): void {
    const data = this.data;
    if (physical + 4 * n > this.physical.size) {
      for (let i = 0; i < n; i++) this.physical.write32(physical + 4 * i, data[index + i]! >>> 0);
      return;
    }
    const words = this.physical.words;
    const first = physical >>> 2;
    if (n >= SMALL_COPY && data instanceof Uint32Array) words.set(data.subarray(index, index + n), first);
    else for (let i = 0; i < n; i++) words[first + i] = data[index + i]! >>> 0;
  }
  protected value(): void {
    this.data = NO_WORDS;
  }
}

// ---- Byte ranges --------------------------------------------------------------------------------

/**
 * readBytes, writeBytes and fill: one access per aligned dword the range touches (or part of
 * one), the timer polled once at the end. Batched, each page's part of the range is one span.
 */
abstract class ByteRange<T> extends CheckedOperation<T> {
  protected address = 0;
  protected length = 0;
  protected offset = 0;
  private preempted = false;
  private readonly kind: 0 | 1;

  constructor(ports: Ports, result: IteratorReturnResult<T>, kind: 0 | 1) {
    super(ports, result);
    this.kind = kind;
  }

  protected start(address: number, length: number): void {
    this.state = ARMED;
    this.address = address;
    this.length = length;
    this.offset = 0;
    this.preempted = false;
  }

  /** Moves `n` bytes of the range from `offset` on at physical address `physical` (one page). */
  protected abstract move(physical: number, offset: number, n: number): void;
  protected abstract value(): T;
  /** Checks the arguments when the operation starts. */
  protected abstract begin(): void;

  protected step(): IteratorResult<unknown, T> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) this.begin();
    else if (this.preempted) return this.finish(this.value());
    const cpu = this.cpu;
    while (this.offset < this.length) {
      const at = (this.address + this.offset) >>> 0;
      const n = this.batched ? Math.min(0x1000 - (at & 0xfff), this.length - this.offset) : Math.min(4 - (at & 3), this.length - this.offset);
      const physical = cpu.trySpan32(at, ((at & 3) + n + 3) >>> 2, this.kind, 3);
      if (physical < 0) return this.fault();
      this.move(physical, this.offset, n);
      this.offset += n;
    }
    if (this.due()) {
      this.preempted = true;
      return this.trap(TRAP_PREEMPT);
    }
    return this.finish(this.value());
  }
}

class ReadBytes extends ByteRange<Uint8Array> {
  private out: Uint8Array = NO_BYTES;

  constructor(ports: Ports) {
    super(ports, new ValueResult<Uint8Array>(NO_BYTES), 0);
  }

  arm(address: number, length: number): this {
    this.start(address, length);
    return this;
  }

  protected begin(): void {
    this.out = new Uint8Array(checkBulk(this.length));
  }
  protected move(physical: number, offset: number, n: number): void {
    const memory = this.physical;
    if (n >= SMALL_COPY && physical + n <= memory.size) {
      this.out.set(memory.bytes.subarray(physical, physical + n), offset);
      return;
    }
    for (let i = 0; i < n; i++) this.out[offset + i] = memory.read8(physical + i);
  }
  protected value(): Uint8Array {
    const out = this.out;
    this.out = NO_BYTES;
    return out;
  }
}

/** readBytesInto: readBytes into the caller's Uint8Array. */
class ReadBytesInto extends ByteRange<void> {
  private into: Uint8Array = NO_BYTES;

  constructor(ports: Ports) {
    super(ports, new NoResult(), 0);
  }

  arm(address: number, into: Uint8Array): this {
    this.start(address, 0);
    this.into = into;
    return this;
  }

  protected begin(): void {
    if (!(this.into instanceof Uint8Array)) throw new TypeError('readBytesInto takes a Uint8Array');
    this.length = checkBulk(this.into.length);
  }
  protected move(physical: number, offset: number, n: number): void {
    const memory = this.physical;
    if (n >= SMALL_COPY && physical + n <= memory.size) {
      this.into.set(memory.bytes.subarray(physical, physical + n), offset);
      return;
    }
    for (let i = 0; i < n; i++) this.into[offset + i] = memory.read8(physical + i);
  }
  protected value(): void {
    this.into = NO_BYTES;
  }
}

class WriteBytes extends ByteRange<void> {
  private data: Uint8Array = NO_BYTES;

  constructor(ports: Ports) {
    super(ports, new NoResult(), 1);
  }

  arm(address: number, data: Uint8Array): this {
    this.start(address, 0);
    this.data = data;
    return this;
  }

  protected begin(): void {
    const data = this.data;
    if (!ArrayBuffer.isView(data) || (data as Uint8Array).BYTES_PER_ELEMENT !== 1) throw new TypeError('writeBytes takes a Uint8Array');
    this.length = checkBulk(data.length);
  }
  protected move(physical: number, offset: number, n: number): void {
    const memory = this.physical;
    if (n >= SMALL_COPY && physical + n <= memory.size) {
      memory.bytes.set(this.data.subarray(offset, offset + n), physical);
      return;
    }
    for (let i = 0; i < n; i++) memory.write8(physical + i, this.data[offset + i]!);
  }
  protected value(): void {
    this.data = NO_BYTES;
  }
}

class Fill extends ByteRange<void> {
  private byte = 0;
  private fillValue: unknown = 0;

  constructor(ports: Ports) {
    super(ports, new NoResult(), 1);
  }

  arm(address: number, length: number, value: number): this {
    this.start(address, length);
    this.fillValue = value;
    return this;
  }

  protected begin(): void {
    checkBulk(this.length);
    // The byte a Uint8Array store of the value makes (ToNumber, then modulo 256), taken once.
    this.byte = +(this.fillValue as number) & 0xff;
  }
  protected move(physical: number, _offset: number, n: number): void {
    const memory = this.physical;
    if (n >= SMALL_COPY && physical + n <= memory.size) {
      memory.bytes.fill(this.byte, physical, physical + n);
      return;
    }
    for (let i = 0; i < n; i++) memory.write8(physical + i, this.byte);
  }
  protected value(): void {}
}

/**
 * copy: forward, as rep movs with the direction flag clear. Each step is the longest piece (at
 * most 4 bytes) that keeps both the source and the destination within one aligned dword: one
 * read access, then one write access. A fault of the write retries the write only. Batched, the
 * steps after one that translated both pages and stay within both are counted as one run of
 * hits (repeatMove32) and their bytes moved by one typed-array copy.
 */
class Copy extends CheckedOperation<void> {
  private to = 0;
  private from = 0;
  private length = 0;
  private offset = 0;
  /** The current step's source was translated (at `source`); its destination is next. */
  private readDone = false;
  private source = 0;
  private preempted = false;

  constructor(ports: Ports) {
    super(ports, new NoResult());
  }

  arm(to: number, from: number, length: number): this {
    this.state = ARMED;
    this.to = to;
    this.from = from;
    this.length = length;
    this.offset = 0;
    this.readDone = false;
    this.preempted = false;
    return this;
  }

  protected step(): IteratorResult<unknown, void> {
    if (this.state === IDLE) return this.finished();
    if (this.state === ARMED) checkBulk(this.length);
    else if (this.preempted) return this.finish(undefined);
    const cpu = this.cpu;
    const memory = this.physical;
    while (this.offset < this.length) {
      const from = (this.from + this.offset) >>> 0;
      const to = (this.to + this.offset) >>> 0;
      const count = Math.min(4 - (from & 3), 4 - (to & 3), this.length - this.offset);
      if (!this.readDone) {
        this.source = cpu.tryTranslate(from, 0, 3);
        if (this.source < 0) return this.fault();
        this.readDone = true;
      }
      const target = cpu.tryTranslate(to, 1, 3);
      if (target < 0) return this.fault();
      this.readDone = false;
      const source = this.source;
      if (count === 4) memory.write32(target, memory.read32(source));
      else for (let i = 0; i < count; i++) memory.write8(target + i, memory.read8(source + i));
      this.offset += count;
      if (!this.batched) continue;
      // The steps left in both pages: counted as a run of hits and copied at once.
      const run = Math.min(0x1000 - ((from & 0xfff) + count), 0x1000 - ((to & 0xfff) + count), this.length - this.offset);
      if (run <= 0) continue;
      const next = (from + count) & 3;
      const nextTo = (to + count) & 3;
      // Steps end where either side reaches a dword boundary: count those boundaries inside the run.
      const steps = 1 + ((next + run - 1) >>> 2) + (next === nextTo ? 0 : (nextTo + run - 1) >>> 2);
      if (!cpu.repeatMove32(from, to, steps, 3)) continue;
      moveForward(memory, target + count, source + count, run);
      this.offset += run;
    }
    if (this.due()) {
      this.preempted = true;
      return this.trap(TRAP_PREEMPT);
    }
    return this.finish(undefined);
  }
}

/**
 * Copies `n` bytes from `from` to `to` in RAM as a forward byte copy would: a memmove where that
 * is the same (no overlap, or the destination below the source), else byte by byte, forward.
 */
function moveForward(memory: PhysicalMemoryPort, to: number, from: number, n: number): void {
  if (to <= from || to >= from + n) {
    memory.copy(to, from, n);
    return;
  }
  const bytes = memory.bytes;
  for (let i = 0; i < n; i++) bytes[to + i] = bytes[from + i]!;
}

// ---- System calls and the rest -----------------------------------------------------------------

class Syscall extends CheckedOperation<number[]> {
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

class Work extends CheckedOperation<void> {
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

/** print and shutdown: a trap with the text or status, then done. */
class Message extends CheckedOperation<void> {
  private readonly kind: typeof TRAP_PRINT | typeof TRAP_SHUTDOWN;
  private message: unknown = '';

  constructor(ports: Ports, kind: typeof TRAP_PRINT | typeof TRAP_SHUTDOWN) {
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
      if (this.kind === TRAP_PRINT) this.thread.trapText = String(this.message).slice(0, PRINT_LIMIT);
      else this.thread.trapNumber = Number(this.message) >>> 0;
      this.message = '';
      return this.trap(this.kind);
    }
    return this.finish(undefined);
  }
}

// ---- The environment ----------------------------------------------------------------------------

export function createProgramEnv(hw: HardwareInterface, text: ProgramText, thread: Thread, options: ProgramEnvOptions = {}): ProgramEnv {
  const ports: Ports = { cpu: hw.cpu, physical: hw.physical, timer: hw.timer, thread, batched: options.batched !== false };
  // One object per operation, handed out again and again; a fresh one while it is in use.
  const readWord = new ReadWord(ports);
  const writeWord = new WriteWord(ports);
  const read = new SpanAccess<number>(ports, 0);
  const write = new SpanAccess<void>(ports, 1);
  const readWords = new ReadWords(ports);
  const readWordsInto = new ReadWordsInto(ports);
  const readBytesInto = new ReadBytesInto(ports);
  const writeWords = new WriteWords(ports);
  const readBytes = new ReadBytes(ports);
  const writeBytes = new WriteBytes(ports);
  const fill = new Fill(ports);
  const copy = new Copy(ports);
  const syscall = new Syscall(ports);
  const work = new Work(ports);
  const print = new Message(ports, TRAP_PRINT);
  const shutdown = new Message(ports, TRAP_SHUTDOWN);

  const readSpan = (address: number, size: number): Op<number> => (read.state === IDLE ? read : new SpanAccess<number>(ports, 0)).arm(address >>> 0, size, 0);
  const writeSpan = (address: number, size: number, value: number): Op<void> =>
    (write.state === IDLE ? write : new SpanAccess<void>(ports, 1)).arm(address >>> 0, size, value);

  const env = new Environment(thread) as Environment & Writable<ProgramEnv>;
  env.read8 = (address) => readSpan(address, 1);
  env.read16 = (address) => readSpan(address, 2);
  env.read32 = (address) => {
    address >>>= 0;
    if ((address & 3) !== 0) return readSpan(address, 4);
    return (readWord.state === IDLE ? readWord : new ReadWord(ports)).arm(address);
  };
  env.write8 = (address, value) => writeSpan(address, 1, value);
  env.write16 = (address, value) => writeSpan(address, 2, value);
  env.write32 = (address, value) => {
    address >>>= 0;
    if ((address & 3) !== 0) return writeSpan(address, 4, value);
    return (writeWord.state === IDLE ? writeWord : new WriteWord(ports)).arm(address, value);
  };
  env.readWords = (address, count) => (readWords.state === IDLE ? readWords : new ReadWords(ports)).arm(address >>> 0, count);
  env.readWordsInto = (address, into) => (readWordsInto.state === IDLE ? readWordsInto : new ReadWordsInto(ports)).arm(address >>> 0, into);
  env.readBytesInto = (address, into) => (readBytesInto.state === IDLE ? readBytesInto : new ReadBytesInto(ports)).arm(address >>> 0, into);
  env.writeWords = (address, words) => (writeWords.state === IDLE ? writeWords : new WriteWords(ports)).arm(address >>> 0, words);
  env.readBytes = (address, length) => (readBytes.state === IDLE ? readBytes : new ReadBytes(ports)).arm(address >>> 0, length);
  env.writeBytes = (address, data) => (writeBytes.state === IDLE ? writeBytes : new WriteBytes(ports)).arm(address >>> 0, data);
  env.fill = (address, length, value) => (fill.state === IDLE ? fill : new Fill(ports)).arm(address >>> 0, length, value);
  env.copy = (to, from, length) => (copy.state === IDLE ? copy : new Copy(ports)).arm(to >>> 0, from >>> 0, length);
  env.syscall = (number, args) => (syscall.state === IDLE ? syscall : new Syscall(ports)).arm(number, args);
  env.work = (cycles) => (work.state === IDLE ? work : new Work(ports)).arm(cycles);
  env.print = (message) => (print.state === IDLE ? print : new Message(ports, TRAP_PRINT)).arm(message);
  env.shutdown = (status) => (shutdown.state === IDLE ? shutdown : new Message(ports, TRAP_SHUTDOWN)).arm(status);
  env.codeAddress = (body: ProgramBody) => text.codeAddress(body);
  return Object.freeze(env);
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The environment object: its operations are own properties (closures, so a program may pass
 * them around detached), the thread's registers are getters on this frozen class. Not an object
 * literal with getters, which V8 keeps as a dictionary: every `env.read32` would then be an
 * uncached property lookup. The thread is a private field, out of the program's reach.
 */
class Environment {
  readonly #thread: Thread;

  constructor(thread: Thread) {
    this.#thread = thread;
  }

  get utcb(): number {
    return this.#thread.utcbAddress;
  }
  get sp(): number {
    return this.#thread.sp;
  }
  get ip(): number {
    return this.#thread.ip;
  }
}
Object.freeze(Environment.prototype);
Object.freeze(Environment);

function checkBulk(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > BULK_LIMIT) {
    throw new RangeError(`a bulk access takes 0 to ${BULK_LIMIT} bytes, got ${String(length)}`);
  }
  return length;
}
