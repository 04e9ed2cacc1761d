// The environment's byte ranges and copy: readBytes, readBytesInto, writeBytes, fill and copy,
// one access per aligned dword (or part of one), batched a page at a time (program-env.ts).

import type { PhysicalMemoryPort } from '../../emulator/hardware.ts';
import { TRAP_PREEMPT, SMALL_COPY, NO_BYTES, type Ports, IDLE, ARMED, NoResult, ValueResult, CheckedOperation, checkBulk } from './env-operation.ts';

// ---- Byte ranges --------------------------------------------------------------------------------

/**
 * readBytes, writeBytes and fill: one access per aligned dword the range touches (or part of
 * one), the timer polled once at the end. Batched, each page's part of the range is one span.
 */
export abstract class ByteRange<T> extends CheckedOperation<T> {
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

export class ReadBytes extends ByteRange<Uint8Array> {
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
export class ReadBytesInto extends ByteRange<void> {
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

export class WriteBytes extends ByteRange<void> {
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

export class Fill extends ByteRange<void> {
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
export class Copy extends CheckedOperation<void> {
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
export function moveForward(memory: PhysicalMemoryPort, to: number, from: number, n: number): void {
  if (to <= from || to >= from + n) {
    memory.copy(to, from, n);
    return;
  }
  const bytes = memory.bytes;
  for (let i = 0; i < n; i++) bytes[to + i] = bytes[from + i]!;
}
