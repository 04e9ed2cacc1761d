// What the kernel's own work costs in the cycle model, per CPU profile, on top of the hardware
// costs the machine charges itself (system-call and exception entry and exit, MOV CR3, INVLPG,
// every memory access, walk and A/D update the kernel's and the programs' accesses cause).
//
// The figures stand for the instructions of the kernel's C paths, which this TypeScript kernel
// does not execute on the modelled CPU. Sources: reference/ia32-paging.md gives Pistachio on a
// Pentium III about 55 cycles of C-path overhead over the IPC fast path and about 170 cycles for
// a context switch plus TLB refill; the rest are estimates of the same order, marked so.

import type { CpuProfile } from '../../emulator/hardware.ts';

export interface KernelCosts {
  /** The IPC path (send and receive phase bookkeeping, partner lookup, queueing). */
  readonly ipcPath: number;
  /** Each message register copied. */
  readonly perWord: number;
  /** Switching the running thread (stack, TCB state); MOV CR3 and refills are charged apart. */
  readonly contextSwitch: number;
  /** Each page mapped or granted: mapping-database insert and PTE write. Estimate. */
  readonly mapPage: number;
  /** Each mapping node revoked or inspected by Unmap. Estimate. */
  readonly unmapNode: number;
  /** The page-fault path: decode, save MRs, build the fault message. Estimate. */
  readonly faultPath: number;
  /** Any other system call's own work. Estimate. */
  readonly syscallPath: number;
  /** Taking a device interrupt: acknowledge and mask the line, build the interrupt IPC. Estimate. */
  readonly interruptPath: number;
  /**
   * Each logical string of a string item: decode the send and buffer strings, set up the copy.
   * Estimate. The copy itself is charged as its accesses: one translated access per page on each
   * side and a TLB hit for every other read and write, as `rep movs` makes them.
   */
  readonly stringItem: number;
}

const p3: KernelCosts = {
  ipcPath: 55, // C-path overhead over the fast path, Pistachio on a Pentium III
  perWord: 1,
  contextSwitch: 60, // with MOV CR3 (22) and the refill misses makes about the 170 quoted
  mapPage: 60,
  unmapNode: 40,
  faultPath: 100,
  syscallPath: 50,
  interruptPath: 60, // the 8259A's INTA cycles and a mask write are port I/O of about 20 cycles each
  stringItem: 40,
};

const i486: KernelCosts = {
  ipcPath: 80,
  perWord: 2,
  contextSwitch: 60,
  mapPage: 80,
  unmapNode: 50,
  faultPath: 120,
  syscallPath: 60,
  interruptPath: 80,
  stringItem: 50,
};

const COSTS: Readonly<Record<string, KernelCosts>> = { p3, i486 };

export function kernelCosts(profile: CpuProfile): KernelCosts {
  return COSTS[profile.name] ?? p3;
}
