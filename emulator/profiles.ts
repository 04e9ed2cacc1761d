// CPU profiles: which IA-32 processor the machine models, as TLB geometry, paging features and
// the cycle costs the deterministic cycle model charges.
//
// A profile is data, not code, so a user can read exactly what is modelled. Every cost names its
// source beside it. Where no public measurement pins a figure down the comment says "estimate"
// and what the estimate is derived from; the kernel's README compares the totals these produce
// (IPC, page-fault round trips) with published figures for the same CPU class.
//
// The model charges whole cycles per event; nothing depends on the host's speed or clock.

/** One TLB array: `entries` translations in `entries / ways` sets of `ways` ways. */
export interface TlbGeometry {
  readonly entries: number;
  readonly ways: number;
}

/** The TLBs of one side (data or instruction): one array for 4 KiB pages, one for 4 MiB pages. */
export interface TlbSideGeometry {
  readonly small: TlbGeometry;
  /** null: the CPU has no large-page TLB on this side (it has no large pages at all). */
  readonly large: TlbGeometry | null;
}

/**
 * Replacement within a set. `lru`: the least recently used way. `plru`: the tree pseudo-LRU of
 * the i486 manual (three bits per 4-way set). Invalid ways are always filled first.
 */
export type TlbReplacement = 'lru' | 'plru';

/** Cycle costs charged by the model, in core clock cycles. */
export interface CycleCosts {
  /** One memory access whose translation hits the TLB: the access itself. */
  readonly tlbHit: number;
  /** Each page-directory or page-table read made by a page walk. */
  readonly walkReference: number;
  /** Each write-back of an entry to set its A or D bit (a locked read-modify-write). */
  readonly accessedDirtyWrite: number;
  /** INVLPG. */
  readonly invlpg: number;
  /** MOV to CR3 (the refill misses it causes are charged as they happen). */
  readonly movCr3: number;
  /** MOV to CR0 or CR4. */
  readonly movCr0Cr4: number;
  /** Exception or interrupt entry through a gate from CPL 3 to CPL 0 (charged by the kernel). */
  readonly exceptionEntry: number;
  /** IRET back to CPL 3 (charged by the kernel). */
  readonly exceptionReturn: number;
  /** System-call entry (charged by the kernel). */
  readonly systemCallEntry: number;
  /** System-call exit (charged by the kernel). */
  readonly systemCallExit: number;
  /** One step of a program thread that is not a memory access (charged by the kernel). */
  readonly programStep: number;
}

export interface CpuProfile {
  readonly name: string;
  readonly description: string;
  /** Core clock in Hz: turns cycles into emulated time (SystemClock, timeouts). */
  readonly clockHz: number;
  /** CR4 exists (Pentium and later). Without it every CR4 bit is reserved. */
  readonly hasCr4: boolean;
  /** CR4.PSE: 4 MiB pages. */
  readonly pse: boolean;
  /** CR4.PGE: global pages. */
  readonly pge: boolean;
  readonly dataTlb: TlbSideGeometry;
  /** null: one unified TLB serves data and instruction fetches (the i486). */
  readonly instructionTlb: TlbSideGeometry | null;
  readonly replacement: TlbReplacement;
  readonly costs: CycleCosts;
}

/**
 * Intel i486 (DX2-66). Unified 32-entry 4-way TLB with pseudo-LRU replacement
 * (reference/ia32-paging.md); no CR4, so no 4 MiB and no global pages; CR3 loads flush the whole
 * TLB.
 */
const i486: CpuProfile = {
  name: 'i486',
  description: 'Intel i486DX2-66: unified TLB 32 x 4 KiB, 4-way, pseudo-LRU; no PSE, no PGE',
  clockHz: 66_000_000,
  hasCr4: false,
  pse: false,
  pge: false,
  dataTlb: { small: { entries: 32, ways: 4 }, large: null },
  instructionTlb: null,
  replacement: 'plru',
  costs: {
    // A load that hits the on-chip cache completes in 1 clock (the i486's single-cycle L1).
    tlbHit: 1,
    // A page walk reads the directory and table entry over the bus: estimate, 5 clocks each
    // (a 2-clock bus cycle plus wait states on a typical 486 board).
    walkReference: 5,
    // A/D updates are locked bus read-modify-writes: estimate, 5 clocks like a walk reference.
    accessedDirtyWrite: 5,
    // INVLPG: estimate, 12 clocks, as commonly tabulated for the i486 (microcoded, no bus cycle).
    invlpg: 12,
    // MOV CR3: estimate, 4 clocks, as commonly tabulated for the i486; the whole-TLB flush it
    // causes is paid for by the refill walks that follow.
    movCr3: 4,
    // MOV CR0: estimate, 17 clocks, as commonly tabulated for the i486 (it serialises).
    movCr0Cr4: 17,
    // INT n through an interrupt gate with a stack switch, and IRET to CPL 3: estimate, 44 and 36
    // clocks, of the order of the i486 instruction-timing tables for gate transfers.
    exceptionEntry: 44,
    exceptionReturn: 36,
    // The i486 has no SYSENTER: system calls use INT/IRET, same figures.
    systemCallEntry: 44,
    systemCallExit: 36,
    // One program step: estimate, 1 clock per simple instruction (i486 pipeline).
    programStep: 1,
  },
};

/**
 * Intel Pentium III (Coppermine, 733 MHz). TLB geometry from reference/ia32-paging.md and the
 * CPUID cache descriptors 01h-04h: instruction TLB 32 x 4 KiB 4-way and 2 x 4 MiB fully
 * associative; data TLB 64 x 4 KiB 4-way and 8 x 4 MiB 4-way.
 * PSE and PGE. Intel does not document the P6 TLB replacement; LRU is the usual model.
 */
const p3: CpuProfile = {
  name: 'p3',
  description: 'Intel Pentium III 733 MHz: DTLB 64 x 4 KiB 4-way + 8 x 4 MiB, ITLB 32 x 4 KiB 4-way + 2 x 4 MiB; PSE, PGE',
  clockHz: 733_000_000,
  hasCr4: true,
  pse: true,
  pge: true,
  dataTlb: { small: { entries: 64, ways: 4 }, large: { entries: 8, ways: 4 } },
  instructionTlb: { small: { entries: 32, ways: 4 }, large: { entries: 2, ways: 2 } },
  replacement: 'lru',
  costs: {
    // A TLB hit adds no latency on P6: the access is charged as one cycle of issue, the unit of
    // the model (as sys161 charges one cycle per instruction).
    tlbHit: 1,
    // Each walk reference is a load that usually hits the Coppermine's on-die L2: estimate,
    // 8 cycles, the order of that L2's load-to-use latency.
    walkReference: 8,
    // Setting A or D is a locked read-modify-write of the entry: estimate, 20 cycles, the order
    // of a LOCK-prefixed read-modify-write on P6.
    accessedDirtyWrite: 20,
    // INVLPG: estimate, 25 cycles; it is microcoded and serialising on P6. Refill misses it
    // causes are charged when they happen.
    invlpg: 25,
    // MOV CR3: 22 cycles, the upper end of the Pentium's 12-22 (reference/ia32-paging.md).
    movCr3: 22,
    // MOV CR0/CR4: estimate, 22 cycles, the same serialising path as MOV CR3.
    movCr0Cr4: 22,
    // Exception entry through an interrupt gate with a stack switch, and IRET back: estimate,
    // 110 + 90 cycles. Scaled down from reference/ia32-paging.md's ~700 + 240-330 on Core Duo /
    // Haswell, whose deeper pipelines make exceptions dearer than on P6.
    exceptionEntry: 110,
    exceptionReturn: 90,
    // SYSENTER/SYSEXIT, which L4Ka::Pistachio's IA-32 IPC path uses on P6: estimate, 35 + 30
    // cycles, chosen so that a one-way IPC lands near the 121-170 cycles of reference/
    // ia32-paging.md (Liedtke et al. 1997; Pistachio on a Pentium III) once the kernel's own
    // steps are added.
    systemCallEntry: 35,
    systemCallExit: 30,
    // One program step: estimate, 1 cycle per simple instruction (the P6 retires up to 3).
    programStep: 1,
  },
};

/** Every profile by name. `p3` is the default. */
export const PROFILES: Readonly<Record<string, CpuProfile>> = Object.freeze({ i486, p3 });

export const DEFAULT_PROFILE = 'p3';

/** The named profile, or a RangeError that lists the known names. */
export function getProfile(name: string = DEFAULT_PROFILE): CpuProfile {
  const profile = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!profile) {
    throw new RangeError(`unknown CPU profile '${name}': known profiles are ${Object.keys(PROFILES).join(', ')}`);
  }
  return profile;
}
