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
});
