// TLB behaviour of the modelled CPUs: stale entries, INVLPG, CR3 and global pages, CR0.WP,
// geometry and replacement, split TLBs, the dirty-bit walk, and the cycle model.
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Access, GeneralProtection, Mmu, PageFault } from '../../emulator/mmu.ts';
import { PageTableBuilder } from '../../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, PF_P, PF_U, PF_W, PG_A, PG_D, PG_G, PG_RW, PG_US } from '../../emulator/paging.ts';
import { getProfile } from '../../emulator/profiles.ts';

const USER_RW = PG_RW | PG_US;
const PAGING = CR0_PE | CR0_PG | CR0_WP;

/** A 16 MiB machine with an empty directory at 0x1000 and page tables from 0x10000. */
function machine(profile = 'p3', cr4 = 0): { memory: PhysicalMemory; mmu: Mmu; tables: PageTableBuilder } {
  const memory = new PhysicalMemory(16 * 1024 * 1024);
  const mmu = new Mmu(memory, { profile });
  const tables = new PageTableBuilder(memory, 0x1000, 0x10000, 0x100000);
  if (cr4) mmu.cr4 = cr4;
  mmu.cr3 = tables.directory;
  mmu.cr0 = PAGING;
  return { memory, mmu, tables };
}

function faultOf(action: () => unknown): PageFault {
  try {
    action();
  } catch (error) {
    if (error instanceof PageFault) return error;
    throw error;
  }
  throw new Error('expected a page fault');
}

describe('stale translations and invalidation', () => {
  it('keeps using a stale translation after a PTE change until INVLPG', () => {
    const { memory, mmu, tables } = machine();
    const pte = tables.map(0x400000, 0x200000, USER_RW);
    memory.write32(0x200000, 0x11111111);
    memory.write32(0x300000, 0x22222222);
    expect(mmu.read32(0x400000, 3)).toBe(0x11111111);
    tables.setEntry(pte, 0x300000 | USER_RW | 1);
    expect(mmu.read32(0x400000, 3)).toBe(0x11111111); // stale, as on hardware
    mmu.invlpg(0x400abc);
    expect(mmu.read32(0x400000, 3)).toBe(0x22222222);
    expect(mmu.counters.invlpgs).toBe(1);
  });

  it('uses a stale entry even after the PTE is made not present', () => {
    const { mmu, tables } = machine();
    const pte = tables.map(0x400000, 0x200000, USER_RW);
    expect(mmu.translate(0x400010, Access.Read, 3)).toBe(0x200010);
    tables.setEntry(pte, 0);
    expect(mmu.translate(0x400020, Access.Read, 3)).toBe(0x200020);
    mmu.invlpg(0x400000);
    expect(faultOf(() => mmu.translate(0x400020, Access.Read, 3)).errorCode).toBe(PF_U);
  });

  it('INVLPG of any address inside a 4 MiB page drops the whole page', () => {
    const { memory, mmu, tables } = machine('p3', CR4_PSE);
    const pde = tables.mapLarge(0x800000, 0x400000, USER_RW);
    for (let offset = 0; offset < 0x400000; offset += 0x100000) memory.write32(0x400000 + offset, offset + 1);
    for (let offset = 0; offset < 0x400000; offset += 0x100000) memory.write32(0xc00000 + offset, offset + 2);
    for (let offset = 0; offset < 0x400000; offset += 0x100000) expect(mmu.read32(0x800000 + offset, 3)).toBe(offset + 1);
    tables.setEntry(pde, 0xc00000 | USER_RW | 0x81);
    expect(mmu.read32(0x900000, 3)).toBe(0x100001); // still the cached 4 MiB page
    mmu.invlpg(0xbff123); // last 4 KiB page of the 4 MiB page
    for (let offset = 0; offset < 0x400000; offset += 0x100000) expect(mmu.read32(0x800000 + offset, 3)).toBe(offset + 2);
  });

  it('a CR3 write keeps global entries only with CR4.PGE', () => {
    for (const pge of [true, false]) {
      const { mmu, tables } = machine('p3', pge ? CR4_PGE : 0);
      const globalPte = tables.map(0x400000, 0x200000, PG_RW | PG_G);
      const localPte = tables.map(0x401000, 0x201000, PG_RW);
      expect(mmu.translate(0x400000, Access.Read, 0)).toBe(0x200000);
      expect(mmu.translate(0x401000, Access.Read, 0)).toBe(0x201000);
      tables.setEntry(globalPte, 0x300000 | PG_RW | PG_G | 1);
      tables.setEntry(localPte, 0x301000 | PG_RW | 1);
      mmu.cr3 = tables.directory; // the same value still flushes
      expect(mmu.translate(0x400000, Access.Read, 0)).toBe(pge ? 0x200000 : 0x300000);
      expect(mmu.translate(0x401000, Access.Read, 0)).toBe(0x301000);
      const counters = mmu.counters;
      expect(pge ? counters.tlbFlushesNonGlobal : counters.tlbFlushesFull).toBeGreaterThan(0);
    }
  });

  it('a CR4.PGE change flushes global entries too', () => {
    const { mmu, tables } = machine('p3', CR4_PGE);
    const pte = tables.map(0x400000, 0x200000, PG_RW | PG_G);
    mmu.translate(0x400000, Access.Read, 0);
    tables.setEntry(pte, 0x300000 | PG_RW | PG_G | 1);
    mmu.cr4 = 0;
    expect(mmu.translate(0x400000, Access.Read, 0)).toBe(0x300000);
  });

  it('a page fault drops the cached entry, so a spurious fault is retried with a fresh walk', () => {
    const { mmu, tables } = machine();
    const pte = tables.map(0x400000, 0x200000, PG_US); // read-only user page
    mmu.translate(0x400000, Access.Read, 3);
    tables.setEntry(pte, 0x200000 | PG_US | PG_RW | 1); // made writable without INVLPG
    const fault = faultOf(() => mmu.write32(0x400004, 7, 3));
    expect(fault.errorCode).toBe(PF_P | PF_W | PF_U); // decided by the cached permissions
    expect(mmu.cr2).toBe(0x400004);
    mmu.write32(0x400004, 7, 3); // the fault dropped the entry: this walks and succeeds
    expect(mmu.read32(0x400004, 3)).toBe(7);
  });
});

describe('CR0.WP', () => {
  it('a WP change leaves no cached write permission behind', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, PG_US); // user page, read-only
    mmu.cr0 = CR0_PE | CR0_PG; // WP = 0: the supervisor may write it
    mmu.write32(0x400000, 1, 0);
    mmu.cr0 = PAGING; // WP = 1
    expect(faultOf(() => mmu.write32(0x400000, 2, 0)).errorCode).toBe(PF_P | PF_W);
    expect(mmu.read32(0x400000, 0)).toBe(1);
  });

  it('a supervisor write with WP = 0 does not let a user write through a read-only page', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, PG_US);
    mmu.cr0 = CR0_PE | CR0_PG;
    mmu.write32(0x400000, 1, 0);
    expect(faultOf(() => mmu.write32(0x400000, 2, 3)).errorCode).toBe(PF_P | PF_W | PF_U);
    expect(mmu.read32(0x400000, 3)).toBe(1);
  });
});

describe('geometry and replacement', () => {
  it('the p3 data TLB holds 64 small pages; a 65th in the same set evicts the least recently used', () => {
    const { mmu, tables } = machine();
    const page = (i: number): number => 0x1000000 + i * 0x1000;
    for (let i = 0; i < 65; i++) tables.map(page(i), 0x200000 + i * 0x1000, USER_RW);
    for (let i = 0; i < 64; i++) mmu.read32(page(i), 3);
    expect(mmu.counters.dtlbMisses).toBe(64);
    for (let i = 0; i < 64; i++) mmu.read32(page(i), 3);
    expect(mmu.counters.dtlbHits).toBe(64);
    expect(mmu.counters.dtlbEvictions).toBe(0);
    // 16 sets of 4 ways: page 64 falls in set 0 with pages 0, 16, 32 and 48; page 0 is the LRU.
    mmu.read32(page(64), 3);
    expect(mmu.counters.dtlbEvictions).toBe(1);
    mmu.resetCounters();
    for (const i of [16, 32, 48, 64]) mmu.read32(page(i), 3);
    expect(mmu.counters.dtlbHits).toBe(4);
    mmu.read32(page(0), 3);
    expect(mmu.counters.dtlbMisses).toBe(1);
    // Other sets were untouched.
    for (let i = 1; i < 16; i++) mmu.read32(page(i), 3);
    expect(mmu.counters.dtlbMisses).toBe(1);
  });

  it('the i486 unified TLB holds 32 pages shared by data and fetches', () => {
    const { mmu, tables } = machine('i486');
    const page = (i: number): number => 0x1000000 + i * 0x1000;
    for (let i = 0; i < 33; i++) tables.map(page(i), 0x200000 + i * 0x1000, USER_RW);
    for (let i = 0; i < 32; i++) mmu.translate(page(i), i % 2 ? Access.Fetch : Access.Read, 3);
    expect(mmu.counters.tlbMisses).toBe(32);
    for (let i = 0; i < 32; i++) mmu.translate(page(i), i % 2 ? Access.Read : Access.Fetch, 3);
    expect(mmu.counters.tlbHits).toBe(32);
    mmu.translate(page(32), Access.Read, 3); // set 0 of 8: evicts one
    expect(mmu.counters.dtlbEvictions).toBe(1);
  });

  it('replacement: LRU on the p3, tree pseudo-LRU on the i486', () => {
    // Set 0 receives pages A, B, C, D (ways 0-3) in order, then A is used again, then E.
    // LRU evicts B. Tree pseudo-LRU: the root points away from A's half (ways 0-1), and within
    // ways 2-3 away from D, the most recent there: it evicts C.
    for (const [profile, sets, victim] of [['p3', 16, 'B'], ['i486', 8, 'C']] as const) {
      const { mmu, tables } = machine(profile);
      const names = ['A', 'B', 'C', 'D', 'E'];
      const page = (i: number): number => 0x1000000 + i * sets * 0x1000;
      names.forEach((_, i) => tables.map(page(i), 0x200000 + i * 0x1000, USER_RW));
      for (const i of [0, 1, 2, 3, 0, 4]) mmu.read32(page(i), 3);
      mmu.resetCounters();
      const missed = names.filter((_, i) => {
        const before = mmu.counters.tlbMisses;
        mmu.peek(page(i)); // no effect on the TLB
        const cached = mmu.tlbEntries().some((e) => e.linear === page(i));
        expect(mmu.counters.tlbMisses).toBe(before);
        return !cached;
      });
      expect(missed, profile).toEqual([victim]);
    }
  });

  it('fetches use the instruction TLB and reads the data TLB on the p3', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, USER_RW);
    mmu.translate(0x400000, Access.Read, 3);
    mmu.translate(0x400000, Access.Fetch, 3);
    mmu.translate(0x400000, Access.Fetch, 3);
    mmu.translate(0x400000, Access.Read, 3);
    const c = mmu.counters;
    expect([c.dtlbMisses, c.dtlbHits, c.itlbMisses, c.itlbHits]).toEqual([1, 1, 1, 1]);
    expect(mmu.tlbEntries().map((e) => e.tlb).sort()).toEqual(['dtlb', 'itlb']);
  });

  it('4 MiB pages fill the large-page TLB: 8 entries on the p3 data side', () => {
    const { mmu, tables } = machine('p3', CR4_PSE);
    for (let i = 0; i < 9; i++) tables.mapLarge(0x40000000 + i * 0x400000, 0, USER_RW);
    for (let i = 0; i < 8; i++) mmu.read32(0x40000000 + i * 0x400000, 3);
    for (let i = 0; i < 8; i++) mmu.read32(0x40000000 + i * 0x400000 + 0x1000, 3);
    expect([mmu.counters.dtlbMisses, mmu.counters.dtlbHits]).toEqual([8, 8]);
    expect(mmu.tlbEntries().every((e) => e.large)).toBe(true);
    mmu.read32(0x40000000 + 8 * 0x400000, 3);
    expect(mmu.counters.dtlbEvictions).toBe(1);
  });
});

describe('accessed and dirty bits', () => {
  it('the first write through a clean cached entry walks again to set D', () => {
    const { memory, mmu, tables } = machine();
    const pte = tables.map(0x400000, 0x200000, USER_RW);
    mmu.read32(0x400000, 3);
    expect(memory.read32(pte) & (PG_A | PG_D)).toBe(PG_A);
    mmu.write32(0x400000, 5, 3);
    expect(memory.read32(pte) & (PG_A | PG_D)).toBe(PG_A | PG_D);
    mmu.write32(0x400004, 6, 3);
    const c = mmu.counters;
    expect([c.walks, c.dirtyWalks, c.tlbMisses, c.tlbHits]).toEqual([2, 1, 1, 2]);
  });

  it('a clean-entry write that finds the page gone faults as not present', () => {
    const { mmu, tables } = machine();
    const pte = tables.map(0x400000, 0x200000, USER_RW);
    mmu.read32(0x400000, 3);
    tables.setEntry(pte, 0);
    expect(faultOf(() => mmu.write32(0x400000, 1, 3)).errorCode).toBe(PF_W | PF_U);
  });
});

describe('page-crossing and unaligned accesses', () => {
  it('translates both pages before writing anything', () => {
    const { memory, mmu, tables } = machine();
    tables.map(0x400000, 0x200000, USER_RW); // 0x401000 stays unmapped
    memory.write32(0x200ffc, 0xaaaaaaaa);
    const fault = faultOf(() => mmu.write32(0x400ffe, 0x12345678, 3));
    expect(fault.linear).toBe(0x401000);
    expect(fault.errorCode).toBe(PF_W | PF_U);
    expect(mmu.cr2).toBe(0x401000);
    expect(memory.read32(0x200ffc)).toBe(0xaaaaaaaa);
  });

  it('reads and writes across a page boundary onto discontiguous frames', () => {
    const { memory, mmu, tables } = machine();
    tables.map(0x400000, 0x200000, USER_RW);
    tables.map(0x401000, 0x500000, USER_RW);
    mmu.write32(0x400ffd, 0x44332211, 3);
    expect([memory.read8(0x200ffd), memory.read8(0x200fff), memory.read8(0x500000)]).toEqual([0x11, 0x33, 0x44]);
    expect(mmu.read32(0x400ffd, 3)).toBe(0x44332211);
    mmu.write16(0x400fff, 0xbeef, 3);
    expect(mmu.read16(0x400fff, 3)).toBe(0xbeef);
    expect(mmu.read32(0x400ffe, 3)).toBe(0x00beef22);
    expect(mmu.read8(0x401000, 3)).toBe(0xbe);
  });

  it('linear addresses wrap at 4 GiB', () => {
    const { memory, mmu, tables } = machine();
    tables.map(0xfffff000, 0x200000, USER_RW);
    tables.map(0x00000000, 0x300000, USER_RW);
    mmu.write32(0xfffffffe, 0xddccbbaa, 3);
    expect([memory.read8(0x200ffe), memory.read8(0x200fff), memory.read8(0x300000), memory.read8(0x300001)]).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
  });
});

describe('control registers', () => {
  it('translates as the identity with paging off', () => {
    const memory = new PhysicalMemory(1024 * 1024);
    const mmu = new Mmu(memory);
    expect(mmu.translate(0x12345, Access.Write, 3)).toBe(0x12345);
    mmu.write32(0x100, 0xcafe, 3);
    expect(memory.read32(0x100)).toBe(0xcafe);
    expect(mmu.counters.unpagedAccesses).toBe(2);
    expect(mmu.counters.tlbHits + mmu.counters.tlbMisses).toBe(0);
  });

  it('refuses illegal control-register values with #GP', () => {
    const mmu = new Mmu(new PhysicalMemory(4096));
    expect(() => (mmu.cr0 = CR0_PG)).toThrow(GeneralProtection);
    expect(() => (mmu.cr4 = CR4_PAE)).toThrow(GeneralProtection);
    expect(() => (mmu.cr4 = 1 << 20)).toThrow(GeneralProtection);
    const i486 = new Mmu(new PhysicalMemory(4096), { profile: 'i486' });
    expect(() => (i486.cr4 = CR4_PGE)).toThrow(GeneralProtection);
    expect(() => (i486.cr4 = CR4_PSE)).toThrow(GeneralProtection);
    expect(() => new Mmu(new PhysicalMemory(4096), { profile: 'z80' })).toThrow(/unknown CPU profile 'z80'/);
  });

  it('keeps CR2 and CR3 values as written', () => {
    const mmu = new Mmu(new PhysicalMemory(4096));
    mmu.cr2 = -1;
    mmu.cr3 = 0xfffff018;
    expect([mmu.cr2, mmu.cr3]).toEqual([0xffffffff, 0xfffff018]);
  });
});

describe('cycle model', () => {
  it('charges each event at the profile cost', () => {
    for (const profile of ['p3', 'i486']) {
      const costs = getProfile(profile).costs;
      const { mmu, tables } = machine(profile);
      tables.map(0x400000, 0x200000, USER_RW);
      const start = mmu.counters.cycles; // CR3 + CR0 writes of the setup
      expect(start).toBe(costs.movCr3 + costs.movCr0Cr4);
      mmu.read32(0x400000, 3); // miss: 2 references, A on PDE and PTE
      mmu.read32(0x400004, 3); // hit
      mmu.write32(0x400004, 1, 3); // dirty walk: 2 references, D on PTE
      mmu.invlpg(0x400000);
      mmu.charge(1000);
      const expected = start + 3 * costs.tlbHit + 4 * costs.walkReference + 3 * costs.accessedDirtyWrite + costs.invlpg + 1000;
      expect(mmu.counters.cycles, profile).toBe(expected);
      expect(mmu.cycles).toBe(expected);
      expect(() => mmu.charge(-1)).toThrow(RangeError);
    }
  });
});
