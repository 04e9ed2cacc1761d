// The program environment's accesses: a page-crossing access translates each page once.
import { describe, expect, it } from 'vitest';
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { boot, type Booted } from './support.ts';

describe('program environment', () => {
  it('a page-crossing access is two MMU accesses, one per page, and reads what was written', () => {
    const seen: number[] = [];
    let b: Booted | undefined;
    // The root task is paged by sigma0, which maps conventional memory 1:1.
    const base = 0x02000000;
    b = boot(
      function* root(env: ProgramEnv): Op<void> {
        yield* env.write32(base, 1); // fault both pages in first
        yield* env.write32(base + 0x1000, 2);
        const before = b!.machine.cpu.counters.accesses;
        yield* env.write32(base + 0xffe, 0xddccbbaa);
        const value = yield* env.read32(base + 0xffe);
        seen.push(b!.machine.cpu.counters.accesses - before, value, yield* env.read16(base + 0xfff));
      },
      { sigma0 },
    );
    b.run();
    expect(seen).toEqual([4, 0xddccbbaa, 0xccbb]);
    expect(b.machine.physical.read16(base + 0xffe)).toBe(0xbbaa);
    expect(b.machine.physical.read16(base + 0x1000)).toBe(0xddcc);
  });

  it('copy moves bytes forward within the space, one read and one write access per step, faulting page by page', () => {
    const seen: number[] = [];
    let b: Booted | undefined;
    const base = 0x02100000;
    b = boot(
      function* root(env: ProgramEnv): Op<void> {
        for (let i = 0; i < 2048; i++) yield* env.write32(base + 4 * i, (0x80000000 + i * 0x01010101) >>> 0);
        // Aligned, into two fresh pages: each faults once, and the copy resumes where it stopped.
        const faults = b!.machine.cpu.counters.pageFaults;
        yield* env.copy(base + 0x3000, base, 8192);
        seen.push(b!.machine.cpu.counters.pageFaults - faults);
        // Again over the same, now mapped, pages: exactly one read and one write per dword.
        const before = b!.machine.cpu.counters.accesses;
        yield* env.copy(base + 0x3000, base, 8192);
        seen.push(b!.machine.cpu.counters.accesses - before);
        for (const i of [0, 1, 1023, 1024, 2047]) seen.push((yield* env.read32(base + 0x3000 + 4 * i)) === (0x80000000 + i * 0x01010101) >>> 0 ? 1 : 0);
        // Unaligned source and destination: steps are cut at either side's dword boundary.
        yield* env.write32(base + 0x6000, 0);
        const counted = b!.machine.cpu.counters.accesses;
        yield* env.copy(base + 0x6001, base + 2, 7);
        seen.push(b!.machine.cpu.counters.accesses - counted);
        const bytes = yield* env.readBytes(base + 0x6001, 7);
        const source = yield* env.readBytes(base + 2, 7);
        seen.push(bytes.every((byte, i) => byte === source[i]) ? 1 : 0);
        // Overlapping, forward: the first bytes repeat, as rep movsb does.
        yield* env.writeBytes(base + 0x7000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
        yield* env.copy(base + 0x7001, base + 0x7000, 6);
        seen.push(...(yield* env.readBytes(base + 0x7000, 8)));
      },
      { sigma0 },
    );
    b.run();
    // Two destination pages faulted in; 8192 bytes = 2048 steps of a read and a write.
    expect(seen.slice(0, 2)).toEqual([2, 4096]);
    expect(seen.slice(2, 7)).toEqual([1, 1, 1, 1, 1]);
    // 7 bytes from +2 to +0x6001: steps of 2 (src to its dword end), 1, 3, 1: 4 steps, 8 accesses.
    expect(seen[7]).toBe(8);
    expect(seen[8]).toBe(1);
    expect(seen.slice(9)).toEqual([1, 1, 1, 1, 1, 1, 1, 8]);
  });
});
