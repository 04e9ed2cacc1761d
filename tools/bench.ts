// `l4hurd bench`: host-speed benchmarks of the machine's and the kernel's hot paths.
//
// Every hot loop is compared with a raw loop over the same address stream, with the same loop
// shape, reading the same RAM: the MMU's loops translate linear addresses that are mapped 1:1, so
// the raw loop reads the same words at the same addresses from the same Uint32Array, without
// translating. RAM holds a pattern in which about half the words are >= 2^31, so a value that
// would leave V8's small-integer range on a slow path shows up in the figures.
//
// Rules that keep the figures honest (each broke an earlier version of this file):
// - A loop function takes its state as arguments and reads nothing before its loop (no closure
//   variable, no property of an argument): V8 allocates feedback vectors lazily, so code before
//   the loop of a first call runs without feedback, and the optimized code compiled from that call
//   deoptimizes on the next one, or is slow, depending on a race with the compiler.
// - Each loop is called twice untimed before the timed rounds; the loops of one group take turns
//   round after round, each loop right after its raw counterpart; a ratio is the median of the
//   rounds' ratios and an ns figure the median of its rounds, so the ratios compare the same
//   stretches of time on a shared machine.
// - Rounds are timed in process CPU time (process.cpuUsage), not wall time, and kept short (a few
//   milliseconds): on a machine whose cores other processes share, wall time charges a round for
//   the time it was descheduled, and a long round is descheduled more often than its short raw
//   counterpart, which skews the ratio. (The kernel and boot figures below stay wall time, best
//   or median of a few runs, as they always were.)
// - The model counters of every loop are checked after every round (a hit loop that missed, or a
//   batched loop that counted differently, is an error, not a figure).
// - Warm-up goes on (up to MAX_WARM_UPS rounds) until V8 reports every loop of the group as
//   TurboFan code: on a loaded machine the background compiler can be late by many rounds, and
//   a round timed in the interpreter, or while the compiler thread runs, measures nothing. After
//   the rounds the status is checked again; a loop that is not TurboFan code is reported on
//   stderr and counted in `unoptimizedLoops`.
//
// Host time is read here only, to time the host; nothing measured feeds back into the model,
// whose cycle counts stay deterministic.

import { setFlagsFromString } from 'node:v8';
import { Machine } from '../emulator/machine.ts';
import { PhysicalMemory } from '../emulator/memory.ts';
import { Mmu, type MmuCounters } from '../emulator/mmu.ts';
import { PageTableBuilder } from '../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PG_A, PG_D, PG_P, PG_RW, PG_US } from '../emulator/paging.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { Op, ProgramBody, ProgramEnv } from '../libl4/abi.ts';
import { PAGE_TOUCH_END, PAGE_TOUCH_START, pageTouch } from '../servers/demo/page-touch.ts';
import { PINGPONG_END, PINGPONG_START, pingPong } from '../servers/demo/pingpong.ts';
import { STRING_PINGPONG_END, STRING_PINGPONG_START, stringPingPong } from '../servers/demo/string-pingpong.ts';
import { sigma0 } from '../servers/sigma0.ts';
import { buildImage } from './build.ts';
import { bootImage } from './loader.ts';
import { forgetInstrumented } from './instrument.ts';

// ---- Harness ------------------------------------------------------------------------------------

const ROUNDS = 15;
const WARM_UPS = 2;
const MAX_WARM_UPS = 60;

/** CPU time this process has used, in nanoseconds (microsecond resolution). */
function cpuNs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

/** One timed loop: `run` performs `ops` operations (it calls the loop function with its state). */
interface TimedLoop {
  readonly name: string;
  /** The loop function itself, whose optimization status is checked. */
  readonly fn: (...args: never[]) => unknown;
  readonly ops: number;
  readonly run: () => number;
  /** Untimed, before every call (restores state the loop changes). */
  readonly prepare?: () => void;
  /** Untimed, after every call: throws if the model did not do what the loop claims. */
  readonly check?: () => void;
}

/** Each loop's host nanoseconds per operation, round by round; the loops take turns. */
function rounds(loops: readonly TimedLoop[]): number[][] {
  const samples: number[][] = loops.map(() => []);
  let sink = 0;
  let warmUps = 0;
  while (samples[0]!.length < ROUNDS) {
    const timed = warmUps >= WARM_UPS && (warmUps >= MAX_WARM_UPS || loops.every((loop) => optimized(loop.fn)));
    if (!timed) warmUps++;
    loops.forEach((loop, i) => {
      loop.prepare?.();
      const start = cpuNs();
      sink ^= loop.run();
      const ns = cpuNs() - start;
      loop.check?.();
      if (timed) samples[i]!.push(ns / loop.ops);
    });
  }
  if (sink === 0x7fffffff) process.stdout.write(''); // keep `sink` alive
  for (const loop of loops) checkOptimized(loop.name, loop.fn);
  return samples;
}

/**
 * A loop against its raw counterpart: the median of the rounds' ratios (each round's pair ran
 * one after the other, so a burst of load elsewhere moves both), and each one's median ns.
 */
function compare(loop: number[], raw: number[]): { ratio: number; ns: number; rawNs: number } {
  return { ratio: median(loop.map((ns, i) => raw[i]! / ns)), ns: median(loop), rawNs: median(raw) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

let optimizationStatus: ((fn: unknown) => number) | null | undefined;
let unoptimized = 0;

/** V8's %GetOptimizationStatus, or null where there is none. */
function statusOf(fn: unknown): number | null {
  if (optimizationStatus === undefined) {
    try {
      setFlagsFromString('--allow-natives-syntax');
      optimizationStatus = new Function('fn', 'return %GetOptimizationStatus(fn);') as (fn: unknown) => number;
    } catch {
      optimizationStatus = null; // not V8, or natives refused: nothing to check
    }
  }
  return optimizationStatus ? optimizationStatus(fn) : null;
}

/** Is `fn` TurboFan code (status bits 16 optimized and 64 TurboFan)? True where nothing can tell. */
function optimized(fn: unknown): boolean {
  const status = statusOf(fn);
  return status === null || (status & (16 | 64)) === (16 | 64);
}

function checkOptimized(name: string, fn: unknown): void {
  const status = statusOf(fn);
  if (status !== null && (status & (16 | 64)) !== (16 | 64)) {
    unoptimized++;
    process.stderr.write(`bench: loop '${name}' is not TurboFan code after its rounds (V8 status ${status.toString(2)})\n`);
  }
}

/** Loops that were not TurboFan code after their rounds (0 in a trustworthy run). */
function unoptimizedLoops(): number {
  return unoptimized;
}

/** The pattern RAM is filled with: a multiplicative hash of the word index, half of it >= 2^31. */
function patternWord(index: number): number {
  return (Math.imul(index + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
}

function fillPattern(words: Uint32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) words[i] = patternWord(i);
}

/** mulberry32: a small seeded generator for the mixed-miss stream. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function delta(before: MmuCounters, after: MmuCounters): MmuCounters {
  const out = { ...after };
  for (const key of Object.keys(out) as Array<keyof MmuCounters>) out[key] = after[key] - before[key];
  return out;
}

function expectCounts(loop: string, counts: MmuCounters, expected: Partial<MmuCounters>): void {
  for (const key of Object.keys(expected) as Array<keyof MmuCounters>) {
    if (counts[key] !== expected[key]) throw new Error(`${loop}: expected ${key} ${expected[key]}, counted ${counts[key]}`);
  }
}

// ---- The machine's loops ----------------------------------------------------------------------
//
// One 64 MiB RAM filled with the pattern; page directory A maps 4 MiB at 0x00400000 1:1 in 4 KiB
// user pages (A and D set); directory B maps 48 MiB at 0x00800000 1:1 for the mixed-miss stream.
// Each loop has an MMU of its own (its own TLBs and counters) over the shared RAM.

const READ = 0;
const WRITE = 1;
const HIT_BASE = 0x00400000;
const DIRECTORY_A = 0x1000;
const DIRECTORY_B = 0x2000;
const MIXED_BASE = 0x00800000;
const MIXED_REGIONS = 12; // 4 MiB regions of directory B
const MIXED_LENGTH = 1 << 17;

/** Reads over 16 pages (64 KiB), word after word: every read hits the TLB. */
function hitLoop(mmu: Mmu, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + mmu.read32(0x00400000 + ((i << 2) & 0xfffc), 3)) | 0;
  return sum;
}
function hitRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + words[(0x00400000 + ((i << 2) & 0xfffc)) >>> 2]!) | 0;
  return sum;
}

/**
 * 128 pages, one read each in turn: 8 pages per set of the 64-entry 4-way DTLB, so with LRU every
 * read misses and walks. Each page is read at its own cache line (page p at line p mod 64), so
 * the 128 lines and 128 PTEs stay in the host's L1 and the figure is the MMU's work.
 */
function walkLoop(mmu: Mmu, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + mmu.read32(0x00400000 + ((i & 127) << 12) + ((i << 6) & 0xfc0) + ((i >>> 5) & 0x3c), 3)) | 0;
  return sum;
}
function walkRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + words[(0x00400000 + ((i & 127) << 12) + ((i << 6) & 0xfc0) + ((i >>> 5) & 0x3c)) >>> 2]!) | 0;
  return sum;
}

/** Batched: the 16 pages of the hit loop, one span32 per page, then the page's words. */
function spanLoop(mmu: Mmu, words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i += 1024) {
    const first = mmu.span32(0x00400000 + ((i << 2) & 0xf000), 1024, 0, 3) >>> 2;
    for (let j = 0; j < 1024; j++) sum = (sum + words[first + j]!) | 0;
  }
  return sum;
}
function spanRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i += 1024) {
    const first = (0x00400000 + ((i << 2) & 0xf000)) >>> 2;
    for (let j = 0; j < 1024; j++) sum = (sum + words[first + j]!) | 0;
  }
  return sum;
}

/** Two pages 64 KiB apart, which share a DTLB set (16 sets on the p3), read alternately. */
function pingPongLoop(mmu: Mmu, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + mmu.read32(0x00400000 + ((i & 1) << 16) + ((i << 1) & 0xffc), 3)) | 0;
  return sum;
}
function pingPongRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + words[(0x00400000 + ((i & 1) << 16) + ((i << 1) & 0xffc)) >>> 2]!) | 0;
  return sum;
}

/**
 * The seeded mixed stream: reads and writes (a write stores a word >= 2^31 derived from its
 * address), translated with tryTranslate as the kernel's program threads do; a fault skips the
 * access. The raw loop makes every access, faulting ones included (a little more work).
 */
function mixedLoop(mmu: Mmu, words: Uint32Array, addresses: Uint32Array, kinds: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < addresses.length; i++) {
    const linear = addresses[i]!;
    const kind = kinds[i]!;
    const physical = mmu.tryTranslate(linear, kind as 0 | 1, 3);
    if (physical < 0) continue;
    if (kind === 1) words[physical >>> 2] = linear ^ 0x80000001;
    else sum = (sum + words[physical >>> 2]!) | 0;
  }
  return sum;
}
function mixedRawLoop(words: Uint32Array, addresses: Uint32Array, kinds: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < addresses.length; i++) {
    const linear = addresses[i]!;
    const kind = kinds[i]!;
    if (kind === 1) words[linear >>> 2] = linear ^ 0x80000001;
    else sum = (sum + words[linear >>> 2]!) | 0;
  }
  return sum;
}

interface MixedSetup {
  addresses: Uint32Array;
  kinds: Uint8Array;
  /** Directory B and its page tables as built, restored before every round. */
  directory: Uint32Array;
  tables: Uint32Array;
  tablesAt: number;
}

/**
 * Directory B over [MIXED_BASE, +48 MiB): regions 2, 6 and 9 are 4 MiB pages, the others page
 * tables of 4 KiB pages of which 1 in 16 is not present (faults), 1 in 4 has A clear and 1 in 2
 * D clear (write-backs; the tables are restored before every round, so each round does the same).
 * The stream: 3 in 4 accesses go to a hot set of 96 pages (more than the DTLB holds, picked at
 * random, so victims follow no period), the others anywhere; 1 in 4 is a write.
 */
function mixedSetup(memory: PhysicalMemory): MixedSetup {
  const random = seeded(20260311);
  const tablesAt = 0x100000;
  const builder = new PageTableBuilder(memory, DIRECTORY_B, tablesAt, tablesAt + MIXED_REGIONS * 4096);
  const large = new Set([2, 6, 9]);
  for (let region = 0; region < MIXED_REGIONS; region++) {
    const base = MIXED_BASE + region * 0x400000;
    if (large.has(region)) {
      builder.mapLarge(base, base, PG_RW | PG_US | (random() & 1 ? PG_A : 0));
      continue;
    }
    for (let page = 0; page < 1024; page++) {
      const linear = base + page * 4096;
      let flags = PG_RW | PG_US;
      if (random() % 4 !== 0) flags |= PG_A;
      if (random() % 2 !== 0) flags |= PG_D;
      const pte = builder.map(linear, linear, flags);
      if (random() % 16 === 0) memory.write32(pte, memory.read32(pte) & ~PG_P);
    }
  }
  const pages = MIXED_REGIONS * 1024;
  const hot = Array.from({ length: 96 }, () => random() % pages);
  const addresses = new Uint32Array(MIXED_LENGTH);
  const kinds = new Uint8Array(MIXED_LENGTH);
  for (let i = 0; i < MIXED_LENGTH; i++) {
    const page = random() % 4 !== 0 ? hot[random() % hot.length]! : random() % pages;
    addresses[i] = MIXED_BASE + page * 4096 + ((random() & 0x3ff) << 2);
    kinds[i] = random() % 4 === 0 ? WRITE : READ;
  }
  const tables = memory.words.slice(tablesAt >>> 2, (tablesAt + MIXED_REGIONS * 4096) >>> 2);
  const directory = memory.words.slice(DIRECTORY_B >>> 2, (DIRECTORY_B + 4096) >>> 2);
  return { addresses, kinds, directory, tables, tablesAt };
}

function pagingOn(mmu: Mmu, directory: number): Mmu {
  mmu.cr4 = CR4_PSE | CR4_PGE;
  mmu.cr3 = directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
  return mmu;
}

export interface BenchResult {
  /** Raw reads per second of the hit loop's stream (the baseline of hitRatio). */
  rawReadsPerSec: number;
  tlbHitReadsPerSec: number;
  /** MMU read32 on TLB hits / raw reads of the same stream; with ns per read of each. */
  hitRatio: number;
  hitNsPerRead: number;
  hitRawNsPerRead: number;
  walkReadsPerSec: number;
  /** MMU read32 that misses the TLB and walks / raw reads of the same stream. */
  walkRatio: number;
  walkNsPerRead: number;
  walkRawNsPerRead: number;
  /** Model cycles per read in the walk loop (a miss, two walk references, the access). */
  walkCyclesPerRead: number;
  /** span32 over whole pages, then the page's words / raw reads of the same words. */
  spanRatio: number;
  spanNsPerWord: number;
  spanRawNsPerWord: number;
  /** Two pages of one TLB set read alternately / raw. */
  pingPongRatio: number;
  pingPongNsPerRead: number;
  pingPongRawNsPerRead: number;
  /** The seeded mixed stream (faults, A/D write-backs, 4 MiB pages, capacity misses) / raw. */
  mixedRatio: number;
  mixedNsPerAccess: number;
  mixedRawNsPerAccess: number;
  /** Of the mixed stream: the fraction of accesses that missed, and that faulted. */
  mixedMissFraction: number;
  mixedFaultFraction: number;
}

export function runMachineBenchmarks(): BenchResult {
  const memory = new PhysicalMemory(64 * 1024 * 1024);
  fillPattern(memory.words, 0, memory.words.length);
  const words = memory.words;
  const tablesA = new PageTableBuilder(memory, DIRECTORY_A, 0x10000, 0x11000);
  for (let page = 0; page < 1024; page++) tablesA.map(HIT_BASE + page * 4096, HIT_BASE + page * 4096, PG_RW | PG_US | PG_A | PG_D);
  memory.write32(DIRECTORY_A + (HIT_BASE >>> 22) * 4, 0x10000 | PG_P | PG_RW | PG_US | PG_A);
  const mixed = mixedSetup(memory);
  const machine = (directory: number): Mmu => pagingOn(new Mmu(memory, { profile: 'p3' }), directory);

  const HIT_READS = 1024 * 1024;
  const WALK_READS = 128 * 1024;
  const hit = machine(DIRECTORY_A);
  const walk = machine(DIRECTORY_A);
  const span = machine(DIRECTORY_A);
  const pingPong = machine(DIRECTORY_A);
  const mix = machine(DIRECTORY_B);

  // Each MMU loop checks its own counters after every call: the first call fills the TLB; from
  // the second on, every call counts exactly what it claims, and the same as the call before.
  const counted = (mmu: Mmu, name: string, expected: Partial<MmuCounters>): { prepare: () => void; check: () => void; last: () => MmuCounters } => {
    let before = mmu.counters;
    let last: MmuCounters | null = null;
    let calls = 0;
    return {
      prepare: () => {
        before = mmu.counters;
      },
      check: () => {
        const counts = delta(before, mmu.counters);
        if (calls++ === 0) return;
        expectCounts(name, counts, expected);
        if (last) expectCounts(name, counts, last);
        last = counts;
      },
      last: () => last!,
    };
  };
  const hitCounts = counted(hit, 'hit', { accesses: HIT_READS, tlbHits: HIT_READS, tlbMisses: 0 });
  const walkCounts = counted(walk, 'walk', { accesses: WALK_READS, tlbHits: 0, tlbMisses: WALK_READS, walkReferences: 2 * WALK_READS, accessedDirtyWrites: 0 });
  const spanCounts = counted(span, 'span', { accesses: HIT_READS, tlbHits: HIT_READS, tlbMisses: 0 });
  const pingPongCounts = counted(pingPong, 'ping-pong', { accesses: HIT_READS, tlbHits: HIT_READS, tlbMisses: 0 });
  const mixedTables = mixed.tables;
  let mixedCounts: MmuCounters | null = null;
  let mixedBefore = mix.counters;
  const loops: TimedLoop[] = [
    { name: 'hit', fn: hitLoop, ops: HIT_READS, run: () => hitLoop(hit, HIT_READS), ...hitCounts },
    { name: 'hit raw', fn: hitRawLoop, ops: HIT_READS, run: () => hitRawLoop(words, HIT_READS) },
    { name: 'walk', fn: walkLoop, ops: WALK_READS, run: () => walkLoop(walk, WALK_READS), ...walkCounts },
    { name: 'walk raw', fn: walkRawLoop, ops: WALK_READS, run: () => walkRawLoop(words, WALK_READS) },
    { name: 'span', fn: spanLoop, ops: HIT_READS, run: () => spanLoop(span, words, HIT_READS), ...spanCounts },
    { name: 'span raw', fn: spanRawLoop, ops: HIT_READS, run: () => spanRawLoop(words, HIT_READS) },
    { name: 'ping-pong', fn: pingPongLoop, ops: HIT_READS, run: () => pingPongLoop(pingPong, HIT_READS), ...pingPongCounts },
    { name: 'ping-pong raw', fn: pingPongRawLoop, ops: HIT_READS, run: () => pingPongRawLoop(words, HIT_READS) },
    {
      name: 'mixed',
      fn: mixedLoop,
      ops: MIXED_LENGTH,
      run: () => mixedLoop(mix, words, mixed.addresses, mixed.kinds),
      prepare: () => {
        // The tables as built (A and D bits clear again) and an empty TLB: every round the same.
        words.set(mixed.directory, DIRECTORY_B >>> 2);
        words.set(mixedTables, mixed.tablesAt >>> 2);
        mix.cr3 = DIRECTORY_B;
        mixedBefore = mix.counters;
      },
      check: () => {
        const counts = delta(mixedBefore, mix.counters);
        if (counts.accesses !== MIXED_LENGTH || counts.pageFaults === 0 || counts.accessedDirtyWrites === 0 || counts.tlbHits === 0 || counts.dtlbEvictions === 0) {
          throw new Error(`mixed: the stream did not exercise hits, misses, faults and A/D write-backs: ${JSON.stringify(counts)}`);
        }
        if (!mix.tlbEntries().some((e) => e.large)) throw new Error('mixed: no 4 MiB page was used');
        if (mixedCounts) expectCounts('mixed', counts, mixedCounts);
        else mixedCounts = counts;
      },
    },
    { name: 'mixed raw', fn: mixedRawLoop, ops: MIXED_LENGTH, run: () => mixedRawLoop(words, mixed.addresses, mixed.kinds) },
  ];
  const samples = rounds(loops);
  const [hitRun, walked, spanned, pingPonged, mixedRun] = [0, 2, 4, 6, 8].map((i) => compare(samples[i]!, samples[i + 1]!)) as [
    ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>,
  ];
  const walkCounted = walkCounts.last();
  const mixedCountsFinal = mixedCounts as MmuCounters | null;
  return {
    rawReadsPerSec: 1e9 / hitRun.rawNs,
    tlbHitReadsPerSec: 1e9 / hitRun.ns,
    hitRatio: hitRun.ratio,
    hitNsPerRead: hitRun.ns,
    hitRawNsPerRead: hitRun.rawNs,
    walkReadsPerSec: 1e9 / walked.ns,
    walkRatio: walked.ratio,
    walkNsPerRead: walked.ns,
    walkRawNsPerRead: walked.rawNs,
    walkCyclesPerRead: walkCounted.cycles / walkCounted.accesses,
    spanRatio: spanned.ratio,
    spanNsPerWord: spanned.ns,
    spanRawNsPerWord: spanned.rawNs,
    pingPongRatio: pingPonged.ratio,
    pingPongNsPerRead: pingPonged.ns,
    pingPongRawNsPerRead: pingPonged.rawNs,
    mixedRatio: mixedRun.ratio,
    mixedNsPerAccess: mixedRun.ns,
    mixedRawNsPerAccess: mixedRun.rawNs,
    mixedMissFraction: mixedCountsFinal ? mixedCountsFinal.tlbMisses / mixedCountsFinal.accesses : 0,
    mixedFaultFraction: mixedCountsFinal ? mixedCountsFinal.pageFaults / mixedCountsFinal.accesses : 0,
  };
}

// ---- A program's memory accesses ------------------------------------------------------------
//
// The root task (paged by sigma0, which maps memory 1:1) runs each loop between two console
// markers; at the second marker the console sink times the raw counterpart over the same
// physical words, so program and raw rounds take turns. Each round's MMU counters are checked
// (every access a hit) and the program's checksum must equal the raw loop's.

const PROGRAM_BASE = 0x02000000;
/** 16 pages read by the loops, and 16 more that copy and fill write. */
const PROGRAM_PAGES = 32;

function* programReadLoop(env: ProgramEnv, n: number): Op<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + (yield* env.read32(0x02000000 + ((i << 2) & 0xfffc)))) | 0;
  return sum;
}
function programReadRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum + words[(0x02000000 + ((i << 2) & 0xfffc)) >>> 2]!) | 0;
  return sum;
}

/**
 * readWordsInto one page at a time over the 16 pages, into one buffer, each page summed as the
 * raw loop sums it. The page's sum runs in a local coerced to int32 first, in both loops: V8
 * types a variable that lives across a `yield` as any number, and an int32 sum of uint32 words
 * >= 2^31 in such a variable runs in doubles (measured 4.5 against 1.25 ns a word).
 */
function* programBulkLoop(env: ProgramEnv, n: number, page: Uint32Array): Op<number> {
  let sum = 0;
  for (let i = 0; i < n; i += 1024) {
    yield* env.readWordsInto(0x02000000 + ((i << 2) & 0xf000), page);
    let s = sum | 0;
    for (let j = 0; j < 1024; j++) s = (s + page[j]!) | 0;
    sum = s;
  }
  return sum;
}

/** The same with readWords, whose result is a new number[] per page. */
function* programReadWordsLoop(env: ProgramEnv, n: number): Op<number> {
  let sum = 0;
  for (let i = 0; i < n; i += 1024) {
    const page = yield* env.readWords(0x02000000 + ((i << 2) & 0xf000), 1024);
    let s = sum | 0;
    for (let j = 0; j < 1024; j++) s = (s + page[j]!) | 0;
    sum = s;
  }
  return sum;
}
function programBulkRawLoop(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i += 1024) {
    const first = (0x02000000 + ((i << 2) & 0xf000)) >>> 2;
    let s = sum | 0;
    for (let j = 0; j < 1024; j++) s = (s + words[first + j]!) | 0;
    sum = s;
  }
  return sum;
}

/** env.copy of whole mapped pages, from the 16 read pages to the 16 above them. */
function* programCopyLoop(env: ProgramEnv, n: number): Op<number> {
  for (let i = 0; i < n; i++) yield* env.copy(0x02010000 + ((i & 15) << 12), 0x02000000 + ((i & 15) << 12), 4096);
  return n;
}
function programCopyRawLoop(words: Uint32Array, n: number): number {
  for (let i = 0; i < n; i++) {
    const from = (0x02000000 + ((i & 15) << 12)) >>> 2;
    words.copyWithin((0x02010000 + ((i & 15) << 12)) >>> 2, from, from + 1024);
  }
  return n;
}

/** env.fill of whole mapped pages (zeroing, as a memory server does). */
function* programFillLoop(env: ProgramEnv, n: number): Op<number> {
  for (let i = 0; i < n; i++) yield* env.fill(0x02010000 + ((i & 15) << 12), 4096, 0);
  return n;
}
function programFillRawLoop(bytes: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) bytes.fill(0, 0x02010000 + ((i & 15) << 12), 0x02011000 + ((i & 15) << 12));
  return n;
}

interface ProgramLoop {
  readonly name: string;
  readonly fn: (env: ProgramEnv, n: number, page: Uint32Array) => Op<number>;
  readonly n: number;
  /** Units the ns figure is per (reads, words, pages), and the MMU accesses a round makes. */
  readonly units: number;
  readonly accesses: number;
  readonly rawFn: (...args: never[]) => unknown;
  readonly raw: (n: number) => number;
}

export interface ProgramBenchResult {
  /** A program thread's `yield* env.read32` over 16 mapped pages, all hits / raw reads of the same words. */
  programReadRatio: number;
  programReadNsPerRead: number;
  programReadRawNsPerRead: number;
  /** `env.readWordsInto` of whole pages, the words summed / raw reads of the same words. */
  programBulkRatio: number;
  programBulkNsPerWord: number;
  programBulkRawNsPerWord: number;
  /** `env.readWords` (a number[] per page) of whole pages, the words summed / raw reads. */
  programReadWordsRatio: number;
  programReadWordsNsPerWord: number;
  /** `env.copy` of a mapped 4 KiB page / `Uint32Array.copyWithin` of the same bytes. */
  copyPageRatio: number;
  copyPagesPerSec: number;
  copyPageNs: number;
  copyPageRawNs: number;
  /** `env.fill` of a mapped 4 KiB page / `Uint8Array.fill` of the same bytes. */
  fillPageRatio: number;
  fillPageNs: number;
  fillPageRawNs: number;
}

export function runProgramBenchmarks(): ProgramBenchResult {
  let machine: Machine | null = null;
  const words = (): Uint32Array => machine!.physical.words;
  const loops: ProgramLoop[] = [
    { name: 'program read', fn: programReadLoop, n: 128 * 1024, units: 128 * 1024, accesses: 128 * 1024, rawFn: programReadRawLoop, raw: (n) => programReadRawLoop(words(), n) },
    { name: 'program bulk', fn: programBulkLoop, n: 1024 * 1024, units: 1024 * 1024, accesses: 1024 * 1024, rawFn: programBulkRawLoop, raw: (n) => programBulkRawLoop(words(), n) },
    { name: 'program readWords', fn: programReadWordsLoop, n: 256 * 1024, units: 256 * 1024, accesses: 256 * 1024, rawFn: programBulkRawLoop, raw: (n) => programBulkRawLoop(words(), n) },
    { name: 'program copy', fn: programCopyLoop, n: 2048, units: 2048, accesses: 2048 * 2048, rawFn: programCopyRawLoop, raw: (n) => programCopyRawLoop(words(), n) },
    { name: 'program fill', fn: programFillLoop, n: 4096, units: 4096, accesses: 4096 * 1024, rawFn: programFillRawLoop, raw: (n) => programFillRawLoop(machine!.physical.bytes, n) },
  ];
  const buffer = new Uint32Array(1024);
  // Rounds go on until the console sink has ROUNDS timed ones (after the warm-up it decides on).
  let rounds = 0;
  let warmUps = 0;
  let timed = false;
  let finished = false;
  function* root(env: ProgramEnv): Op<void> {
    // The pattern, written through the MMU: this also faults every page in.
    const page: number[] = new Array<number>(1024);
    for (let p = 0; p < PROGRAM_PAGES; p++) {
      const base = PROGRAM_BASE + p * 4096;
      for (let i = 0; i < 1024; i++) page[i] = patternWord((base >>> 2) + i);
      yield* env.writeWords(base, page);
    }
    while (!finished) {
      for (let k = 0; k < loops.length; k++) {
        yield* env.print(`bench: start ${k}\n`);
        const sum = yield* loops[k]!.fn(env, loops[k]!.n, buffer);
        yield* env.print(`bench: end ${k} ${sum}\n`);
      }
    }
  }
  const programNs: number[][] = loops.map(() => []);
  const rawNs: number[][] = loops.map(() => []);
  const done: number[] = loops.map(() => 0);
  const allOptimized = (): boolean => loops.every((loop) => optimized(loop.fn) && optimized(loop.rawFn));
  let start = 0;
  let before: MmuCounters | null = null;
  machine = new Machine({
    ramBytes: 64 * 1024 * 1024,
    consoleSink: (text) => {
      const [marker, which, sum] = text.trim().split(' ').slice(1);
      if (marker === 'start') {
        before = machine!.cpu.counters;
        start = cpuNs();
        return;
      }
      if (marker !== 'end') return;
      const ns = cpuNs() - start;
      const k = Number(which);
      const loop = loops[k]!;
      const counts = delta(before!, machine!.cpu.counters);
      // The first round may refill the TLB after the set-up; every later one only hits.
      expectCounts(loop.name, counts, done[k] === 0 ? { accesses: loop.accesses } : { accesses: loop.accesses, tlbHits: loop.accesses, tlbMisses: 0 });
      const rawStart = cpuNs();
      const rawSum = loop.raw(loop.n);
      const raw = cpuNs() - rawStart;
      if (rawSum !== Number(sum)) throw new Error(`${loop.name}: the program's checksum ${sum} is not the raw loop's ${rawSum}`);
      done[k]!++;
      if (timed) {
        programNs[k]!.push(ns / loop.units);
        rawNs[k]!.push(raw / loop.units);
      }
      if (k === loops.length - 1) {
        // A round is over: the next is timed once warm (or warm-up has gone on long enough).
        rounds++;
        if (!timed) {
          warmUps++;
          timed = warmUps >= WARM_UPS && (warmUps >= MAX_WARM_UPS || allOptimized());
        } else if (programNs[0]!.length >= ROUNDS) {
          finished = true;
        }
      }
    },
  });
  machine.physical.fill(0, machine.physical.size, 0);
  new Kernel(machine, { root, sigma0 }).run({ maxCycles: 1e13 });
  if (!finished || done.some((n) => n !== rounds)) throw new Error(`program benchmarks did not finish: ${machine.console.output.slice(-500)}`);
  for (const loop of loops) {
    checkOptimized(loop.name, loop.fn);
    checkOptimized(`${loop.name} raw`, loop.rawFn);
  }
  const [read, bulk, readWords, copy, fill] = programNs.map((ns, k) => compare(ns, rawNs[k]!)) as [
    ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>, ReturnType<typeof compare>,
  ];
  return {
    programReadRatio: read.ratio,
    programReadNsPerRead: read.ns,
    programReadRawNsPerRead: read.rawNs,
    programBulkRatio: bulk.ratio,
    programBulkNsPerWord: bulk.ns,
    programBulkRawNsPerWord: bulk.rawNs,
    programReadWordsRatio: readWords.ratio,
    programReadWordsNsPerWord: readWords.ns,
    copyPageRatio: copy.ratio,
    copyPagesPerSec: 1e9 / copy.ns,
    copyPageNs: copy.ns,
    copyPageRawNs: copy.rawNs,
    fillPageRatio: fill.ratio,
    fillPageNs: fill.ns,
    fillPageRawNs: fill.rawNs,
  };
}

/** Loops of this run that were not TurboFan code after their rounds (0 in a trustworthy run). */
export function benchHealth(): { unoptimizedLoops: number } {
  return { unoptimizedLoops: unoptimizedLoops() };
}


export interface KernelBenchResult {
  /** Call/reply-wait round trips between two spaces, no data words, per host second. */
  ipcRoundTripsPerSec: number;
  /** Model cycles of one one-way IPC in that round trip. */
  ipcCyclesOneWay: number;
  /** Page faults resolved per host second in the page-touch program with a trivial pager. */
  pageFaultsPerSec: number;
  /** Model cycles per resolved fault (the faulting write, the fault IPC, the pager, the reply). */
  pageFaultCycles: number;
  /** Bytes per host second moved by 4 KiB string items, one per call, between two spaces. */
  stringIpcBytesPerSec: number;
  /** Model cycles per KiB of those calls (the whole round trip, IPC paths included). */
  stringIpcCyclesPerKiB: number;
}

interface MarkedRun {
  seconds: number;
  cycles: number;
}

/** Boots `root` and measures host time and model cycles between two console markers. */
function markedRun(root: ProgramBody, start: string, end: string, ramBytes: number, withSigma0: boolean): MarkedRun {
  let startNs = 0n;
  let endNs = 0n;
  let startCycles = 0;
  let endCycles = 0;
  const machine: Machine = new Machine({
    ramBytes,
    consoleSink: (text) => {
      if (text === start) {
        startNs = process.hrtime.bigint();
        startCycles = machine.cpu.cycles;
      } else if (text === end) {
        endNs = process.hrtime.bigint();
        endCycles = machine.cpu.cycles;
      }
    },
  });
  // Commit the host's pages of RAM first, as Pistachio's pingpong touches all memory beforehand:
  // the host's first-touch faults on a lazily committed buffer are not the emulator's work.
  machine.physical.fill(0, machine.physical.size, 0);
  const kernel = new Kernel(machine, { root, sigma0: withSigma0 ? sigma0 : undefined });
  kernel.run({ maxCycles: 1e12 });
  if (endNs === 0n) throw new Error(`benchmark program did not reach its end marker: ${machine.console.output}`);
  return { seconds: Number(endNs - startNs) / 1e9, cycles: endCycles - startCycles };
}

function bestOf(runs: number, run: () => MarkedRun): MarkedRun {
  let best: MarkedRun | null = null;
  for (let i = 0; i < runs; i++) {
    const result = run();
    if (!best || result.seconds < best.seconds) best = result;
  }
  return best!;
}

export function runKernelBenchmarks(): KernelBenchResult {
  const ROUNDS = 200_000;
  const ipc = bestOf(3, () => markedRun(pingPong({ rounds: ROUNDS }), PINGPONG_START, PINGPONG_END, 64 * 1024 * 1024, false));
  const PAGES = 16_384;
  const faults = bestOf(3, () => markedRun(pageTouch({ pages: PAGES, pool: true }), PAGE_TOUCH_START, PAGE_TOUCH_END, 256 * 1024 * 1024, true));
  const STRING_ROUNDS = 50_000;
  const STRING_BYTES = 4096;
  const strings = bestOf(3, () =>
    markedRun(stringPingPong({ rounds: STRING_ROUNDS, bytes: STRING_BYTES }), STRING_PINGPONG_START, STRING_PINGPONG_END, 64 * 1024 * 1024, true),
  );
  return {
    ipcRoundTripsPerSec: ROUNDS / ipc.seconds,
    ipcCyclesOneWay: ipc.cycles / (2 * ROUNDS),
    pageFaultsPerSec: PAGES / faults.seconds,
    pageFaultCycles: faults.cycles / PAGES,
    stringIpcBytesPerSec: (STRING_ROUNDS * STRING_BYTES) / strings.seconds,
    stringIpcCyclesPerKiB: strings.cycles / ((STRING_ROUNDS * STRING_BYTES) / 1024),
  };
}

export interface BootBenchResult {
  /**
   * Host milliseconds to validate, load and boot the default image to its shutdown (median),
   * its bundles' instrumentation already known to the process (as in the debugger's replays).
   */
  bootMs: number;
  /** The same for an image the process has not seen: the bundles instrumented too (median). */
  bootColdMs: number;
  /** Model cycles of that boot. */
  bootCycles: number;
}

/** Boots the default image (built once, outside the timing) several times. */
export async function runBootBenchmarks(config: string): Promise<BootBenchResult> {
  const image = await buildImage(config);
  const warm: number[] = [];
  const cold: number[] = [];
  let cycles = 0;
  for (let i = 0; i < 7; i++) {
    for (const times of [warm, cold]) {
      if (times === cold) forgetInstrumented();
      const start = process.hrtime.bigint();
      const result = bootImage(image, {});
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (result.exitStatus !== 0) throw new Error(`the default image exited with status ${result.exitStatus}:\n${result.output}`);
      cycles = result.counters.cycles;
    }
  }
  const median = (times: number[]): number => times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  return { bootMs: median(warm), bootColdMs: median(cold), bootCycles: cycles };
}
