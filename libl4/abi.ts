// The binary interface between user programs and the kernel: system-call numbers and their
// argument and result words, the UTCB layout, thread-id and error-code constants, and the
// environment object a program thread runs with.
//
// Shared by libl4 (the user side) and the kernel (which implements it), so both read the same
// offsets. It follows L4 X.2 (reference/l4-x2.md) with the IA-32 binding's sizes. Where a
// program thread differs from an IA-32 thread (a TypeScript generator instead of machine code),
// the differences are stated here and in kernel/README.md.

// ---- System calls ------------------------------------------------------------------------------
//
// A program makes a system call with `yield* env.syscall(number, args)`; the kernel returns the
// result words. Message registers, buffer registers and the other thread control registers live in
// the UTCB in emulated memory, as on IA-32, and programs reach them with ordinary memory accesses.
//
//   call               args                                                  results
//   KernelInterface    -                                                     kipAddress, apiVersion, apiFlags, kernelId
//   ExchangeRegisters  dest, control, sp, ip, flags, userHandle, pager       result, control, sp, ip, flags, userHandle, pager
//   ThreadControl      dest, space, scheduler, pager, utcbLocation           result
//   SystemClock        -                                                     low, high (microseconds since boot)
//   ThreadSwitch       dest                                                  -
//   Schedule           dest, timeControl, processorControl, priority, preemptionControl
//                                                                            result, timeControl
//   Ipc                to, fromSpecifier, timeouts                           from
//   Lipc               to, fromSpecifier, timeouts                           from (same as Ipc)
//   Unmap              control                                               -
//   SpaceControl       space, control, kipArea, utcbArea, redirector        result, control
//   ProcessorControl   processorNo, internalFrequency, externalFrequency, voltage
//                                                                            result
//   MemoryControl      control, attribute0..3                                result
//
// Missing argument words read as 0; extra ones are ignored. Every word is taken modulo 2^32. A
// number that is not in the table is an invalid system call: exception #GP (see Exception IPC).
export const Syscall = {
  KernelInterface: 0,
  ExchangeRegisters: 1,
  ThreadControl: 2,
  SystemClock: 3,
  ThreadSwitch: 4,
  Schedule: 5,
  Ipc: 6,
  Lipc: 7,
  Unmap: 8,
  SpaceControl: 9,
  ProcessorControl: 10,
  MemoryControl: 11,
} as const;
export type SyscallNumber = (typeof Syscall)[keyof typeof Syscall];
export const SYSCALL_NAMES: readonly string[] = Object.keys(Syscall);

// ---- UTCB --------------------------------------------------------------------------------------
//
// 512 bytes, 512-byte aligned; the thread's local id is its UTCB's address.
//
//   offset  what
//   0x000   thread control registers (TCRs), below
//   0x040   BR0..BR32 (33 words)
//   0x100   MR0..MR63 (64 words)
export const UTCB_SIZE = 512;
/**
 * ThreadControl's UTCB location -1: "not set" when creating a thread (it is created inactive, its
 * location given by a later ThreadControl) and "unchanged" when modifying one.
 */
export const UTCB_LOCATION_NOT_SET = 0xffffffff;
export const TCR_MY_GLOBAL_ID = 0x00;
export const TCR_PROCESSOR_NO = 0x04;
export const TCR_USER_DEFINED_HANDLE = 0x08;
export const TCR_PAGER = 0x0c;
export const TCR_EXCEPTION_HANDLER = 0x10;
/** Preemption flags (bit 0: delay preemption requested, bit 1: preemption pending). */
export const TCR_PREEMPT_FLAGS = 0x14;
export const TCR_ERROR_CODE = 0x18;
/** Transfer timeouts: send (high 16) and receive (low 16), for string items. */
export const TCR_XFER_TIMEOUTS = 0x1c;
export const TCR_INTENDED_RECEIVER = 0x20;
export const TCR_VIRTUAL_ACTUAL_SENDER = 0x24;
export const TCR_THREAD_WORD0 = 0x28;
export const TCR_THREAD_WORD1 = 0x2c;
export const UTCB_BR_OFFSET = 0x40;
export const UTCB_MR_OFFSET = 0x100;
export const MR_COUNT = 64;
export const BR_COUNT = 33;

/** Byte offset of MRi in the UTCB. */
export function mrOffset(i: number): number {
  return UTCB_MR_OFFSET + 4 * i;
}
/** Byte offset of BRi in the UTCB. */
export function brOffset(i: number): number {
  return UTCB_BR_OFFSET + 4 * i;
}

// ---- Thread ids --------------------------------------------------------------------------------
//
// Global id: thread number in bits 31-14, version in bits 13-0 (a version's low 6 bits are never
// all zero, which tells global from local ids). Local id: the UTCB address (low 6 bits zero).
export const NILTHREAD = 0;
export const ANYTHREAD = 0xffffffff;
export const ANYLOCALTHREAD = 0xffffffc0;
export const THREAD_NUMBER_SHIFT = 14;
export const THREAD_VERSION_MASK = 0x3fff;

// ---- Error codes (the ErrorCode TCR) ------------------------------------------------------------
export const ErrorCode = {
  NoPrivilege: 1,
  InvalidThread: 2,
  InvalidSpace: 3,
  InvalidScheduler: 4,
  InvalidParameter: 5,
  UtcbArea: 6,
  KipArea: 7,
  NoMemory: 8,
} as const;

/** IPC error codes: ErrorCode TCR = (code << 1) | phase, phase 0 send, 1 receive. */
export const IpcError = {
  Timeout: 1,
  NonExistingPartner: 2,
  Canceled: 3,
  MessageOverflow: 4,
  XferTimeoutInvoker: 5,
  XferTimeoutPartner: 6,
  Aborted: 7,
} as const;

/** Kernel-made message labels (upper 16 bits of MR0). */
export const Label = {
  Interrupt: 0xfff0, // -1 << 4
  PageFault: 0xffe0, // -2 << 4, low 4 bits: rwx of the access
  Preemption: 0xffd0, // -3 << 4
  Exception: 0xffb0, // -5 << 4
  Sigma0: 0xffa0, // -6 << 4
} as const;

// ---- Exception IPC ------------------------------------------------------------------------------
//
// A program thread that raises an exception is reported to its exception handler (the
// ExceptionHandler TCR) by a call with label Exception and 12 untyped words in the IA-32 layout
// below; without a handler it is halted and reported on the console. The reply's words are the
// thread's new registers (a reply with fewer words leaves the rest as reported): with the same
// IP the thread continues after the operation that raised the exception (an invalid system call
// returns [EAX]); with another IP, or after a host exception (the body is gone), the thread is
// started afresh at the IP with the SP. Instead of replying, the handler may delete the thread.
// A program thread has no general registers: EDI, ESI, EBP, EBX, EDX and ECX read as 0.
//
//   MR1 EIP (the thread's IP: its entry)   MR5 EDI   MR9  EBX
//   MR2 EFLAGS (the thread's flags)        MR6 ESI   MR10 EDX
//   MR3 exception number (below)           MR7 EBP   MR11 ECX
//   MR4 error code (0 for all below)       MR8 ESP   MR12 EAX (the system-call number for #GP)
export const ExceptionMr = { Eip: 1, Eflags: 2, Exception: 3, ErrorCode: 4, Edi: 5, Esi: 6, Ebp: 7, Esp: 8, Ebx: 9, Edx: 10, Ecx: 11, Eax: 12 } as const;
export const EXCEPTION_MESSAGE_WORDS = 12;

/** The exception numbers of exception IPC (MR3): IA-32 vectors where one fits. */
export const ExceptionNumber = {
  /** #UD (6): the program yielded something that is not an operation of its environment. */
  InvalidOpcode: 6,
  /**
   * #GP (13): an invalid system call (a number that is not in the table above; EAX holds it) or
   * a privileged operation (shutdown) by a thread that is not privileged.
   */
  GeneralProtection: 13,
  /**
   * #PF (14): a page fault nothing serves: an access to kernel memory, a thread without a pager,
   * a page-fault IPC that failed, or a pager's map that kernel memory could not hold, again and
   * again. The error code is the fault's; a reply with the same IP tries the access again.
   */
  PageFault: 14,
  /**
   * Not an IA-32 vector: the thread's body raised a host exception (it threw). Its generator has
   * ended, so the reply starts the thread afresh at the IP in MR1.
   */
  HostException: 0x100,
} as const;

/** ExchangeRegisters control bits. */
export const ExchangeControl = {
  /** With HaltValid: the new halt state (1 halted, 0 running). */
  Halt: 1 << 0,
  CancelReceive: 1 << 1,
  CancelSend: 1 << 2,
  SetSp: 1 << 3,
  SetIp: 1 << 4,
  SetFlags: 1 << 5,
  SetUserHandle: 1 << 6,
  SetPager: 1 << 7,
  /** The Halt bit is meant (else the halt state is left alone). */
  HaltValid: 1 << 8,
} as const;

/** The thread states Schedule returns. */
export const ScheduleState = { Error: 0, Dead: 1, Inactive: 2, Running: 3, PendingSend: 4, Sending: 5, WaitingReceive: 6, Receiving: 7 } as const;

// ---- The program environment --------------------------------------------------------------------

/** One step of a program thread: what it yields is the kernel's business; it never looks inside. */
export type Op<T> = Generator<unknown, T, unknown>;

/** A program thread's body. It runs until it returns (the thread then stops) or is deleted. */
export type ProgramBody = (env: ProgramEnv) => Op<void>;

/**
 * What a program thread is given: accesses to its own address space at CPL 3 (each may fault and
 * be resolved by the thread's pager before it completes), system calls, and a few debugging aids.
 * It holds no reference to the machine, the kernel or physical memory.
 *
 * Each operation returns an iterator to run once with `yield*`, at once or later; two held at the
 * same time are independent, as generators would be. After it completed, an operation's iterator
 * may be reused by a later call of the same operation (the environment allocates nothing per
 * access), so a program must not keep iterating one it has finished.
 */
export interface ProgramEnv {
  /** This thread's UTCB address (its local id), as the IA-32 binding gives it in %gs:0. */
  readonly utcb: number;
  /** The stack pointer the thread was started with (a word the starter chooses). */
  readonly sp: number;
  /** The instruction pointer the thread was started at (its entry's code address). */
  readonly ip: number;

  read8(address: number): Op<number>;
  read16(address: number): Op<number>;
  read32(address: number): Op<number>;
  write8(address: number, value: number): Op<void>;
  write16(address: number, value: number): Op<void>;
  write32(address: number, value: number): Op<void>;
  /**
   * Reads `count` 32-bit words from `address` (faulting page by page): one read32 per word, the
   * timer polled after each.
   */
  readWords(address: number, count: number): Op<number[]>;
  /** readWords into the caller's array (`into.length` words), allocating nothing. */
  readWordsInto(address: number, into: Uint32Array): Op<void>;
  /** Writes 32-bit words from `address` (faulting page by page): one write32 per word. */
  writeWords(address: number, words: readonly number[] | Uint32Array): Op<void>;
  /** Reads bytes: one access per aligned dword the range touches (or part of one). */
  readBytes(address: number, length: number): Op<Uint8Array>;
  /** readBytes into the caller's array (`into.length` bytes), allocating nothing. */
  readBytesInto(address: number, into: Uint8Array): Op<void>;
  writeBytes(address: number, data: Uint8Array): Op<void>;
  fill(address: number, length: number, value: number): Op<void>;
  /**
   * Copies `length` bytes from `from` to `to` within this thread's space, as `rep movs` does with
   * the direction flag clear: forward, one read and one write access per step, where a step is
   * the longest piece (at most 4 bytes) that keeps both the source and the destination within one
   * aligned dword. Overlapping ranges copy forward. Faults page by page and resumes where it
   * stopped.
   */
  copy(to: number, from: number, length: number): Op<void>;

  /** A system call: see the table above. */
  syscall(number: number, args: readonly number[]): Op<number[]>;
  /** Models `cycles` cycles of computation (the thread may be preempted meanwhile). */
  work(cycles: number): Op<void>;
  /** Kernel-debugger output: writes `text` to the console. */
  print(text: string): Op<void>;
  /**
   * A trace point (as L4Ka::Pistachio's user-level trace-buffer records): when the kernel is
   * traced, a `user` trace event with `text` (`l4hurd boot --trace user`); nothing otherwise.
   * Costs no cycles either way, so a run traced and one not are the same run.
   */
  trace(text: string): Op<void>;
  /**
   * Stops the machine with exit `status` (the value `l4hurd boot` exits with). Only threads of
   * the root task's or sigma0's space may; any other thread is halted. (Not X.2: the stand-in
   * for a power-off device the root task would drive.)
   */
  shutdown(status: number): Op<void>;
  /**
   * The code address of `body` in this address space: a thread started (by a start message or
   * ExchangeRegisters) at this IP runs `body`. The same body always gets the same address.
   */
  codeAddress(body: ProgramBody): number;
}
