// What the benchmarks of booted Hurd images share (bench-physmem.ts, bench-fileread.ts): an image
// of the Hurd's servers plus the modules a benchmark adds, built from a config written to a
// temporary directory, and the host time and model cycles between two console lines the
// benchmark program prints, best of a few boots.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine } from '../emulator/machine.ts';
import { buildImage } from './build.ts';
import { bootImage, type BootOptions } from './loader.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A module of a benchmark's image: name, kind, entry (from the project root), command line. */
export type BenchModule = readonly [name: string, kind: string, entry: string, commandLine: string];

/** The kernel, sigma0, wortel and the Hurd's servers (physmem quiet). */
export const HURD_MODULES: readonly BenchModule[] = [
  ['kernel', 'kernel', 'kernel/main.ts', ''],
  ['sigma0', 'sigma0', 'servers/sigma0.ts', ''],
  ['wortel', 'root', 'servers/wortel.ts', ''],
  ['physmem', 'program', 'servers/physmem/main.ts', 'quiet'],
  ['task', 'program', 'servers/task/main.ts', ''],
  ['policy', 'program', 'servers/policy/main.ts', ''],
];

/** Builds an image of `modules`. */
export async function benchImage(modules: readonly BenchModule[]): Promise<Uint8Array> {
  const config = { modules: modules.map(([name, kind, entry, commandLine]) => ({ name, kind, entry: join(ROOT, entry), commandLine })) };
  const dir = mkdtempSync(join(tmpdir(), 'l4hurd-bench-'));
  try {
    const path = join(dir, 'bench.json');
    writeFileSync(path, JSON.stringify(config));
    return await buildImage(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Host seconds and model cycles between the console lines `start` and `end`, best of `runs`
 * boots of `image` (each with the options `options()` gives it). `what` names the benchmark in
 * the error a failed boot throws.
 */
export function timedBetween(image: Uint8Array, start: string, end: string, runs: number, what: string, options: () => BootOptions = () => ({})): { seconds: number; cycles: number } {
  let best = { seconds: Infinity, cycles: 0 };
  for (let run = 0; run < runs; run++) {
    let machine: Machine | null = null;
    let startNs = 0n;
    let endNs = 0n;
    let startCycles = 0;
    let endCycles = 0;
    const result = bootImage(image, {
      ...options(),
      onStart: (booted) => {
        machine = booted.machine;
      },
      console: (text) => {
        if (text === start) {
          startNs = process.hrtime.bigint();
          startCycles = machine!.cpu.cycles;
        } else if (text === end) {
          endNs = process.hrtime.bigint();
          endCycles = machine!.cpu.cycles;
        }
      },
    });
    if (result.exitStatus !== 0 || endNs === 0n) throw new Error(`the ${what} benchmark failed:\n${result.output}`);
    const seconds = Number(endNs - startNs) / 1e9;
    if (seconds < best.seconds) best = { seconds, cycles: endCycles - startCycles };
  }
  return best;
}
