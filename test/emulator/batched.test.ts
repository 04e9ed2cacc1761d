// Batched translation (span32, trySpan32, repeatMove32), the lean miss path's fills, and the
// timer poll (cyclesReached, hitsUntil): each against what the access-by-access path counts.
// (The seeded soak of determinism.test.ts compares them over long random sequences.)
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';
import { Access, Mmu, PageFault } from '../../emulator/mmu.ts';
import { PageTableBuilder } from '../../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PSE, PF_U, PF_W, PG_A, PG_D, PG_RW, PG_US } from '../../emulator/paging.ts';

const USER_RW = PG_RW | PG_US;

function machine(profile = 'p3'): { memory: PhysicalMemory; mmu: Mmu; tables: PageTableBuilder } {
  const memory = new PhysicalMemory(4 * 1024 * 1024);
  const mmu = new Mmu(memory, { profile });
  const tables = new PageTableBuilder(memory, 0x1000, 0x10000, 0x100000);
  if (mmu.profile.pse) mmu.cr4 = CR4_PSE;
  mmu.cr3 = tables.directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
  return { memory, mmu, tables };
}

describe('span32', () => {
  it('counts a run as its accesses: one miss and walk, then hits, the last one stamping the entry', () => {
    const a = machine();
    const b = machine();
    for (const m of [a, b]) m.tables.map(0x400000, 0x200000, USER_RW | PG_A | PG_D);
    expect(a.mmu.span32(0x400010, 100, Access.Read, 3)).toBe(0x200010);
    for (let i = 0; i < 100; i++) b.mmu.translate(0x400010 + 4 * i, Access.Read, 3);
    expect(a.mmu.counters).toEqual(b.mmu.counters);
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
    expect(a.mmu.counters).toMatchObject({ accesses: 100, tlbMisses: 1, tlbHits: 99, walks: 1 });
  });

  it('a write run through a clean entry makes the dirty-bit walk once, as the first write would', () => {
    const a = machine();
    const b = machine();
    for (const m of [a, b]) m.tables.map(0x400000, 0x200000, USER_RW);
    for (const m of [a, b]) m.mmu.translate(0x400000, Access.Read, 3);
    a.mmu.span32(0x400ff0, 4, Access.Write, 3);
    for (let i = 0; i < 4; i++) b.mmu.translate(0x400ff0 + 4 * i, Access.Write, 3);
    expect(a.mmu.counters).toEqual(b.mmu.counters);
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
    expect(a.mmu.counters.dirtyWalks).toBe(1);
  });

  it('fetches, unpaged accesses and the stale check are counted one by one, as they are', () => {
    for (const setup of ['fetch', 'unpaged', 'stale'] as const) {
      const a = machine('p3');
      const b = machine('p3');
      for (const m of [a, b]) {
        m.tables.map(0x400000, 0x200000, USER_RW | PG_A | PG_D);
        if (setup === 'unpaged') m.mmu.cr0 = CR0_PE;
        if (setup === 'stale') m.mmu.checkStale = true;
      }
      const kind = setup === 'fetch' ? Access.Fetch : Access.Read;
      a.mmu.span32(0x400000, 50, kind, 0);
      a.mmu.span32(0x400000, 50, kind, 0);
      for (let r = 0; r < 2; r++) for (let i = 0; i < 50; i++) b.mmu.translate(0x400000 + 4 * i, kind, 0);
      // The stale check sees each access at its own address: make one entry stale and compare records.
      if (setup === 'stale') {
        for (const m of [a, b]) m.memory.write32(m.tables.pteAddress(0x400000), 0x300000 | USER_RW | PG_A | PG_D | 1);
        a.mmu.span32(0x400100, 3, kind, 0);
        for (let i = 0; i < 3; i++) b.mmu.translate(0x400100 + 4 * i, kind, 0);
        expect(a.mmu.staleTranslations.map((s) => s.linear)).toEqual([0x400100, 0x400104, 0x400108]);
      }
      expect(a.mmu.counters, setup).toEqual(b.mmu.counters);
      expect(a.mmu.tlbEntries(), setup).toEqual(b.mmu.tlbEntries());
      expect(a.mmu.staleTranslations).toEqual(b.mmu.staleTranslations);
    }
  });

  it('a fault of the first access throws PageFault (trySpan32: -1) and counts nothing more', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, PG_US); // read-only
    let fault: unknown = null;
    try {
      mmu.span32(0x400008, 10, Access.Write, 3);
    } catch (error) {
      fault = error;
    }
    expect(fault).toBeInstanceOf(PageFault);
    expect((fault as PageFault).errorCode).toBe(1 | PF_W | PF_U);
    expect(mmu.cr2).toBe(0x400008);
    expect(mmu.counters).toMatchObject({ accesses: 1, pageFaults: 1 });
    expect(mmu.trySpan32(0x500000, 3, Access.Read, 3)).toBe(-1);
    expect(mmu.counters).toMatchObject({ accesses: 2, pageFaults: 2 });
  });

  it('refuses a run that leaves its page', () => {
    const { mmu } = machine();
    expect(() => mmu.span32(0x400ffc, 2, Access.Read, 0)).toThrow(RangeError);
    expect(() => mmu.span32(0x400000, 1025, Access.Read, 0)).toThrow(RangeError);
    expect(() => mmu.span32(0x400000, 0, Access.Read, 0)).toThrow(RangeError);
    // The last dword of the page from an unaligned address inside it is still the page.
    expect(() => mmu.trySpan32(0x400ffd, 1, Access.Read, 0)).not.toThrow();
    expect(() => mmu.trySpan32(0x400ff1, 4, Access.Read, 0)).not.toThrow();
  });
});

describe('repeatMove32', () => {
  it('counts the steps of a string move as their reads and writes: hits, write hits and both stamps', () => {
    const a = machine();
    const b = machine();
    for (const m of [a, b]) {
      m.tables.map(0x400000, 0x200000, USER_RW | PG_A | PG_D);
      m.tables.map(0x410000, 0x210000, USER_RW | PG_A | PG_D); // the same DTLB set
      m.mmu.translate(0x400000, Access.Read, 3);
      m.mmu.translate(0x410000, Access.Write, 3);
    }
    expect(a.mmu.repeatMove32(0x400004, 0x410004, 300, 3)).toBe(true);
    for (let i = 1; i <= 300; i++) {
      b.mmu.translate(0x400000 + 4 * i, Access.Read, 3);
      b.mmu.translate(0x410000 + 4 * i, Access.Write, 3);
    }
    expect(a.mmu.counters).toEqual(b.mmu.counters);
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
    // Within one page the write is the last access of every step.
    expect(a.mmu.repeatMove32(0x400010, 0x400020, 5, 3)).toBe(true);
    for (let i = 0; i < 5; i++) {
      b.mmu.translate(0x400010 + 4 * i, Access.Read, 3);
      b.mmu.translate(0x400020 + 4 * i, Access.Write, 3);
    }
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
  });

  it('declines, counting nothing, when a page is not cached for the access (the caller goes step by step)', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, USER_RW | PG_A);
    tables.map(0x410000, 0x210000, USER_RW | PG_A);
    mmu.translate(0x400000, Access.Read, 3);
    mmu.translate(0x410000, Access.Read, 3); // clean: a write would need the dirty-bit walk
    const before = mmu.counters;
    expect(mmu.repeatMove32(0x400004, 0x410004, 10, 3)).toBe(false);
    expect(mmu.repeatMove32(0x400004, 0x420004, 10, 3)).toBe(false); // not in the TLB at all
    expect(mmu.counters).toEqual(before);
  });
});

describe('the timer poll', () => {
  it('the cycle count, cyclesReached and hitsUntil agree with the counters through hits, misses, charges and register writes', () => {
    const { mmu, tables } = machine();
    for (let p = 0; p < 80; p++) tables.map(0x400000 + p * 4096, 0x200000 + p * 4096, USER_RW | (p % 3 ? PG_A : 0) | (p % 5 ? PG_D : 0));
    let state = 12345;
    const random = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    for (let step = 0; step < 20000; step++) {
      const choice = random(100);
      if (choice < 85) mmu.translate(0x400000 + random(80) * 4096 + random(1024) * 4, random(2) ? Access.Write : Access.Read, 3);
      else if (choice < 90) mmu.charge(random(50));
      else if (choice < 93) mmu.invlpg(0x400000 + random(80) * 4096);
      else if (choice < 95) mmu.cr3 = 0x1000;
      else if (choice < 96) mmu.resetCounters();
      else if (choice < 97) mmu.span32(0x400000 + random(80) * 4096, 1 + random(100), Access.Read, 3);
      else if (choice < 98) mmu.cr0 = mmu.cr0 ^ CR0_WP;
      const now = mmu.cycles;
      // The cycle count (kept incrementally) is what the counters and the profile's costs make.
      const c = mmu.counters;
      const cost = mmu.profile.costs;
      expect(now, `step ${step}`).toBe(
        c.accesses * cost.tlbHit + c.walkReferences * cost.walkReference + c.accessedDirtyWrites * cost.accessedDirtyWrite + c.invlpgs * cost.invlpg + c.cr3Writes * cost.movCr3 + c.cr0Cr4Writes * cost.movCr0Cr4 + c.chargedCycles,
      );
      const target = now + random(40) - 5;
      expect(mmu.cyclesReached(target), `step ${step}`).toBe(now >= target);
      // hitsUntil: that many hits reach the target, one fewer does not.
      const hits = mmu.hitsUntil(target);
      expect(hits).toBe(now >= target ? 0 : Math.ceil(target - now));
    }
  });

  it('a run of hits is answered from the precomputed count, exactly at the deadline', () => {
    const { mmu, tables } = machine();
    tables.map(0x400000, 0x200000, USER_RW | PG_A | PG_D);
    mmu.translate(0x400000, Access.Read, 3);
    const deadline = mmu.cycles + 500;
    let reachedAt = -1;
    for (let i = 1; i <= 600 && reachedAt < 0; i++) {
      mmu.translate(0x400000 + (i & 1023) * 4, Access.Read, 3);
      if (mmu.cyclesReached(deadline)) reachedAt = i;
    }
    expect(reachedAt).toBe(500);
    expect(mmu.cycles).toBe(deadline);
  });
});

describe('the lean miss path', () => {
  it('fills exactly what the general path fills, for every PDE and PTE state it takes or leaves', () => {
    for (const profile of ['p3', 'i486']) {
      for (let flags = 0; flags < 128; flags++) {
        const a = machine(profile);
        const b = machine(profile);
        b.mmu.checkStale = true; // every miss through the general path
        const pte = (flags & 1 ? 1 : 0) | (flags & 2 ? PG_RW : 0) | (flags & 4 ? PG_US : 0) | (flags & 8 ? PG_A : 0) | (flags & 16 ? PG_D : 0);
        const pdeClear = (flags & 32 ? PG_A : 0) | (flags & 64 ? PG_RW : 0);
        for (const m of [a, b]) {
          const at = m.tables.map(0x400000, 0x200000, 0);
          m.memory.write32(at, 0x200000 | pte);
          const pde = m.tables.pdeAddress(0x400000);
          m.memory.write32(pde, (m.memory.read32(pde) & ~(PG_A | PG_RW)) | pdeClear);
        }
        for (const [kind, cpl] of [[Access.Read, 3], [Access.Write, 3], [Access.Read, 0], [Access.Write, 0], [Access.Fetch, 3]] as const) {
          const results = [a, b].map((m) => m.mmu.tryTranslate(0x400123, kind, cpl));
          expect(results[0], `flags ${flags} kind ${kind} cpl ${cpl}`).toBe(results[1]);
        }
        expect({ ...a.mmu.counters, staleTranslations: 0 }).toEqual({ ...b.mmu.counters, staleTranslations: 0 });
        expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
        expect(a.memory.read32(a.tables.pteAddress(0x400000))).toBe(b.memory.read32(b.tables.pteAddress(0x400000)));
      }
    }
  });

  it('the 4-way victim is the least recently used way, an invalid way first (lowest first)', () => {
    const a = machine();
    const b = machine();
    b.mmu.checkStale = true;
    // Pages 0x400000 + 64 KiB * k share DTLB set 0 on the p3 (16 sets of 4).
    for (const m of [a, b]) for (let k = 0; k < 9; k++) m.tables.map(0x400000 + k * 0x10000, 0x200000 + k * 4096, USER_RW | PG_A | PG_D);
    const order = [0, 1, 2, 0, 3, 4, 1, 5, 0, 6, 7, 8, 2, 3];
    for (const k of order) for (const m of [a, b]) m.mmu.translate(0x400000 + k * 0x10000, Access.Read, 3);
    // An INVLPG in the middle of the set leaves an invalid way, which is filled next.
    for (const m of [a, b]) {
      m.mmu.invlpg(0x400000 + 7 * 0x10000);
      m.mmu.translate(0x400000 + 4 * 0x10000, Access.Read, 3);
    }
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
    expect({ ...a.mmu.counters, staleTranslations: 0 }).toEqual(b.mmu.counters);
    expect(a.mmu.counters.dtlbEvictions).toBeGreaterThan(4);
  });
});


describe('tryRead32 and tryWrite32', () => {
  it('count as a translation and the access, and report a fault as -1 or false with CR2 set', () => {
    const a = machine();
    const b = machine();
    for (const m of [a, b]) {
      m.tables.map(0x400000, 0x200000, USER_RW);
      m.tables.map(0x401000, 0x201000, PG_US); // read-only
      m.memory.write32(0x200010, 0xfedcba98);
    }
    expect(a.mmu.tryRead32(0x400010, 3)).toBe(0xfedcba98); // a miss
    expect(a.mmu.tryRead32(0x400010, 3)).toBe(0xfedcba98); // a hit
    expect(a.mmu.tryWrite32(0x400020, 0x80000001, 3)).toBe(true); // the dirty-bit walk
    expect(a.mmu.tryWrite32(0x401000, 1, 3)).toBe(false);
    expect(a.mmu.cr2).toBe(0x401000);
    expect(a.mmu.lastErrorCode).toBe(1 | PF_W | PF_U);
    expect(a.mmu.tryRead32(0x402000, 3)).toBe(-1);
    b.mmu.read32(0x400010, 3);
    b.mmu.read32(0x400010, 3);
    b.mmu.write32(0x400020, 0x80000001, 3);
    expect(b.mmu.tryTranslate(0x401000, Access.Write, 3)).toBe(-1);
    expect(b.mmu.tryTranslate(0x402000, Access.Read, 3)).toBe(-1);
    expect(a.mmu.counters).toEqual(b.mmu.counters);
    expect(a.mmu.tlbEntries()).toEqual(b.mmu.tlbEntries());
    expect(a.memory.read32(0x200020)).toBe(0x80000001);
  });
});

describe('words >= 2^31', () => {
  it('come back as the same uint32 from every read path of the MMU', () => {
    for (const checkStale of [false, true]) {
      const { memory, mmu, tables } = machine();
      mmu.checkStale = checkStale;
      tables.map(0x400000, 0x200000, USER_RW);
      tables.map(0x401000, 0x201000, USER_RW);
      const word = 0xdeadbeef;
      memory.write32(0x200ff0, word);
      memory.write32(0x200ffc, 0xcafe8000); // the high half of a page-crossing read
      memory.write32(0x201000, 0x8001babe);
      const reads = [
        mmu.read32(0x400ff0, 3), // a miss
        mmu.read32(0x400ff0, 3), // a hit
        mmu.tryRead32(0x400ff0, 3),
        memory.read32(mmu.translate(0x400ff0, Access.Read, 3)),
        memory.read32(mmu.span32(0x400ff0, 4, Access.Read, 3)),
        memory.words[mmu.span32(0x400ff0, 1, Access.Read, 3) >>> 2]!,
        (mmu.read16(0x400ff0, 3) | (mmu.read16(0x400ff2, 3) << 16)) >>> 0,
        (mmu.read8(0x400ff0, 0) | (mmu.read8(0x400ff1, 0) << 8) | (mmu.read8(0x400ff2, 0) << 16) | (mmu.read8(0x400ff3, 0) << 24)) >>> 0,
      ];
      for (const value of reads) expect(Object.is(value, word), `${value} (stale check ${checkStale})`).toBe(true);
      expect(mmu.read32(0x400ffe, 3)).toBe(0xbabecafe);
    }
  });
});
