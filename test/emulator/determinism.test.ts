// Determinism of the machine model, and proof that the host-side shadow of the TLB changes
// nothing the model decides: a long seeded sequence of page-table edits, INVLPGs, CR3 and CR0
// writes and accesses gives identical results, counters and cycles on two runs, and the same
// again with the shadow disabled (the stale check runs every hit through the slow path).
//
// L4HURD_SOAK_OPS sets the length (default 100,000 operations per run).
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Access, Mmu, PageFault, type AccessKind, type Cpl, type MmuCounters } from '../../emulator/mmu.ts';
import { PageTableBuilder } from '../../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PG_A, PG_D, PG_G, PG_P, PG_PS, PG_RW, PG_US } from '../../emulator/paging.ts';
import { SeededRandom, sizeFromEnvironment, timeoutFor } from '../support/random.ts';

const DEFAULT_OPS = 100_000;
const OPS = sizeFromEnvironment('L4HURD_SOAK_OPS', DEFAULT_OPS);
const BASE = 0x40000000;
const PAGES = 512; // two page tables' worth, more than any modelled TLB holds
const LEAF_FLAGS = [PG_RW, PG_US, PG_A, PG_D, PG_G];

interface RunResult {
  trace: number;
  counters: MmuCounters;
  memoryHash: number;
  stale: number;
  largeAccesses: number;
}

function fnv(hash: number, value: number): number {
  return Math.imul(hash ^ (value >>> 0), 0x01000193) >>> 0;
}

function run(profile: string, seed: number, checkStale: boolean): RunResult {
  const random = new SeededRandom(seed);
  const memory = new PhysicalMemory(16 * 1024 * 1024);
  const mmu = new Mmu(memory, { profile, checkStale });
  const large = mmu.profile.pse;
  const directories = [new PageTableBuilder(memory, 0x1000, 0x10000, 0x80000), new PageTableBuilder(memory, 0x2000, 0x80000, 0x100000)];
  const randomLeaf = (): number => {
    let flags = random.below(8) === 0 ? 0 : PG_P;
    for (const bit of LEAF_FLAGS) if (random.below(2)) flags |= bit;
    return flags;
  };
  for (const tables of directories) {
    for (let i = 0; i < PAGES; i++) tables.map(BASE + i * 4096, 0x200000 + random.below(1024) * 4096, randomLeaf() & ~PG_P);
  }
  if (mmu.profile.hasCr4) mmu.cr4 = (large ? CR4_PSE : 0) | (mmu.profile.pge ? CR4_PGE : 0);
  let current = 0;
  mmu.cr3 = directories[current]!.directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;

  const pageTables = new Map<number, number>(); // PDE address -> its page-table value
  let trace = 0x811c9dc5;
  let largeAccesses = 0;
  for (let op = 0; op < OPS; op++) {
    const choice = random.below(100);
    const tables = directories[random.below(2)]!;
    const linear = BASE + random.below(PAGES) * 4096 + random.below(4096);
    if (choice < 12) {
      const pte = tables.pteAddress(linear);
      if (pte >= 0) tables.setEntry(pte, (0x200000 + random.below(1024) * 4096) | randomLeaf());
    } else if (choice < 13) {
      // Flip a 4 MiB region between its page table and a 4 MiB page (where the CPU has PSE).
      const pde = tables.pdeAddress(linear);
      const value = tables.entry(pde);
      if (value & PG_PS) tables.setEntry(pde, pageTables.get(pde)!);
      else if (large) {
        pageTables.set(pde, value);
        tables.setEntry(pde, (0x400000 * (1 + random.below(3))) | PG_PS | randomLeaf());
      }
    } else if (choice < 20) {
      mmu.invlpg(linear);
    } else if (choice < 22) {
      current ^= random.below(2);
      mmu.cr3 = directories[current]!.directory;
    } else if (choice < 23) {
      mmu.cr0 = mmu.cr0 ^ CR0_WP;
    } else {
      const kind = random.below(3) as AccessKind;
      const cpl: Cpl = random.below(2) ? 3 : 0;
      const size = [1, 2, 4][random.below(3)]!;
      try {
        if (kind === Access.Write) {
          const value = random.next();
          if (size === 1) mmu.write8(linear, value, cpl);
          else if (size === 2) mmu.write16(linear, value, cpl);
          else mmu.write32(linear, value, cpl);
          trace = fnv(trace, 1);
        } else if (kind === Access.Fetch) {
          trace = fnv(trace, mmu.translate(linear, Access.Fetch, cpl));
        } else {
          trace = fnv(trace, size === 1 ? mmu.read8(linear, cpl) : size === 2 ? mmu.read16(linear, cpl) : mmu.read32(linear, cpl));
        }
        const live = directories[current]!;
        if (live.entry(live.pdeAddress(linear)) & PG_PS) largeAccesses++;
      } catch (error) {
        if (!(error instanceof PageFault)) throw error;
        trace = fnv(fnv(trace, error.errorCode), mmu.cr2);
      }
    }
  }
  let memoryHash = 0x811c9dc5;
  for (let i = 0; i < memory.words.length; i += 7) memoryHash = fnv(memoryHash, memory.words[i]!);
  return { trace, counters: mmu.counters, memoryHash, stale: mmu.staleTranslations.length, largeAccesses };
}

describe('determinism', () => {
  for (const profile of ['p3', 'i486']) {
    it(`${profile}: the same seeded sequence gives the same results, counters and cycles`, () => {
      const first = run(profile, 20261122, false);
      const second = run(profile, 20261122, false);
      expect(second).toEqual(first);
      // The run exercised what it claims to.
      const c = first.counters;
      if (profile === 'p3') expect(first.largeAccesses, 'accesses to 4 MiB pages').toBeGreaterThan(100);
      for (const field of ['tlbHits', 'tlbMisses', 'pageFaults', 'invlpgs', 'dirtyWalks', 'accessedDirtyWrites', 'dtlbEvictions'] as const) {
        expect(c[field], field).toBeGreaterThan(0);
      }
      const other = run(profile, 7, false);
      expect(other.trace).not.toBe(first.trace);
    }, timeoutFor(3 * OPS, 3 * DEFAULT_OPS));

    it(`${profile}: the host-side shadow never changes a hit, a miss or a cycle`, () => {
      const withShadow = run(profile, 99, false);
      const withoutShadow = run(profile, 99, true);
      expect(withoutShadow.trace).toBe(withShadow.trace);
      expect(withoutShadow.memoryHash).toBe(withShadow.memoryHash);
      expect({ ...withoutShadow.counters, staleTranslations: 0 }).toEqual(withShadow.counters);
      // Random edits without INVLPG are stale uses, and the check saw them.
      expect(withoutShadow.counters.staleTranslations).toBeGreaterThan(0);
    }, timeoutFor(OPS, DEFAULT_OPS));
  }
});
