// The stale-translation check: finds a planted missing INVLPG, and stays silent for a correct
// sequence of table edits.
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Access, Mmu } from '../../emulator/mmu.ts';
import { PageTableBuilder } from '../../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PSE, PG_P, PG_RW, PG_US } from '../../emulator/paging.ts';
import { getProfile } from '../../emulator/profiles.ts';

function machine(checkStale: boolean): { mmu: Mmu; tables: PageTableBuilder } {
  const memory = new PhysicalMemory(16 * 1024 * 1024);
  const mmu = new Mmu(memory, { checkStale });
  const tables = new PageTableBuilder(memory, 0x1000, 0x10000, 0x100000);
  mmu.cr4 = CR4_PSE;
  mmu.cr3 = tables.directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
  return { mmu, tables };
}

describe('stale-translation check', () => {
  it('is off by default and then records nothing', () => {
    const { mmu, tables } = machine(false);
    const pte = tables.map(0x400000, 0x200000, PG_RW | PG_US);
    mmu.read32(0x400000, 3);
    tables.setEntry(pte, 0x300000 | PG_P | PG_RW | PG_US);
    mmu.read32(0x400000, 3);
    expect(mmu.checkStale).toBe(false);
    expect(mmu.staleTranslations).toEqual([]);
  });

  it('finds a planted missing INVLPG: linear address, cached and current translation, cycle', () => {
    const { mmu, tables } = machine(true);
    const pte = tables.map(0x400000, 0x200000, PG_RW | PG_US);
    mmu.read32(0x400010, 3);
    tables.setEntry(pte, 0x300000 | PG_P | PG_RW | PG_US); // remapped, INVLPG forgotten
    const cycle = mmu.cycles + getProfile('p3').costs.tlbHit; // the stale access's own cycle
    mmu.read32(0x400020, 3);
    expect(mmu.counters.staleTranslations).toBe(1);
    expect(mmu.staleTranslations).toEqual([
      {
        linear: 0x400020,
        access: Access.Read,
        cpl: 3,
        cycle,
        tlb: 'dtlb',
        reason: 'frame',
        cached: { physical: 0x200000, writable: true, user: true, dirty: false },
        current: { physical: 0x300000, writable: true, user: true, dirty: false },
      },
    ]);
  });

  it('reports pages unmapped, write-protected, or made supervisor-only without INVLPG', () => {
    const { mmu, tables } = machine(true);
    const a = tables.map(0x400000, 0x200000, PG_RW | PG_US);
    const b = tables.map(0x401000, 0x201000, PG_RW | PG_US);
    const c = tables.mapLarge(0x800000, 0xc00000, PG_RW | PG_US);
    for (const linear of [0x400000, 0x401000, 0x800000]) mmu.read32(linear, 3);
    tables.setEntry(a, 0);
    tables.setEntry(b, 0x201000 | PG_P | PG_US);
    tables.setEntry(c, tables.entry(c) & ~PG_US);
    for (const linear of [0x400000, 0x401000, 0x9ff000]) mmu.read32(linear, 3);
    expect(mmu.staleTranslations.map((s) => [s.linear, s.reason])).toEqual([
      [0x400000, 'not-present'],
      [0x401000, 'permissions'],
      [0x9ff000, 'permissions'],
    ]);
    expect(mmu.staleTranslations[0]!.current).toBeNull();
  });

  it('reports nothing for a correct sequence of remaps, unmaps and CR3 switches', () => {
    const { mmu, tables } = machine(true);
    const ptes: number[] = [];
    for (let i = 0; i < 32; i++) ptes.push(tables.map(0x400000 + i * 0x1000, 0x200000 + i * 0x1000, PG_RW | PG_US));
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 32; i++) mmu.write32(0x400000 + i * 0x1000, round, 3);
      for (let i = round % 2; i < 32; i += 2) {
        tables.setEntry(ptes[i]!, (0x600000 + ((i + round) % 32) * 0x1000) | PG_P | PG_RW | PG_US);
        mmu.invlpg(0x400000 + i * 0x1000);
      }
      if (round % 3 === 2) {
        tables.setEntry(ptes[5]!, 0);
        mmu.cr3 = tables.directory;
        tables.setEntry(ptes[5]!, 0x700000 | PG_P | PG_RW | PG_US);
        mmu.invlpg(0x405000);
      }
    }
    expect(mmu.counters.tlbHits).toBeGreaterThan(0);
    expect(mmu.counters.staleTranslations).toBe(0);
    expect(mmu.staleTranslations).toEqual([]);
  });

  it('can be switched on for a running machine', () => {
    const { mmu, tables } = machine(false);
    const pte = tables.map(0x400000, 0x200000, PG_RW | PG_US);
    mmu.read32(0x400000, 3); // cached, and shadowed for the fast path
    mmu.checkStale = true;
    tables.setEntry(pte, 0x300000 | PG_P | PG_RW | PG_US);
    mmu.read32(0x400000, 3);
    expect(mmu.counters.staleTranslations).toBe(1);
  });
});
