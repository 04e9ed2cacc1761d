// Batched translation in the program environment changes nothing the model decides: a seeded
// random mix of every memory operation (single accesses of every size and alignment, word arrays,
// byte ranges, fills and overlapping copies across pages), with pages unmapped and write-protected
// under the programs' feet and a time slice short enough to preempt them inside bulk operations,
// run by two threads in two spaces (so that every preemption point shows in the TLB: a switch
// writes CR3), gives the same values, counters, cycles, TLB contents (after every operation, and
// at the end) and RAM with batching on and off, and with the MMU's shadow on and off (the stale
// check).
//
// L4HURD_PROGRAM_SOAK_OPS sets the operations per thread (default 400).
import { describe, expect, it } from 'vitest';
import type { Mmu } from '../../emulator/mmu.ts';
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, send, spaceControl, threadControl, unmapFpages } from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { SeededRandom, sizeFromEnvironment } from '../support/random.ts';
import { ROOT_ID, SIGMA0_ID, boot, tid } from './support.ts';

const OPS = sizeFromEnvironment('L4HURD_PROGRAM_SOAK_OPS', 400);
const BASE = 0x02000000;
const PAGES = 24;
const REGION = PAGES * 4096;
const KIP_AREA = 0xbff00000;
const UTCB_AREA = 0xbf000000;

function fnv(hash: number, value: number): number {
  return Math.imul(hash ^ (value >>> 0), 0x01000193) >>> 0;
}

/** The TLB's entries (slot, page, frame, flags, stamp) as a hash. */
function tlbHash(mmu: Mmu): number {
  let hash = 0x811c9dc5;
  for (const e of mmu.tlbEntries()) {
    for (const value of [e.slot, e.linear, e.physical, e.lastUse, (e.writable ? 1 : 0) | (e.user ? 2 : 0) | (e.dirty ? 4 : 0) | (e.global ? 8 : 0)]) hash = fnv(hash, value);
  }
  return hash;
}

/**
 * A worker: `OPS` random operations on its region, hashing everything it reads and the TLB's
 * contents after every operation (read by the test, as a debugger would: no side effects).
 */
function worker(seed: number, base: number, mmu: () => Mmu, out: number[]): (env: ProgramEnv) => Op<void> {
  return function* (env: ProgramEnv): Op<void> {
    const random = new SeededRandom(seed);
    const anywhere = (length: number): number => base + random.below(REGION - length);
    let hash = 0x811c9dc5;
    for (let op = 0; op < OPS; op++) {
      const choice = random.below(100);
      if (choice < 20) {
        const size = [1, 2, 4][random.below(3)]!;
        const address = anywhere(4);
        const value = size === 1 ? yield* env.read8(address) : size === 2 ? yield* env.read16(address) : yield* env.read32(address);
        hash = fnv(hash, value);
      } else if (choice < 35) {
        const size = [1, 2, 4][random.below(3)]!;
        const address = anywhere(4);
        const value = random.next();
        if (size === 1) yield* env.write8(address, value);
        else if (size === 2) yield* env.write16(address, value);
        else yield* env.write32(address, value);
      } else if (choice < 45) {
        const count = random.below(2500);
        const address = anywhere(4 * count) & ~(random.below(4) === 0 ? 0 : 3);
        if (random.below(2)) {
          for (const word of yield* env.readWords(address, count)) hash = fnv(hash, word);
        } else {
          const into = new Uint32Array(count);
          yield* env.readWordsInto(address, into);
          for (const word of into) hash = fnv(hash, word);
        }
      } else if (choice < 55) {
        const count = random.below(2500);
        const address = anywhere(4 * count) & ~(random.below(4) === 0 ? 0 : 3);
        const words = Array.from({ length: count }, () => random.next() | (random.below(2) << 31));
        yield* env.writeWords(address, random.below(2) ? words : Uint32Array.from(words, (word) => word >>> 0));
      } else if (choice < 62) {
        const length = random.below(10000);
        if (random.below(2)) {
          for (const byte of yield* env.readBytes(anywhere(length), length)) hash = fnv(hash, byte);
        } else {
          const into = new Uint8Array(length);
          yield* env.readBytesInto(anywhere(length), into);
          for (const byte of into) hash = fnv(hash, byte);
        }
      } else if (choice < 69) {
        const length = random.below(10000);
        yield* env.writeBytes(anywhere(length), Uint8Array.from({ length }, () => random.below(256)));
      } else if (choice < 75) {
        const length = random.below(10000);
        yield* env.fill(anywhere(length), length, random.next());
      } else if (choice < 87) {
        const length = random.below(10000);
        const from = anywhere(length);
        // A third overlap forward by a few bytes (the rep movs pattern), a third anywhere.
        const kind = random.below(3);
        const to = kind === 0 ? Math.min(from + 1 + random.below(12), base + REGION - length) : kind === 1 ? Math.max(base, from - 1 - random.below(12)) : anywhere(length);
        yield* env.copy(to, from, length);
      } else if (choice < 95) {
        // Take a page away, or its write permission: the next accesses fault and sigma0 maps it again.
        const page = base + random.below(PAGES) * 4096;
        yield* unmapFpages(env, [fpage(page, 12, random.below(2) ? Rights.Full : Rights.Write)], true);
      } else {
        yield* env.work(random.below(300));
      }
      hash = fnv(hash, tlbHash(mmu()));
    }
    out.push(hash);
  };
}

interface Outcome {
  hashes: number[];
  mmu: Record<string, number>;
  kernel: Record<string, number>;
  tlb: unknown[];
  ram: number;
}

const batchedRuns = { spans: 0, moves: 0 };

function soak(seed: number, batched: boolean, checkStale: boolean, profile: string): Outcome {
  const hashes: number[] = [];
  const machineMmu = (): Mmu => b.machine.cpu;
  const second = worker(seed + 1, BASE + REGION, machineMmu, hashes);
  const b = boot(
    function* root(env: ProgramEnv): Op<void> {
      // The second worker alone in a new space, started by the root task, then paged by sigma0.
      const t1 = tid(300);
      yield* threadControl(env, t1, t1, ROOT_ID, 0, UTCB_AREA);
      yield* spaceControl(env, t1, 0, fpage(KIP_AREA, 12), fpage(UTCB_AREA, 12), 0);
      yield* threadControl(env, t1, t1, ROOT_ID, ROOT_ID, UTCB_AREA);
      yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(second), 0]);
      yield* send(env, t1);
      yield* threadControl(env, t1, t1, ROOT_ID, SIGMA0_ID, 0xffffffff);
      yield* worker(seed, BASE, machineMmu, hashes)(env);
    },
    // About 700 cycles a slice on the p3: preempted inside bulk operations over and over.
    { sigma0, profile, checkStale, config: { batchedAccesses: batched, timesliceUs: profile === 'p3' ? 1 : 12 } },
  );
  // Count the batched runs (the model cannot tell them apart: that is the point).
  const cpu = b.machine.cpu;
  const span = cpu.trySpan32.bind(cpu);
  const move = cpu.repeatMove32.bind(cpu);
  cpu.trySpan32 = (linear, count, kind, cpl) => {
    if (count > 1) batchedRuns.spans++;
    return span(linear, count, kind, cpl);
  };
  cpu.repeatMove32 = (from, to, count, cpl) => {
    const moved = move(from, to, count, cpl);
    if (moved) batchedRuns.moves++;
    return moved;
  };
  const run = b.run(1e9);
  expect(run.reason).toBe('idle');
  expect(hashes).toHaveLength(2);
  let ram = 0x811c9dc5;
  const words = b.machine.physical.words;
  for (let i = 0; i < words.length; i += 3) ram = fnv(ram, words[i]!);
  const mmu: Record<string, number> = { ...b.machine.cpu.counters };
  delete mmu.staleTranslations;
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  return { hashes, mmu, kernel: { ...b.kernel.counters }, tlb: b.machine.cpu.tlbEntries(), ram };
}

describe('batched program accesses', () => {
  for (const profile of ['p3', 'i486']) {
    it(`${profile}: batched and unbatched, with and without the shadow, give identical values, counters, cycles, TLB contents and RAM`, () => {
      const reference = soak(20260311, false, true, profile);
      // The run exercised what it claims to.
      expect(reference.mmu.pageFaults, 'page faults').toBeGreaterThan(50);
      expect(reference.kernel.timerInterrupts, 'preemptions').toBeGreaterThan(50);
      expect(reference.kernel.contextSwitches, 'context switches').toBeGreaterThan(50);
      expect(reference.mmu.dirtyWalks, 'dirty-bit walks').toBeGreaterThan(0);
      expect(reference.mmu.tlbHits, 'hits').toBeGreaterThan(100_000);
      batchedRuns.spans = batchedRuns.moves = 0;
      expect(soak(20260311, true, false, profile)).toEqual(reference);
      expect(batchedRuns.spans, 'batched spans').toBeGreaterThan(200);
      expect(batchedRuns.moves, 'batched copy runs').toBeGreaterThan(50);
      expect(soak(20260311, true, true, profile)).toEqual(reference);
      expect(soak(20260311, false, false, profile)).toEqual(reference);
    });
  }
});
