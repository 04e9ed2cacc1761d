// The debugger's benchmarks (`npm run bench`): how many single `step`s a script runs a second,
// and how long one reverse-step takes 500,000 cycles into the default boot.
//
// debugStepsPerSec: a script of `until 100000` and then STEPS single steps, against the same
// script without the steps; the rate is STEPS over the difference (best of 3 each), so the boot
// and the machine thread's start do not count. Each step is the console's whole work: the run
// to the next stop point, the stop's report line, reading and parsing the next command.
// reverseStepMs: an interactive session (lines sent as if typed) runs `until 500000`, waits until
// its standbys have reached their checkpoints, and times `reverse-step` to its next prompt; the
// median of 3 (each after stepping forward again and waiting again). reverseStepColdMs is the
// same without standbys: a fresh machine thread booted and replayed from the start.

import { DebugHost } from './debug/host.ts';
import { buildImage } from './build.ts';

const STEPS = 20_000;

export interface DebugBenchResult {
  debugStepsPerSec: number;
  reverseStepMs: number;
  reverseStepColdMs: number;
}

const options = (image: Uint8Array, script: string[] | null, standbys: number) => ({
  image,
  ramBytes: 64 * 1024 * 1024,
  hostMemoryBytes: 2 * 1024 * 1024 * 1024,
  script,
  batch: true,
  standbys,
  output: 'collect' as const,
  onOutput: () => undefined,
});

async function timeScript(image: Uint8Array, script: string[]): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    const status = await new DebugHost(options(image, script, 0)).run();
    if (status !== 0) throw new Error(`the benchmark's debug script failed (status ${status})`);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

async function reverseStep(image: Uint8Array, standbys: number, rounds: number): Promise<number> {
  const host = new DebugHost(options(image, null, standbys));
  const done = host.run();
  const times: number[] = [];
  await host.prompted();
  host.type('until 500000');
  await host.prompted();
  for (let i = 0; i < rounds; i++) {
    await host.settled();
    const start = process.hrtime.bigint();
    host.type('reverse-step');
    await host.prompted();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    host.type('step');
    await host.prompted();
  }
  host.type('quit');
  await done;
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function runDebugBenchmarks(config: string): Promise<DebugBenchResult> {
  const image = await buildImage(config);
  const without = await timeScript(image, ['until 100000', 'quit']);
  const withSteps = await timeScript(image, ['until 100000', ...new Array<string>(STEPS).fill('step'), 'quit']);
  const debugStepsPerSec = STEPS / (Math.max(1e-3, withSteps - without) / 1000);
  return { debugStepsPerSec, reverseStepMs: await reverseStep(image, 3, 3), reverseStepColdMs: await reverseStep(image, 0, 1) };
}
