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

describe('program environment: values and operation objects', () => {
  const WORDS = [0x80000000, 0xffffffff, 0xdeadbeef, 0x7fffffff, 0x00000001];

  for (const [checkStale, batched] of [[false, true], [true, true], [false, false]] as const) {
    it(`a word >= 2^31 comes back as the same uint32 from every read path (shadow ${checkStale ? 'off' : 'on'}, ${batched ? 'batched' : 'access by access'})`, () => {
      const seen: Array<[string, number]> = [];
      const base = 0x02200000;
      const b = boot(
        function* root(env: ProgramEnv): Op<void> {
          // Each word at the start of a page, at the end of one (so the next crosses) and inside.
          yield* env.writeWords(base, WORDS);
          yield* env.writeWords(base + 0x1ffc, WORDS);
          for (let i = 0; i < WORDS.length; i++) {
            const at = base + 4 * i;
            seen.push(['read32', yield* env.read32(at)]);
            seen.push(['read32 again', yield* env.read32(at)]);
            seen.push(['read16 halves', ((yield* env.read16(at)) | ((yield* env.read16(at + 2)) << 16)) >>> 0]);
            const bytes = yield* env.readBytes(at, 4);
            seen.push(['readBytes', (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0]);
          }
          for (const [i, word] of (yield* env.readWords(base, WORDS.length)).entries()) seen.push([`readWords ${i}`, word]);
          // Page-crossing and unaligned: the word at base + 0x1ffc + 4 * i, read from 2 bytes on.
          seen.push(['crossing read32', yield* env.read32(base + 0x1ffe)]);
          const shifted = yield* env.readWords(base + 0x1ffe, 2);
          seen.push(['unaligned readWords 0', shifted[0]!], ['unaligned readWords 1', shifted[1]!]);
          // After a fault: a fresh page faults on the read, which then completes.
          yield* env.copy(base + 0x5000, base, 4 * WORDS.length);
          seen.push(['read32 after copy', yield* env.read32(base + 0x5000)]);
          seen.push(['read32 after fault', yield* env.read32(base + 0x9000)]);
        },
        { sigma0, checkStale, config: { batchedAccesses: batched } },
      );
      b.run();
      const expected = (index: number): number => WORDS[index]!;
      const byName = new Map(seen);
      for (let i = 0; i < WORDS.length; i++) {
        for (const name of ['read32', 'read32 again', 'read16 halves', 'readBytes']) {
          const value = seen.filter(([n]) => n === name)[i]![1];
          expect(Object.is(value, expected(i)), `${name} of ${expected(i).toString(16)} gave ${value}`).toBe(true);
        }
        expect(Object.is(byName.get(`readWords ${i}`), expected(i))).toBe(true);
      }
      // 0x80000000 at +0x1ffc: its upper half and 0xffffffff's lower half make 0xffff8000.
      expect(byName.get('crossing read32')).toBe(0xffff8000);
      expect(byName.get('unaligned readWords 0')).toBe(0xffff8000);
      expect(byName.get('unaligned readWords 1')).toBe(0xbeefffff);
      expect(byName.get('read32 after copy')).toBe(0x80000000);
      expect(byName.get('read32 after fault')).toBe(0);
      expect(b.machine.physical.read32(base + 0x1ffc)).toBe(0x80000000);
    });
  }

  it('an operation held while another runs, or run by hand, behaves as its own generator would', () => {
    const seen: unknown[] = [];
    const base = 0x02300000;
    const b = boot(
      function* root(env: ProgramEnv): Op<void> {
        yield* env.write32(base, 0x11111111);
        yield* env.write32(base + 4, 0x22222222);
        // Two reads created before either runs: each reads its own address, in the order run.
        const first = env.read32(base);
        const second = env.read32(base + 4);
        seen.push(first === second, yield* second, yield* first);
        // A write created before a read of the same word is run after it: the read sees the old value.
        const write = env.write32(base, 0x33333333);
        seen.push(yield* env.read32(base));
        yield* write;
        seen.push(yield* env.read32(base));
        // By hand: next() completes a hit at once; a finished operation answers done; return() ends one.
        const manual = env.read32(base + 4);
        const step = manual.next();
        seen.push(step.done, step.value, manual.next().done);
        const unrun = env.readWords(base, 2);
        seen.push(unrun.return([7]).value, unrun.next().done);
        // An operation created and never run does not disturb the next call of the same kind.
        void env.read32(base);
        seen.push(yield* env.read32(base + 4));
        // Arguments are checked when the operation runs, as a generator's body would.
        const bad = env.readBytes(base, -1);
        let error = '';
        try {
          yield* bad;
        } catch (e) {
          error = (e as Error).name;
        }
        seen.push(error, yield* env.read8(base));
        // An operation that raised is over: its object is handed out again, as after completing.
        seen.push(env.readBytes(base, 1) === bad);
      },
      { sigma0 },
    );
    b.run();
    expect(seen).toEqual([false, 0x22222222, 0x11111111, 0x11111111, 0x33333333, true, 0x22222222, true, [7], true, 0x22222222, 'RangeError', 0x33, true]);
  });

  it('copy and fill of mapped pages count one read and one write per dword, or one write, batched or not', () => {
    const counts: number[] = [];
    const base = 0x02400000;
    for (const batched of [true, false]) {
      let b: Booted | undefined;
      b = boot(
        function* root(env: ProgramEnv): Op<void> {
          yield* env.fill(base, 0x3000, 0xa5);
          for (let i = 0; i < 1024; i++) yield* env.write32(base + 4 * i, (0x80000000 | (i * 0x10101)) >>> 0);
          const cpu = b!.machine.cpu;
          let before = cpu.counters;
          yield* env.copy(base + 0x1000, base, 4096);
          let after = cpu.counters;
          counts.push(after.accesses - before.accesses, after.tlbHits - before.tlbHits);
          before = after;
          yield* env.fill(base + 0x2000, 4096, 0x1ff);
          after = cpu.counters;
          counts.push(after.accesses - before.accesses, after.tlbHits - before.tlbHits);
          // Unaligned and forward-overlapping within the page: the rep movs pattern.
          yield* env.writeBytes(base + 0x2000, Uint8Array.of(1, 2, 3));
          yield* env.copy(base + 0x2003, base + 0x2000, 9);
          counts.push(...(yield* env.readBytes(base + 0x2000, 12)));
        },
        { sigma0, checkStale: false, config: { batchedAccesses: batched } },
      );
      b.run();
      const memory = b.machine.physical;
      for (const i of [0, 1, 511, 1023]) expect(memory.read32(base + 0x1000 + 4 * i)).toBe((0x80000000 | (i * 0x10101)) >>> 0);
      expect(memory.read8(base + 0x2fff)).toBe(0xff);
    }
    // The copy's first write misses: the faults of the first fill switched to sigma0 (CR3) after
    // the destination page was last used.
    const perRun = [2048, 2047, 1024, 1024, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3];
    expect(counts).toEqual([...perRun, ...perRun]);
  });
});

describe('program environment: reading into the caller\'s arrays', () => {
  it('readWordsInto and readBytesInto make the accesses readWords and readBytes make, into the given arrays', () => {
    const seen: unknown[] = [];
    const base = 0x02500000;
    let b: Booted | undefined;
    b = boot(
      function* root(env: ProgramEnv): Op<void> {
        const words = Array.from({ length: 3000 }, (_, i) => (0x80000000 + i * 0x01000193) >>> 0);
        yield* env.writeWords(base + 8, Uint32Array.from(words));
        const cpu = b!.machine.cpu;
        for (const address of [base + 8, base + 9]) {
          let before = cpu.counters.accesses;
          const list = yield* env.readWords(address, 3000);
          const viaList = cpu.counters.accesses - before;
          before = cpu.counters.accesses;
          const into = new Uint32Array(3000);
          yield* env.readWordsInto(address, into);
          seen.push(viaList, cpu.counters.accesses - before, list.every((word, i) => word === into[i]));
        }
        let before = cpu.counters.accesses;
        const bytes = yield* env.readBytes(base + 3, 9001);
        const viaBytes = cpu.counters.accesses - before;
        before = cpu.counters.accesses;
        const into = new Uint8Array(9001);
        yield* env.readBytesInto(base + 3, into);
        seen.push(viaBytes, cpu.counters.accesses - before, bytes.every((byte, i) => byte === into[i]), into[8]);
        seen.push(list0(yield* env.readWords(base + 8, 1)) === words[0]);
        let error = '';
        try {
          yield* env.readWordsInto(base, [1, 2] as unknown as Uint32Array);
        } catch (e) {
          error = (e as Error).name;
        }
        seen.push(error);
      },
      { sigma0, checkStale: false },
    );
    b.run();
    // Aligned: one access per word; from an unaligned address one per word plus one where a word
    // crosses a page (3000 words from +9 cross two page boundaries).
    expect(seen.slice(0, 3)).toEqual([3000, 3000, true]);
    expect(seen.slice(3, 6)).toEqual([3002, 3002, true]);
    // 9001 bytes from +3: 2251 dwords touched.
    expect(seen.slice(6, 10)).toEqual([2251, 2251, true, 0x80]);
    expect(seen.slice(10)).toEqual([true, 'TypeError']);
  });
});

function list0(words: number[]): number {
  return words[0]!;
}
