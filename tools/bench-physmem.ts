// `l4hurd bench`, physmem's part: mapping container pages into a task and breaking
// copy-on-write, in a booted image of the Hurd (servers/demo/physmem-bench.ts), timed between
// the program's two console markers; model cycles are read from the machine at the same two
// points. Each figure is the best of three boots of an image built once.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine } from '../emulator/machine.ts';
import { PHYSMEM_BENCH_END, PHYSMEM_BENCH_START } from '../servers/demo/physmem-bench.ts';
import { buildImage } from './build.ts';
import { bootImage } from './loader.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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

async function image(commandLine: string): Promise<Uint8Array> {
  const modules = [
    ['kernel', 'kernel', 'kernel/main.ts', ''],
    ['sigma0', 'sigma0', 'servers/sigma0.ts', ''],
    ['wortel', 'root', 'servers/wortel.ts', ''],
    ['physmem', 'program', 'servers/physmem/main.ts', 'quiet'],
    ['task', 'program', 'servers/task/main.ts', ''],
    ['policy', 'program', 'servers/policy/main.ts', ''],
    ['bench', 'program', 'servers/demo/physmem-bench.ts', commandLine],
  ].map(([name, kind, entry, line]) => ({ name, kind, entry: join(ROOT, entry!), commandLine: line }));
  const dir = mkdtempSync(join(tmpdir(), 'l4hurd-bench-'));
  try {
    const config = join(dir, 'bench.json');
    writeFileSync(config, JSON.stringify({ modules }));
    return await buildImage(config);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Host seconds and model cycles between the markers, best of `runs` boots. */
function timed(bytes: Uint8Array, runs: number): { seconds: number; cycles: number } {
  let best = { seconds: Infinity, cycles: 0 };
  for (let run = 0; run < runs; run++) {
    let machine: Machine | null = null;
    let startNs = 0n;
    let endNs = 0n;
    let startCycles = 0;
    let endCycles = 0;
    const result = bootImage(bytes, {
      onStart: (booted) => {
        machine = booted.machine;
      },
      console: (text) => {
        if (text === PHYSMEM_BENCH_START) {
          startNs = process.hrtime.bigint();
          startCycles = machine!.cpu.cycles;
        } else if (text === PHYSMEM_BENCH_END) {
          endNs = process.hrtime.bigint();
          endCycles = machine!.cpu.cycles;
        }
      },
    });
    if (result.exitStatus !== 0 || endNs === 0n) throw new Error(`the physmem benchmark failed:\n${result.output}`);
    const seconds = Number(endNs - startNs) / 1e9;
    if (seconds < best.seconds) best = { seconds, cycles: endCycles - startCycles };
  }
  return best;
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
