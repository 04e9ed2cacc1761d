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
//
// This file builds the environment; the operations are beside it: env-operation.ts (traps,
// limits, results, the Operation base), env-access.ts (single accesses), env-words.ts (word
// arrays), env-bytes.ts (byte ranges and copy), env-calls.ts (system calls, work, messages).

import type { HardwareInterface } from '../../emulator/hardware.ts';
import type { Op, ProgramBody, ProgramEnv } from '../../libl4/abi.ts';
import type { Thread } from '../generic/thread.ts';
import type { ProgramText } from './text.ts';
import { TRAP_PRINT, TRAP_SHUTDOWN, TRAP_TRACE, type ProgramEnvOptions, type Ports, IDLE } from './env-operation.ts';
import { ReadWord, WriteWord, SpanAccess } from './env-access.ts';
import { ReadWords, ReadWordsInto, WriteWords } from './env-words.ts';
import { ReadBytes, ReadBytesInto, WriteBytes, Fill, Copy } from './env-bytes.ts';
import { Syscall, Work, Message } from './env-calls.ts';

export { TRAP_FAULT, TRAP_PREEMPT, TRAP_PRINT, TRAP_SHUTDOWN, TRAP_SYSCALL, TRAP_TRACE, type ProgramEnvOptions } from './env-operation.ts';

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
  const trace = new Message(ports, TRAP_TRACE);

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
  env.trace = (text) => (trace.state === IDLE ? trace : new Message(ports, TRAP_TRACE)).arm(text);
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
