// Determinism of the machine model, and proof that neither the host-side shadow of the TLB nor
// batched translation changes anything the model decides: a long seeded sequence of page-table
// edits, INVLPGs, CR3 and CR0 writes, accesses, runs of accesses within a page and string-move
// steps gives identical results, counters, cycles and TLB contents (stamps included) on two runs,
// with the shadow disabled (the stale check runs every hit through the general slow path, which
// also bypasses the lean miss path), and with the runs made access by access instead of batched.
//
// L4HURD_SOAK_OPS sets the length (default 100,000 operations per run).
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Access, Mmu, PageFault, type AccessKind, type Cpl, type MmuCounters } from '../../emulator/mmu.ts';
import type { TlbEntryView } from '../../emulator/tlb.ts';
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
  tlb: Array<TlbEntryView & { tlb: string }>;
}

function fnv(hash: number, value: number): number {
  return Math.imul(hash ^ (value >>> 0), 0x01000193) >>> 0;
}

function run(profile: string, seed: number, checkStale: boolean, batched = true): RunResult {
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
    } else if (choice < 30) {
      // A run of dword accesses within the page: span32, or the same accesses one by one.
      const kind = random.below(3) as AccessKind;
      const cpl: Cpl = random.below(2) ? 3 : 0;
      const count = 1 + random.below(Math.min(1024 - ((linear & 0xfff) >>> 2), 80));
      try {
        let physical: number;
        if (batched) physical = mmu.span32(linear, count, kind, cpl);
        else {
          physical = mmu.translate(linear, kind, cpl);
          for (let i = 1; i < count; i++) mmu.translate((linear & ~3) + 4 * i, kind, cpl);
        }
        trace = fnv(fnv(trace, physical), count);
      } catch (error) {
        if (!(error instanceof PageFault)) throw error;
        trace = fnv(fnv(trace, error.errorCode), mmu.cr2);
      }
    } else if (choice < 34) {
      // String-move steps of dwords from one page to another: the first step translated, the
      // others counted by repeatMove32 (when it can) or translated step by step.
      const cpl: Cpl = random.below(2) ? 3 : 0;
      const from = linear & ~3;
      const to = (BASE + random.below(PAGES) * 4096 + random.below(4096)) & ~3;
      const steps = random.below(Math.min(1024 - ((from & 0xfff) >>> 2), 1024 - ((to & 0xfff) >>> 2), 80));
      try {
        trace = fnv(trace, mmu.translate(from, Access.Read, cpl));
        trace = fnv(trace, mmu.translate(to, Access.Write, cpl));
        if (!batched || !mmu.repeatMove32(from + 4, to + 4, steps, cpl)) {
          for (let i = 1; i <= steps; i++) {
            mmu.translate(from + 4 * i, Access.Read, cpl);
            mmu.translate(to + 4 * i, Access.Write, cpl);
          }
        }
      } catch (error) {
        if (!(error instanceof PageFault)) throw error;
        trace = fnv(fnv(trace, error.errorCode), mmu.cr2);
      }
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
  return { trace, counters: mmu.counters, memoryHash, stale: mmu.staleTranslations.length, largeAccesses, tlb: mmu.tlbEntries() };
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
      expect(withoutShadow.tlb).toEqual(withShadow.tlb);
      // Random edits without INVLPG are stale uses, and the check saw them.
      expect(withoutShadow.counters.staleTranslations).toBeGreaterThan(0);
    }, timeoutFor(OPS, DEFAULT_OPS));

    it(`${profile}: batched translation (span32, repeatMove32) counts exactly what access by access counts`, () => {
      const batched = run(profile, 4242, false, true);
      const unbatched = run(profile, 4242, false, false);
      expect(batched).toEqual(unbatched);
      // The same with every hit going through the general path, stale checks included.
      const checkedBatched = run(profile, 4242, true, true);
      const checkedUnbatched = run(profile, 4242, true, false);
      expect(checkedBatched).toEqual(checkedUnbatched);
      expect({ ...checkedBatched.counters, staleTranslations: 0 }).toEqual(batched.counters);
    }, timeoutFor(OPS, DEFAULT_OPS));
  }
});
