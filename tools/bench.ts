// `l4hurd bench`: host-speed benchmarks of the machine's hot paths.
//
// Each figure is reported as a ratio to raw typed-array reads measured in the same run, since
// absolute rates on a shared machine say little. Host time is read here only, to time the host;
// nothing measured feeds back into the model, whose cycle counts stay deterministic.

import { Machine } from '../emulator/machine.ts';
import { PhysicalMemory } from '../emulator/memory.ts';
import { Kernel } from '../kernel/kernel.ts';
import { PAGE_TOUCH_END, PAGE_TOUCH_START, pageTouch } from '../servers/demo/page-touch.ts';
import { PINGPONG_END, PINGPONG_START, pingPong } from '../servers/demo/pingpong.ts';
import { STRING_PINGPONG_END, STRING_PINGPONG_START, stringPingPong } from '../servers/demo/string-pingpong.ts';
import { sigma0 } from '../servers/sigma0.ts';
import type { ProgramBody } from '../libl4/abi.ts';
import { buildImage } from './build.ts';
import { bootImage } from './loader.ts';
import { Mmu } from '../emulator/mmu.ts';
import { CR0_PE, CR0_PG, CR0_WP, PG_A, PG_D, PG_P, PG_RW, PG_US } from '../emulator/paging.ts';

export interface BenchResult {
  rawReadsPerSec: number;
  tlbHitReadsPerSec: number;
  hitRatio: number;
  walkReadsPerSec: number;
  walkRatio: number;
  /** Model cycles per read in the walk benchmark (a miss, two walk references, the access). */
  walkCyclesPerRead: number;
}

const RUNS = 9;

/**
 * Best-of-RUNS rates (operations per second) of several bodies, each performing `ops`
 * operations. The bodies take turns, round after round, so that every best is taken over the
 * same stretch of time and the ratios between them do not drift with the machine's load.
 */
function rates(ops: number, bodies: ReadonlyArray<() => number>): number[] {
  const best = bodies.map(() => Infinity);
  let sink = 0;
  for (let run = 0; run < RUNS; run++) {
    bodies.forEach((body, i) => {
      const start = process.hrtime.bigint();
      sink ^= body();
      best[i] = Math.min(best[i]!, Number(process.hrtime.bigint() - start));
    });
  }
  if (sink === 0x7fffffff) process.stdout.write(''); // keep `sink` alive
  return best.map((ns) => ops / (ns / 1e9));
}

const MAPPED_BASE = 0x00400000;

/**
 * A 64 MiB machine with `pages` 4 KiB user pages mapped at MAPPED_BASE onto 16 frames at 16 MiB
 * (page i on frame i mod 16): the modelled TLB sees `pages` distinct pages, while the host's
 * caches see a 64 KiB working set like the raw loop's, so the figures compare the MMU's work.
 */
function pagedMachine(pages: number): Mmu {
  const memory = new PhysicalMemory(64 * 1024 * 1024);
  const mmu = new Mmu(memory, { profile: 'p3' });
  const directory = 0x1000;
  const tables = 0x10000;
  for (let i = 0; i < pages; i++) {
    const linear = MAPPED_BASE + i * 4096;
    const pdIndex = linear >>> 22;
    const table = tables + (pdIndex - (MAPPED_BASE >>> 22)) * 4096;
    memory.write32(directory + pdIndex * 4, table | PG_P | PG_RW | PG_US | PG_A);
    memory.write32(table + ((linear >>> 12) & 0x3ff) * 4, (0x1000000 + (i & 15) * 4096) | PG_P | PG_RW | PG_US | PG_A | PG_D);
  }
  mmu.cr3 = directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
  return mmu;
}

export function runMachineBenchmarks(): BenchResult {
  const READS = 8_000_000;

  // Raw: 32-bit reads from a Uint32Array over a 64 KiB working set.
  const raw = new Uint32Array(16 * 1024);
  for (let i = 0; i < raw.length; i++) raw[i] = i;
  const rawLoop = (): number => {
    let sum = 0;
    const mask = raw.length - 1;
    for (let i = 0; i < READS; i++) sum = (sum + raw[i & mask]!) | 0;
    return sum;
  };

  // TLB hits: the same 64 KiB (16 pages) read through the MMU at CPL 3; every read hits.
  const hitMmu = pagedMachine(16);
  const hitLoop = (): number => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum = (sum + hitMmu.read32(MAPPED_BASE + ((i << 2) & 0xfffc), 3)) | 0;
    return sum;
  };

  // Walks: a 4 KiB stride over 1024 pages, more than the 64-entry data TLB holds, so with LRU
  // every read misses and walks.
  const walkMmu = pagedMachine(1024);
  const before = walkMmu.counters;
  const walkLoop = (): number => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum = (sum + walkMmu.read32(MAPPED_BASE + ((i & 1023) << 12), 3)) | 0;
    return sum;
  };
  const [rawReadsPerSec, tlbHitReadsPerSec, walkReadsPerSec] = rates(READS, [rawLoop, hitLoop, walkLoop]) as [number, number, number];
  const after = walkMmu.counters;
  const reads = after.reads - before.reads;
  if (after.tlbHits !== before.tlbHits) throw new Error('walk benchmark: expected every read to miss the TLB');

  return {
    rawReadsPerSec,
    tlbHitReadsPerSec,
    hitRatio: tlbHitReadsPerSec / rawReadsPerSec,
    walkReadsPerSec,
    walkRatio: walkReadsPerSec / rawReadsPerSec,
    walkCyclesPerRead: (after.cycles - before.cycles) / reads,
  };
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
  /** Host milliseconds to validate, load and boot the default image to its shutdown (median). */
  bootMs: number;
  /** Model cycles of that boot. */
  bootCycles: number;
}

/** Boots the default image (built once, outside the timing) several times. */
export async function runBootBenchmarks(config: string): Promise<BootBenchResult> {
  const image = await buildImage(config);
  const times: number[] = [];
  let cycles = 0;
  for (let i = 0; i < 7; i++) {
    const start = process.hrtime.bigint();
    const result = bootImage(image, {});
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (result.exitStatus !== 0) throw new Error(`the default image exited with status ${result.exitStatus}:\n${result.output}`);
    cycles = result.counters.cycles;
  }
  times.sort((a, b) => a - b);
  return { bootMs: times[Math.floor(times.length / 2)]!, bootCycles: cycles };
}
