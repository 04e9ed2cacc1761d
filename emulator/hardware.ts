// The hardware interface: everything the kernel may use of the machine, and nothing more.
//
// The kernel (kernel/) imports only this file from emulator/ (test/layering.test.ts holds it to
// that). It gets physical memory, the CPU's control registers, INVLPG and user-mode address
// translation, the cycle clock, the interval timer, the interrupt controller and the console, the
// way an IA-32 kernel gets them through instructions and devices. It also carries the IA-32 paging formats, which are
// architecture, not emulator internals.

import type { MmuCounters } from './mmu.ts';
import type { CpuProfile } from './profiles.ts';
import type { AccessKind, Cpl } from './paging.ts';

export type { AccessKind, Cpl } from './paging.ts';
export type { CpuProfile, CycleCosts } from './profiles.ts';
export type { MmuCounters, TranslationView } from './mmu.ts';
export {
  Access,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  LARGE_PAGE_SIZE,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PG_A,
  PG_D,
  PG_FRAME,
  PG_G,
  PG_LARGE_FRAME,
  PG_P,
  PG_PS,
  PG_RW,
  PG_US,
  SMALL_PAGE_SIZE,
  hex32,
} from './paging.ts';

/** Physical memory as the kernel sees it: 32-bit physical addresses, little-endian. */
export interface PhysicalMemoryPort {
  readonly size: number;
  /**
   * RAM itself, for bulk copies within pages known to be in RAM (index = physical address, and
   * physical address / 4 for `words`): what a kernel's direct map of physical memory gives it.
   * The methods below also cover addresses past the end of RAM (and count them).
   */
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  read8(pa: number): number;
  read16(pa: number): number;
  read32(pa: number): number;
  write8(pa: number, value: number): void;
  write16(pa: number, value: number): void;
  write32(pa: number, value: number): void;
  readBytes(pa: number, length: number): Uint8Array;
  writeBytes(pa: number, data: Uint8Array): void;
  fill(pa: number, length: number, value: number): void;
  /** Copies `length` bytes from `from` to `to` (a memmove). */
  copy(to: number, from: number, length: number): void;
}

/** The CPU's paging side and its cycle clock. */
export interface CpuPort {
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  invlpg(linear: number): void;
  /**
   * Translates an access as the CPU would make it at `cpl`: the physical address, or -1 for a
   * page fault (CR2 and `lastErrorCode` set, the faulting page's TLB entries dropped).
   */
  tryTranslate(linear: number, kind: AccessKind, cpl: Cpl): number;
  /** A dword-aligned read at `cpl`: the word, or -1 for a page fault (recorded as by tryTranslate). */
  tryRead32(linear: number, cpl: Cpl): number;
  /** A dword-aligned write at `cpl`: false for a page fault (recorded as by tryTranslate). */
  tryWrite32(linear: number, value: number, cpl: Cpl): boolean;
  /**
   * Batched translation, as a string instruction makes it: `count` dword accesses within one
   * page, the first at `linear` and the others at the dwords after it, counted exactly as that
   * many tryTranslate calls would count them (only the first can miss or fault). The physical
   * address of `linear`, or -1 for a page fault of the first access.
   */
  trySpan32(linear: number, count: number, kind: AccessKind, cpl: Cpl): number;
  /**
   * After a string-move step that translated both pages, counts `count` more steps (a read in
   * `from`'s page, then a write in `to`'s page) as the hits they are. False, with nothing
   * counted, when the pages are not both cached for that; the caller then goes step by step.
   */
  repeatMove32(from: number, to: number, count: number, cpl: Cpl): boolean;
  readonly lastErrorCode: number;
  /** Charges cycles for work the MMU does not see (exceptions, system calls, kernel steps). */
  charge(cycles: number): void;
  /** The cycle count now. */
  readonly cycles: number;
  /** cycles >= `cycle`, the poll of a timer deadline between steps: cheap while only hits happen. */
  cyclesReached(cycle: number): boolean;
  /** How many further TLB hits (each the profile's tlbHit cycles) bring the count to `cycle`; 0 if it is there. */
  hitsUntil(cycle: number): number;
  readonly counters: MmuCounters;
}

export interface TimerPort {
  /** Cycle count at which the interrupt is raised; Infinity when disarmed. */
  readonly deadline: number;
  interrupts: number;
  arm(cycle: number): void;
  disarm(): void;
  /** Is the CPU's interrupt line due at `now`: the timer's deadline passed, or a device's request pending? */
  due(now: number): boolean;
}

/** The interrupt controller: device lines, their mask, and acknowledgement (interrupt-controller.ts). */
export interface InterruptControllerPort {
  readonly lines: number;
  mask(line: number): void;
  unmask(line: number): void;
  isMasked(line: number): boolean;
  /** Lines raised by `now` and not masked: bit n for line n. */
  pending(now: number): number;
  /** Takes the request of `line` (clears its request bit). */
  acknowledge(line: number): void;
  /** Cycle of the next scheduled raise (Infinity: none). */
  readonly nextRaise: number;
}

export interface ConsolePort {
  write(text: string): void;
}

export interface HardwareInterface {
  readonly profile: CpuProfile;
  readonly physical: PhysicalMemoryPort;
  readonly cpu: CpuPort;
  readonly timer: TimerPort;
  readonly interrupts: InterruptControllerPort;
  readonly console: ConsolePort;
}
