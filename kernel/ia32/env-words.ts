// The environment's word arrays: readWords, readWordsInto and writeWords, one access a word,
// batched a page at a time when the rest of a page is long enough (program-env.ts).

import { TRAP_PREEMPT, type Trap, SMALL_COPY, BATCH_MIN, NO_WORDS, NO_WORD_ARRAY, type Ports, IDLE, ARMED, NoResult, ValueResult, CheckedOperation, checkBulk } from './env-operation.ts';
import { SpanAccess } from './env-access.ts';

// ---- Word arrays --------------------------------------------------------------------------------

/**
 * readWords and writeWords: one read32 or write32 per word, the timer polled after each, as
 * `count` separate operations would. Batched, an aligned array goes a page at a time: a word is
 * translated on its own (it may miss or fault), the timer is polled, and then as many of the
 * page's further words as the timer allows before it is due are one run of hits. An unaligned
 * array goes word by word, each an access of its own (two where a word crosses a page).
 */
export abstract class WordArray<T> extends CheckedOperation<T> {
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

export class ReadWords extends WordArray<number[]> {
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
export class ReadWordsInto extends WordArray<void> {
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

export class WriteWords extends WordArray<void> {
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
