// Exhaustive 32-bit paging check in the manner of kvm-unit-tests x86/access.c.
//
// Every combination of PTE flags {P, R/W, U/S, A, D} x PDE flags {P, R/W, U/S, A, D, PS} x
// access {read, write, fetch} x CPL {0, 3} x CR0.WP x CR4.PSE x {cold TLB, TLB primed by a
// supervisor read} (98,304 cases) is run through the MMU and compared with a small reference
// model written from the Intel SDM rules (Vol. 3A ch. 4, reference/ia32-paging.md), not from the
// implementation: fault or not, the exact error code, CR2, the physical address, and the PDE and
// PTE left in memory (A/D updates). A second enumeration checks the reserved bits 21:13 of a
// 4 MiB PDE.

import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Mmu } from '../../emulator/mmu.ts';
import {
  Access,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PSE,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PG_A,
  PG_D,
  PG_P,
  PG_PS,
  PG_RW,
  PG_US,
  PageFault,
  type AccessKind,
  type Cpl,
} from '../../emulator/paging.ts';

// ---- Layout -----------------------------------------------------------------------------------

const RAM_BYTES = 16 * 1024 * 1024;
const PAGE_DIRECTORY = 0x00001000;
/** PDE index 1, PTE index 1, offset 0xABC. */
const LINEAR = 0x00401abc;
const PDE_INDEX = LINEAR >>> 22;
const PTE_INDEX = (LINEAR >>> 12) & 0x3ff;
const PDE_ADDRESS = PAGE_DIRECTORY + PDE_INDEX * 4;
/** The page table the PDE points to; also 4 MiB aligned, so as a 4 MiB frame it has no reserved bits. */
const PAGE_TABLE = 0x00400000;
const PTE_ADDRESS = PAGE_TABLE + PTE_INDEX * 4;
/** The 4 KiB frame every PTE maps. */
const SMALL_FRAME = 0x00abc000;
/** A value CR2 is set to before each case, to see that a successful access leaves it alone. */
const CR2_SENTINEL = 0xdead0000;

const ACCESS_KINDS: readonly AccessKind[] = [Access.Read, Access.Write, Access.Fetch];
const ACCESS_NAME: Record<number, string> = { 0: 'read', 1: 'write', 2: 'fetch' };
const CPLS: readonly Cpl[] = [0, 3];

/** Bit i of a 5-bit PTE combination / 6-bit PDE combination -> entry bit. */
const PTE_FLAG_BITS = [PG_P, PG_RW, PG_US, PG_A, PG_D];
const PDE_FLAG_BITS = [PG_P, PG_RW, PG_US, PG_A, PG_D, PG_PS];

function combine(combo: number, bits: readonly number[]): number {
  let value = 0;
  for (let i = 0; i < bits.length; i++) if (combo & (1 << i)) value |= bits[i]!;
  return value;
}

function hex(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

function flagNames(entry: number, isPde: boolean): string {
  const names: string[] = [];
  if (entry & PG_P) names.push('P');
  if (entry & PG_RW) names.push('RW');
  if (entry & PG_US) names.push('US');
  if (entry & PG_A) names.push('A');
  if (entry & PG_D) names.push('D');
  if (isPde && entry & PG_PS) names.push('PS');
  return names.length > 0 ? names.join('|') : '-';
}

// ---- Reference model (Intel SDM Vol. 3A ch. 4, 32-bit paging, no PAE/NX/SMEP/SMAP) --------------

interface Outcome {
  fault: boolean;
  /** The #PF error code (only when fault). */
  errorCode: number;
  /** The physical address (only when no fault). */
  physical: number;
  /** PDE and PTE as left in memory afterwards. */
  pde: number;
  pte: number;
}

/** Bits 21:13 of a 4 MiB PDE are reserved with 32-bit physical addresses. */
const LARGE_RESERVED_MASK = 0x003fe000;

/**
 * Predicts one access. `pte` is the value of the entry the PDE's frame points to at PTE_INDEX
 * (ignored for a 4 MiB page).
 */
function model(pde: number, pte: number, linear: number, kind: AccessKind, cpl: Cpl, wp: boolean, pse: boolean): Outcome {
  pde >>>= 0;
  pte >>>= 0;
  const write = kind === Access.Write;
  const user = cpl === 3;
  const accessBits = (write ? PF_W : 0) | (user ? PF_U : 0);
  const fault = (errorCode: number): Outcome => ({ fault: true, errorCode, physical: -1, pde, pte });

  // Present, then reserved bits, then protection.
  if (!(pde & PG_P)) return fault(accessBits);
  const large = (pde & PG_PS) !== 0 && pse;
  if (large) {
    if (pde & LARGE_RESERVED_MASK) return fault(PF_RSVD | PF_P | accessBits);
  } else if (!(pte & PG_P)) {
    return fault(accessBits);
  }

  const us = large ? (pde & PG_US) !== 0 : (pde & PG_US) !== 0 && (pte & PG_US) !== 0;
  const rw = large ? (pde & PG_RW) !== 0 : (pde & PG_RW) !== 0 && (pte & PG_RW) !== 0;
  let allowed: boolean;
  if (user) allowed = us && (!write || rw);
  else allowed = !write || rw || !wp; // supervisor read/fetch always; write needs R/W only with WP
  if (!allowed) return fault(PF_P | accessBits);

  // Success: A on the PDE, A on the leaf, D on the leaf for a write; never D on a non-leaf PDE.
  if (large) {
    const newPde = (pde | PG_A | (write ? PG_D : 0)) >>> 0;
    const physical = ((pde & 0xffc00000) | (linear & 0x003fffff)) >>> 0;
    return { fault: false, errorCode: 0, physical, pde: newPde, pte };
  }
  const newPde = (pde | PG_A) >>> 0;
  const newPte = (pte | PG_A | (write ? PG_D : 0)) >>> 0;
  const physical = ((pte & 0xfffff000) | (linear & 0xfff)) >>> 0;
  return { fault: false, errorCode: 0, physical, pde: newPde, pte: newPte };
}

// ---- Running a case on the MMU -------------------------------------------------------------------

interface Observed {
  fault: boolean;
  errorCode: number;
  physical: number;
  cr2: number;
  faultLinear: number;
}

function run(mmu: Mmu, linear: number, kind: AccessKind, cpl: Cpl): Observed {
  try {
    const physical = mmu.translate(linear, kind, cpl);
    return { fault: false, errorCode: 0, physical: physical >>> 0, cr2: mmu.cr2, faultLinear: -1 };
  } catch (e) {
    if (e instanceof PageFault) {
      return { fault: true, errorCode: e.errorCode, physical: -1, cr2: mmu.cr2, faultLinear: e.linear };
    }
    throw e;
  }
}

/** Differences between a prediction and what the MMU did (empty when they agree). */
function compare(expected: Outcome, observed: Observed, linear: number, pdeAfter: number, pteAfter: number, cr2Before: number): string[] {
  const diffs: string[] = [];
  if (expected.fault !== observed.fault) {
    diffs.push(
      expected.fault
        ? `expected #PF ec=${expected.errorCode}, got success pa=${hex(observed.physical)}`
        : `expected success pa=${hex(expected.physical)}, got #PF ec=${observed.errorCode}`,
    );
  } else if (expected.fault) {
    if (expected.errorCode !== observed.errorCode) diffs.push(`error code expected ${expected.errorCode}, got ${observed.errorCode}`);
    if (observed.cr2 !== linear >>> 0) diffs.push(`CR2 expected ${hex(linear)}, got ${hex(observed.cr2)}`);
    if (observed.faultLinear !== linear >>> 0) diffs.push(`PageFault.linear expected ${hex(linear)}, got ${hex(observed.faultLinear)}`);
  } else {
    if (expected.physical !== observed.physical) diffs.push(`physical expected ${hex(expected.physical)}, got ${hex(observed.physical)}`);
    if (observed.cr2 !== cr2Before >>> 0) diffs.push(`CR2 changed on success: ${hex(cr2Before)} -> ${hex(observed.cr2)}`);
  }
  if (expected.pde !== pdeAfter >>> 0) diffs.push(`PDE expected ${hex(expected.pde)}, got ${hex(pdeAfter)}`);
  if (expected.pte !== pteAfter >>> 0) diffs.push(`PTE expected ${hex(expected.pte)}, got ${hex(pteAfter)}`);
  return diffs;
}

/** Resets the machine for one case: entries, then CR4, CR0, CR3 (the CR3 write flushes the TLB). */
function setUp(mmu: Mmu, memory: PhysicalMemory, pde: number, pte: number, pteAddress: number, wp: boolean, pse: boolean): void {
  memory.write32(PDE_ADDRESS, pde);
  memory.write32(pteAddress, pte);
  mmu.cr4 = pse ? CR4_PSE : 0;
  mmu.cr0 = CR0_PE | CR0_PG | (wp ? CR0_WP : 0);
  mmu.cr3 = PAGE_DIRECTORY;
  mmu.cr2 = CR2_SENTINEL;
}

function newMachine(): { memory: PhysicalMemory; mmu: Mmu } {
  const memory = new PhysicalMemory(RAM_BYTES);
  // The directory and the page table start zeroed: every other entry is not present.
  memory.fill(PAGE_DIRECTORY, 4096, 0);
  memory.fill(PAGE_TABLE, 4096, 0);
  const mmu = new Mmu(memory, { profile: 'p3' });
  return { memory, mmu };
}

function formatMismatches(mismatches: string[], total: number): string {
  if (mismatches.length === 0) return '';
  const shown = mismatches.slice(0, 10).join('\n  ');
  return `${mismatches.length} of ${total} cases disagree with the SDM model; the first ${Math.min(10, mismatches.length)}:\n  ${shown}`;
}

// ---- The tests ------------------------------------------------------------------------------------

describe('32-bit paging, exhaustive (kvm-unit-tests access.c style)', () => {
  it('the model agrees with the MMU on every PDE x PTE x access x CPL x WP x PSE x TLB-state case', () => {
    const { memory, mmu } = newMachine();
    const mismatches: string[] = [];
    let cases = 0;
    let faultsObserved = 0;
    let faultsExpected = 0;
    const pageFaultsBefore = mmu.counters.pageFaults;

    for (let pteCombo = 0; pteCombo < 32; pteCombo++) {
      const pteInitial = (SMALL_FRAME | combine(pteCombo, PTE_FLAG_BITS)) >>> 0;
      for (let pdeCombo = 0; pdeCombo < 64; pdeCombo++) {
        const pdeInitial = (PAGE_TABLE | combine(pdeCombo, PDE_FLAG_BITS)) >>> 0;
        for (const kind of ACCESS_KINDS) {
          for (const cpl of CPLS) {
            for (const wp of [false, true]) {
              for (const pse of [false, true]) {
                for (const primed of [false, true]) {
                  cases++;
                  setUp(mmu, memory, pdeInitial, pteInitial, PTE_ADDRESS, wp, pse);
                  const describeCase = (phase: string): string =>
                    `[${phase}] PDE=${hex(pdeInitial)}(${flagNames(pdeInitial, true)}) ` +
                    `PTE=${hex(pteInitial)}(${flagNames(pteInitial, false)}) ` +
                    `${ACCESS_NAME[kind]} CPL${cpl} WP=${wp ? 1 : 0} PSE=${pse ? 1 : 0} ` +
                    `${primed ? 'primed' : 'cold'}`;

                  let pde = pdeInitial;
                  let pte = pteInitial;
                  if (primed) {
                    // A supervisor read of the same address fills the TLB (or faults, leaving nothing).
                    const expectedPrime = model(pde, pte, LINEAR, Access.Read, 0, wp, pse);
                    const cr2Before = mmu.cr2;
                    const observedPrime = run(mmu, LINEAR, Access.Read, 0);
                    if (observedPrime.fault) faultsObserved++;
                    if (expectedPrime.fault) faultsExpected++;
                    const pdeAfterPrime = memory.read32(PDE_ADDRESS);
                    const pteAfterPrime = memory.read32(PTE_ADDRESS);
                    const diffs = compare(expectedPrime, observedPrime, LINEAR, pdeAfterPrime, pteAfterPrime, cr2Before);
                    if (diffs.length > 0) mismatches.push(`${describeCase('priming read')}: ${diffs.join('; ')}`);
                    // The access under test sees the tables as the priming read left them.
                    pde = expectedPrime.pde;
                    pte = expectedPrime.pte;
                    mmu.cr2 = CR2_SENTINEL;
                  }

                  const expected = model(pde, pte, LINEAR, kind, cpl, wp, pse);
                  const observed = run(mmu, LINEAR, kind, cpl);
                  if (observed.fault) faultsObserved++;
                  if (expected.fault) faultsExpected++;
                  const pdeAfter = memory.read32(PDE_ADDRESS);
                  const pteAfter = memory.read32(PTE_ADDRESS);
                  const diffs = compare(expected, observed, LINEAR, pdeAfter, pteAfter, CR2_SENTINEL);
                  if (diffs.length > 0) mismatches.push(`${describeCase('access')}: ${diffs.join('; ')}`);
                }
              }
            }
          }
        }
      }
    }

    expect(cases).toBe(98_304);
    expect(mismatches, formatMismatches(mismatches, cases)).toEqual([]);
    // Every fault the MMU raised (priming reads included) is counted once.
    expect(faultsObserved).toBe(faultsExpected);
    expect(mmu.counters.pageFaults - pageFaultsBefore).toBe(faultsObserved);
  });

  it('a 4 MiB PDE with reserved bits 21:13 set faults with RSVD when CR4.PSE = 1, and is a table pointer when PSE = 0', () => {
    const { memory, mmu } = newMachine();
    const reservedValues: number[] = [];
    for (let b = 13; b <= 21; b++) reservedValues.push(1 << b);
    reservedValues.push(0x003fe000, 0x00202000, 0x00154000, 0x000aa000, 0x00006000);

    const baseFlagSets = [PG_P | PG_PS, PG_P | PG_PS | PG_RW | PG_US, PG_P | PG_PS | PG_RW | PG_US | PG_A | PG_D];
    const leafPteFlags = [PG_P | PG_RW | PG_US, PG_P, 0];
    const mismatches: string[] = [];
    let cases = 0;

    for (const reserved of reservedValues) {
      for (const flags of baseFlagSets) {
        const pdeInitial = (PAGE_TABLE | reserved | flags) >>> 0;
        for (const kind of ACCESS_KINDS) {
          for (const cpl of CPLS) {
            for (const wp of [false, true]) {
              for (const pse of [false, true]) {
                for (const pteFlags of pse ? [0] : leafPteFlags) {
                  cases++;
                  // With PSE = 0 the PS bit is ignored: the PDE's 4 KiB frame (which now includes the
                  // "reserved" bits) is a page table. Put a PTE there, and clear it again afterwards.
                  const tableAddress = (pdeInitial & 0xfffff000) >>> 0;
                  const pteAddress = tableAddress + PTE_INDEX * 4;
                  const pteInitial = pse ? 0 : (SMALL_FRAME | pteFlags) >>> 0;
                  setUp(mmu, memory, pdeInitial, pteInitial, pteAddress, wp, pse);
                  const describeCase =
                    `PDE=${hex(pdeInitial)}(${flagNames(pdeInitial, true)}, reserved ${hex(reserved)}) ` +
                    `PTE@${hex(pteAddress)}=${hex(pteInitial)} ${ACCESS_NAME[kind]} CPL${cpl} ` +
                    `WP=${wp ? 1 : 0} PSE=${pse ? 1 : 0}`;

                  const expected = model(pdeInitial, pteInitial, LINEAR, kind, cpl, wp, pse);
                  const diffs: string[] = [];
                  // The model's prediction must itself be what the SDM says for this case.
                  const write = kind === Access.Write;
                  if (pse) {
                    const rsvdCode = PF_RSVD | PF_P | (write ? PF_W : 0) | (cpl === 3 ? PF_U : 0);
                    if (!expected.fault || expected.errorCode !== rsvdCode) diffs.push('model does not predict RSVD');
                  } else if (expected.errorCode & PF_RSVD) {
                    diffs.push('model predicts RSVD with PSE = 0');
                  }

                  for (const attempt of ['first', 'repeat'] as const) {
                    mmu.cr2 = CR2_SENTINEL;
                    const observed = run(mmu, LINEAR, kind, cpl);
                    const pdeAfter = memory.read32(PDE_ADDRESS);
                    const pteAfter = memory.read32(pteAddress);
                    // A repeat sees the tables as the first attempt left them.
                    const want = attempt === 'first' ? expected : model(expected.pde, expected.pte, LINEAR, kind, cpl, wp, pse);
                    for (const d of compare(want, observed, LINEAR, pdeAfter, pteAfter, CR2_SENTINEL)) diffs.push(`${attempt}: ${d}`);
                    if (pse && pdeAfter !== pdeInitial) diffs.push(`${attempt}: PDE changed after RSVD fault`);
                    if (!pse && observed.fault && observed.errorCode & PF_RSVD) diffs.push(`${attempt}: RSVD with PSE = 0`);
                  }
                  if (diffs.length > 0) mismatches.push(`${describeCase}: ${diffs.join('; ')}`);
                  memory.write32(pteAddress, 0);
                }
              }
            }
          }
        }
      }
    }

    expect(cases).toBeGreaterThan(0);
    expect(mismatches, formatMismatches(mismatches, cases)).toEqual([]);
  });
});
