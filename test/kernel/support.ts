// Booting the kernel on a fresh machine for tests, and a few raw-ABI helpers for programs.
import { Machine } from '../../emulator/machine.ts';
import { Kernel, type KernelConfig, type RunResult } from '../../kernel/kernel.ts';
import { ROOT_THREAD, SIGMA0_THREAD } from '../../kernel/ia32/kip.ts';
import type { ProgramBody } from '../../libl4/abi.ts';

export const SIGMA0_ID = ((SIGMA0_THREAD << 14) | 1) >>> 0;
export const ROOT_ID = ((ROOT_THREAD << 14) | 1) >>> 0;

export interface Booted {
  machine: Machine;
  kernel: Kernel;
  run(maxCycles?: number): RunResult;
  output(): string;
}

export function boot(root: ProgramBody, options: { sigma0?: ProgramBody; profile?: string; ramBytes?: number; checkStale?: boolean; config?: Partial<KernelConfig> } = {}): Booted {
  const machine = new Machine({ ramBytes: options.ramBytes ?? 64 * 1024 * 1024, profile: options.profile, checkStale: options.checkStale ?? true });
  const kernel = new Kernel(machine, { root, sigma0: options.sigma0, ...options.config });
  return {
    machine,
    kernel,
    run: (maxCycles) => kernel.run({ maxCycles: maxCycles ?? 2e9 }),
    output: () => machine.console.output,
  };
}

/** A global thread id for user thread `number` (version 1). */
export function tid(number: number): number {
  return ((number << 14) | 1) >>> 0;
}
