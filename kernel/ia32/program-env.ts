// The environment of a program thread: its memory accesses, system calls and debugging aids.
//
// Each operation is a generator the program runs with `yield*`. A memory access translates
// through the MMU at CPL 3 in the thread's own address space (the one in CR3 while it runs). If
// the translation faults, the operation yields a fault trap; the kernel turns it into page-fault
// IPC to the thread's pager and resumes the operation after the reply, which retries the access
// from the start. Bulk operations go word by word (one access per 32-bit word, like a string
// instruction), so they fault page by page and resume where they stopped. After every operation
// the timer is polled, as a CPU samples its interrupt line between instructions.
//
// Traps carry no data of their own: the operation stores what the kernel needs in the thread
// (system-call number and arguments, fault address, text) and yields one of the TRAP_ tags, so
// a system call or a fault allocates nothing on the way in.

import { Access, type HardwareInterface } from '../../emulator/hardware.ts';
import type { Op, ProgramBody, ProgramEnv } from '../../libl4/abi.ts';
import type { ProgramText } from './text.ts';
import type { Thread } from '../generic/thread.ts';

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

export function createProgramEnv(hw: HardwareInterface, text: ProgramText, thread: Thread): ProgramEnv {
  const cpu = hw.cpu;
  const physical = hw.physical;
  const timer = hw.timer;
  const READ = Access.Read;
  /** The current system call's argument words (reused: a call allocates nothing). */
  const argWords: number[] = new Array<number>(MAX_ARGS).fill(0);
  const WRITE = Access.Write;

  /** Records the fault the MMU just raised and returns the trap to yield. */
  const fault = (): Trap => {
    thread.faultAddress = cpu.cr2;
    thread.faultErrorCode = cpu.lastErrorCode;
    return TRAP_FAULT;
  };

  /** The second page's physical address of the span translateSpan translated last. */
  let secondPage = 0;

  /**
   * Translates every page of [address, address + size) for `kind`, each once, as the CPU does
   * for an access that crosses a page; -1 when one faults. Returns the first byte's physical
   * address and leaves the second page's in `secondPage`.
   */
  const translateSpan = (address: number, size: number, kind: 0 | 1): number => {
    const first = cpu.tryTranslate(address, kind, 3);
    if (first < 0 || (address & 0xfff) + size <= 0x1000) return first;
    secondPage = cpu.tryTranslate((address + size - 1) & ~0xfff, kind, 3);
    return secondPage < 0 ? -1 : first;
  };

  /** The physical address of byte `i` of a span translateSpan just translated. */
  const spanByte = (address: number, first: number, i: number): number => {
    const byteAddress = (address + i) >>> 0;
    return (byteAddress & ~0xfff) === (address & ~0xfff) ? first + i : secondPage + (byteAddress & 0xfff);
  };

  const readSpan = (address: number, first: number, size: number): number => {
    if ((address & 0xfff) + size <= 0x1000) {
      return size === 4 ? physical.read32(first) : size === 2 ? physical.read16(first) : physical.read8(first);
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= physical.read8(spanByte(address, first, i)) << (8 * i);
    return value >>> 0;
  };

  const writeSpan = (address: number, first: number, size: number, value: number): void => {
    if ((address & 0xfff) + size <= 0x1000) {
      if (size === 4) physical.write32(first, value);
      else if (size === 2) physical.write16(first, value);
      else physical.write8(first, value);
      return;
    }
    for (let i = 0; i < size; i++) physical.write8(spanByte(address, first, i), value >>> (8 * i));
  };

  function* read(address: number, size: number): Op<number> {
    address >>>= 0;
    let first: number;
    while ((first = translateSpan(address, size, READ)) < 0) yield fault();
    const value = readSpan(address, first, size);
    if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
    return value;
  }

  function* write(address: number, size: number, value: number): Op<void> {
    address >>>= 0;
    let first: number;
    while ((first = translateSpan(address, size, WRITE)) < 0) yield fault();
    writeSpan(address, first, size, value);
    if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
  }

  function* read32(address: number): Op<number> {
    address >>>= 0;
    if ((address & 3) !== 0) return yield* read(address, 4);
    let pa: number;
    while ((pa = cpu.tryTranslate(address, READ, 3)) < 0) yield fault();
    const value = physical.read32(pa);
    if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
    return value;
  }

  function* write32(address: number, value: number): Op<void> {
    address >>>= 0;
    if ((address & 3) !== 0) return yield* write(address, 4, value);
    let pa: number;
    while ((pa = cpu.tryTranslate(address, WRITE, 3)) < 0) yield fault();
    physical.write32(pa, value);
    if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
  }

  /**
   * Copies from step `offset` on until done or until a translation faults (the MMU has then
   * recorded the fault); returns where it stopped. Not a generator, so the loop stays fast.
   */
  const copySteps = (to: number, from: number, offset: number, length: number): number => {
    while (offset < length) {
      const source = (from + offset) >>> 0;
      const destination = (to + offset) >>> 0;
      const count = Math.min(4 - (source & 3), 4 - (destination & 3), length - offset);
      const read = cpu.tryTranslate(source, READ, 3);
      if (read < 0) return offset;
      const written = cpu.tryTranslate(destination, WRITE, 3);
      if (written < 0) return offset;
      if (count === 4) physical.write32(written, physical.read32(read));
      else for (let i = 0; i < count; i++) physical.write8(written + i, physical.read8(read + i));
      offset += count;
    }
    return offset;
  };

  /** Visits [address, address + length) one access per aligned dword (or part of one). */
  function* bulk(address: number, length: number, kind: 0 | 1, visit: (pa: number, offset: number, count: number) => void): Op<void> {
    checkBulk(length);
    let offset = 0;
    while (offset < length) {
      const at = (address + offset) >>> 0;
      const count = Math.min(4 - (at & 3), length - offset);
      let pa: number;
      while ((pa = cpu.tryTranslate(at, kind, 3)) < 0) yield fault();
      visit(pa, offset, count);
      offset += count;
    }
    if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
  }

  const env: ProgramEnv = {
    get utcb() {
      return thread.utcbAddress;
    },
    get sp() {
      return thread.sp;
    },
    get ip() {
      return thread.ip;
    },
    read8: (address) => read(address, 1),
    read16: (address) => read(address, 2),
    read32,
    write8: (address, value) => write(address, 1, value),
    write16: (address, value) => write(address, 2, value),
    write32,
    *readWords(address, count) {
      checkBulk(count * 4);
      const words: number[] = [];
      for (let i = 0; i < count; i++) words.push(yield* read32((address + 4 * i) >>> 0));
      return words;
    },
    *writeWords(address, words) {
      checkBulk(words.length * 4);
      for (let i = 0; i < words.length; i++) yield* write32((address + 4 * i) >>> 0, words[i]! >>> 0);
    },
    *readBytes(address, length) {
      const out = new Uint8Array(checkBulk(length));
      yield* bulk(address, length, READ, (pa, offset, count) => {
        for (let i = 0; i < count; i++) out[offset + i] = physical.read8(pa + i);
      });
      return out;
    },
    *writeBytes(address, data) {
      if (!ArrayBuffer.isView(data) || (data as Uint8Array).BYTES_PER_ELEMENT !== 1) throw new TypeError('writeBytes takes a Uint8Array');
      yield* bulk(address, data.length, WRITE, (pa, offset, count) => {
        for (let i = 0; i < count; i++) physical.write8(pa + i, data[offset + i]!);
      });
    },
    *fill(address, length, value) {
      yield* bulk(address, length, WRITE, (pa, _offset, count) => {
        for (let i = 0; i < count; i++) physical.write8(pa + i, value);
      });
    },
    *copy(to, from, length) {
      checkBulk(length);
      let offset = 0;
      // Steps run in copySteps until one faults; the fault is taken here and the step retried.
      while ((offset = copySteps(to, from, offset, length)) < length) yield fault();
      if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
    },
    *syscall(number, args) {
      thread.trapNumber = Number(number) >>> 0;
      // The words are copied here, in the program's own step: a hostile array (an element
      // getter, a proxy) can only raise in the program, never later in the kernel's decoding.
      const count = Array.isArray(args) ? Math.min(args.length, MAX_ARGS) : 0;
      for (let i = 0; i < MAX_ARGS; i++) argWords[i] = i < count ? args[i] : 0;
      thread.trapArgCount = count;
      thread.trapArgs = argWords;
      const results = (yield TRAP_SYSCALL) as number[];
      // A timer interrupt due by now is taken on the way back to the program, as after any step,
      // so a thread that only makes system calls is preempted too.
      if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
      return results;
    },
    *work(cycles) {
      if (!Number.isSafeInteger(cycles) || cycles < 0) throw new RangeError(`work takes a whole number of cycles, got ${String(cycles)}`);
      cpu.charge(cycles);
      if (timer.due(cpu.cycles)) yield TRAP_PREEMPT;
    },
    *print(message) {
      thread.trapText = String(message).slice(0, PRINT_LIMIT);
      yield TRAP_PRINT;
    },
    *shutdown(status) {
      thread.trapNumber = Number(status) >>> 0;
      yield TRAP_SHUTDOWN;
    },
    codeAddress(body: ProgramBody) {
      return text.codeAddress(body);
    },
  };
  return Object.freeze(env);
}

function checkBulk(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > BULK_LIMIT) {
    throw new RangeError(`a bulk access takes 0 to ${BULK_LIMIT} bytes, got ${String(length)}`);
  }
  return length;
}
