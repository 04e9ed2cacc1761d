// A ProgramEnv without a machine, for testing libl4: a sparse byte-addressed "address space" in a
// Map, a log of every memory access, and system calls answered from a script and recorded with
// their exact argument words.
//
// Its methods are generator functions that never yield (unless `yieldOnSyscall` is set, which
// makes each system call yield one marker first, to check that wrappers pass the environment's
// yields through). `run` drives a libl4 generator to completion and fails if it yields.

import type { Op, ProgramBody, ProgramEnv } from '../../libl4/abi.ts';
import { brOffset, mrOffset, TCR_ERROR_CODE } from '../../libl4/abi.ts';
import { encodeMsgTag } from '../../libl4/msg-tag.ts';

export interface RecordedSyscall {
  number: number;
  args: number[];
}

export interface MemoryAccess {
  kind: 'read' | 'write';
  address: number;
  size: number;
}

/** A scripted kernel action: changes memory as a kernel would and returns the result words. */
export type KernelAction = (args: readonly number[], env: FakeEnv) => readonly number[];
/** A scripted answer: the result words, or a kernel action. */
export type SyscallAnswer = readonly number[] | KernelAction;

export const TEST_UTCB = 0xbf000200;

export class FakeEnv implements ProgramEnv {
  readonly utcb: number;
  readonly sp = 0x7fff0000;
  readonly ip = 0x08048000;
  readonly bytes = new Map<number, number>();
  readonly syscalls: RecordedSyscall[] = [];
  readonly accesses: MemoryAccess[] = [];
  readonly printed: string[] = [];
  yieldOnSyscall = false;
  private readonly script: { number: number | undefined; answer: SyscallAnswer }[] = [];

  constructor(utcb = TEST_UTCB) {
    this.utcb = utcb;
  }

  /** Queues the answer to the next system call (checked to be `number` when given). */
  answer(number: number | undefined, answer: SyscallAnswer): this {
    this.script.push({ number, answer });
    return this;
  }

  get pendingAnswers(): number {
    return this.script.length;
  }

  // ---- direct (non-generator) access for the test itself ----

  peek8(address: number): number {
    return this.bytes.get(address >>> 0) ?? 0;
  }
  peek32(address: number): number {
    let value = 0;
    for (let i = 3; i >= 0; i--) value = value * 256 + this.peek8(address + i);
    return value;
  }
  poke8(address: number, value: number): void {
    this.bytes.set(address >>> 0, value & 0xff);
  }
  poke32(address: number, value: number): void {
    for (let i = 0; i < 4; i++) this.poke8(address + i, (value >>> (8 * i)) & 0xff);
  }
  mr(i: number): number {
    return this.peek32(this.utcb + mrOffset(i));
  }
  mrs(count: number): number[] {
    return Array.from({ length: count }, (_, i) => this.mr(i));
  }
  setMr(i: number, value: number): void {
    this.poke32(this.utcb + mrOffset(i), value);
  }
  br(i: number): number {
    return this.peek32(this.utcb + brOffset(i));
  }
  tcr(offset: number): number {
    return this.peek32(this.utcb + offset);
  }
  setTcr(offset: number, value: number): void {
    this.poke32(this.utcb + offset, value);
  }
  writes(): MemoryAccess[] {
    return this.accesses.filter((access) => access.kind === 'write');
  }
  reads(): MemoryAccess[] {
    return this.accesses.filter((access) => access.kind === 'read');
  }

  // ---- ProgramEnv ----

  *read8(address: number): Op<number> {
    this.accesses.push({ kind: 'read', address, size: 1 });
    return this.peek8(address);
  }
  *read16(address: number): Op<number> {
    this.accesses.push({ kind: 'read', address, size: 2 });
    return this.peek8(address) | (this.peek8(address + 1) << 8);
  }
  *read32(address: number): Op<number> {
    this.accesses.push({ kind: 'read', address, size: 4 });
    return this.peek32(address);
  }
  *write8(address: number, value: number): Op<void> {
    this.accesses.push({ kind: 'write', address, size: 1 });
    this.poke8(address, value);
  }
  *write16(address: number, value: number): Op<void> {
    this.accesses.push({ kind: 'write', address, size: 2 });
    this.poke8(address, value);
    this.poke8(address + 1, value >>> 8);
  }
  *write32(address: number, value: number): Op<void> {
    this.accesses.push({ kind: 'write', address, size: 4 });
    this.poke32(address, value);
  }
  *readWords(address: number, count: number): Op<number[]> {
    this.accesses.push({ kind: 'read', address, size: 4 * count });
    return Array.from({ length: count }, (_, i) => this.peek32(address + 4 * i));
  }
  *readWordsInto(address: number, into: Uint32Array): Op<void> {
    this.accesses.push({ kind: 'read', address, size: 4 * into.length });
    for (let i = 0; i < into.length; i++) into[i] = this.peek32(address + 4 * i);
  }
  *writeWords(address: number, words: readonly number[] | Uint32Array): Op<void> {
    this.accesses.push({ kind: 'write', address, size: 4 * words.length });
    words.forEach((word, i) => this.poke32(address + 4 * i, word));
  }
  *readBytes(address: number, length: number): Op<Uint8Array> {
    this.accesses.push({ kind: 'read', address, size: length });
    return Uint8Array.from({ length }, (_, i) => this.peek8(address + i));
  }
  *readBytesInto(address: number, into: Uint8Array): Op<void> {
    this.accesses.push({ kind: 'read', address, size: into.length });
    for (let i = 0; i < into.length; i++) into[i] = this.peek8(address + i);
  }
  *writeBytes(address: number, data: Uint8Array): Op<void> {
    this.accesses.push({ kind: 'write', address, size: data.length });
    data.forEach((byte, i) => this.poke8(address + i, byte));
  }
  *fill(address: number, length: number, value: number): Op<void> {
    this.accesses.push({ kind: 'write', address, size: length });
    for (let i = 0; i < length; i++) this.poke8(address + i, value);
  }
  *copy(to: number, from: number, length: number): Op<void> {
    this.accesses.push({ kind: 'read', address: from, size: length });
    this.accesses.push({ kind: 'write', address: to, size: length });
    for (let i = 0; i < length; i++) this.poke8(to + i, this.peek8(from + i));
  }
  *syscall(number: number, args: readonly number[]): Op<number[]> {
    if (this.yieldOnSyscall) yield { syscall: number };
    this.syscalls.push({ number, args: [...args] });
    const next = this.script.shift();
    if (!next) throw new Error(`unscripted system call ${number} (${args.join(', ')})`);
    if (next.number !== undefined && next.number !== number) {
      throw new Error(`system call ${number} made where the script expects ${next.number}`);
    }
    const result = typeof next.answer === 'function' ? next.answer(args, this) : next.answer;
    return [...result];
  }
  *work(_cycles: number): Op<void> {}
  *trace(text: string): Op<void> {
    this.printed.push(`trace ${text}`);
  }
  *print(text: string): Op<void> {
    this.printed.push(text);
  }
  *shutdown(status: number): Op<void> {
    this.printed.push(`shutdown ${status}`);
  }
  codeAddress(_body: ProgramBody): number {
    return 0x1000;
  }
}

/** Runs a generator that must not yield to completion and returns its value. */
export function run<T>(op: Op<T>): T {
  const step = op.next();
  if (!step.done) throw new Error(`the operation yielded ${JSON.stringify(step.value)}`);
  return step.value;
}

/** Runs a generator to completion, collecting what it yields. */
export function runCollecting<T>(op: Op<T>): { value: T; yielded: unknown[] } {
  const yielded: unknown[] = [];
  for (;;) {
    const step = op.next();
    if (step.done) return { value: step.value, yielded };
    yielded.push(step.value);
  }
}

/** A kernel answer to Ipc: a message arrives from `from` (MR0 tag, untyped words, typed items). */
export function delivers(from: number, label: number, words: readonly number[] = [], items: readonly number[] = []): KernelAction {
  return (_args, env) => {
    env.setMr(0, encodeMsgTag({ label, untyped: words.length, typed: items.length }));
    [...words, ...items].forEach((word, i) => env.setMr(i + 1, word));
    return [from];
  };
}

/** A kernel answer to Ipc: the IPC failed; MR0 gets E set, the ErrorCode TCR `errorWord`. */
export function fails(errorWord: number, from = 0): KernelAction {
  return (_args, env) => {
    env.setMr(0, (env.mr(0) | 0x8000) >>> 0);
    env.setTcr(TCR_ERROR_CODE, errorWord);
    return [from];
  };
}
