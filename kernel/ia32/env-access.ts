// The environment's single accesses: read and write of a byte, half or word (program-env.ts),
// each one access (or two when it crosses a page), faulting and resuming like an instruction.

import { TRAP_PREEMPT, type Ports, IDLE, ARMED, SUSPENDED, WordResult, NoResult, Operation } from './env-operation.ts';

// ---- Single accesses ----------------------------------------------------------------------------

/** read32 of an aligned address: the hottest operation there is. */
export class ReadWord extends Operation<number> {
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
export class WriteWord extends Operation<void> {
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
export class SpanAccess<T extends number | void> extends Operation<T> {
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
