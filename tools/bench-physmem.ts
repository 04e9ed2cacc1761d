// `l4hurd bench`, physmem's part: mapping container pages into a task and breaking
// copy-on-write, in a booted image of the Hurd (servers/demo/physmem-bench.ts), timed between
// the program's two console markers; model cycles are read from the machine at the same two
// points. Each figure is the best of three boots of an image built once.

import { PHYSMEM_BENCH_END, PHYSMEM_BENCH_START } from '../servers/demo/physmem-bench.ts';
import { HURD_MODULES, benchImage, timedBetween } from './bench-marks.ts';

export interface PhysmemBenchResult {
  /** Pages mapped into a task by physmem's map, per host second. */
  containerMapPagesPerSec: number;
  /** Model cycles per page mapped. */
  containerMapCyclesPerPage: number;
  /** Copy-on-write breaks (a write fault on a copied 1 MiB container) per host second. */
  cowFaultsPerSec: number;
  /** Model cycles per break: the fault round trip, the default pager, the 4 KiB copy. */
  cowFaultCycles: number;
}

function image(commandLine: string): Promise<Uint8Array> {
  return benchImage([...HURD_MODULES, ['bench', 'program', 'servers/demo/physmem-bench.ts', commandLine]]);
}

function timed(bytes: Uint8Array, runs: number): { seconds: number; cycles: number } {
  return timedBetween(bytes, PHYSMEM_BENCH_START, PHYSMEM_BENCH_END, runs, 'physmem');
}

export async function runPhysmemBenchmarks(only?: 'map' | 'cow'): Promise<PhysmemBenchResult> {
  const MAP_PAGES = 4096;
  const MAP_ROUNDS = 100;
  const COW_PAGES = 256;
  const COW_ROUNDS = 40;
  const skipped = { seconds: Infinity, cycles: 0 };
  const map = only === 'cow' ? skipped : timed(await image(`mode=map pages=${MAP_PAGES} rounds=${MAP_ROUNDS}`), 3);
  const cow = only === 'map' ? skipped : timed(await image(`mode=cow pages=${COW_PAGES} rounds=${COW_ROUNDS}`), 3);
  return {
    containerMapPagesPerSec: (MAP_PAGES * MAP_ROUNDS) / map.seconds,
    containerMapCyclesPerPage: map.cycles / (MAP_PAGES * MAP_ROUNDS),
    cowFaultsPerSec: (COW_PAGES * COW_ROUNDS) / cow.seconds,
    cowFaultCycles: cow.cycles / (COW_PAGES * COW_ROUNDS),
  };
}
