// The whole machine: RAM, the MMU with its TLBs, the interval timer, the interrupt controller and
// the serial console, for one CPU profile. It implements the hardware interface (hardware.ts),
// which is all the kernel may see of it; devices raise their interrupt lines on `interrupts`.

import { SerialConsole, IntervalTimer } from './devices.ts';
import type { HardwareInterface } from './hardware.ts';
import { InterruptController } from './interrupt-controller.ts';
import { PhysicalMemory } from './memory.ts';
import { Mmu } from './mmu.ts';
import { WatchedPhysicalMemory } from './watched-memory.ts';
import type { CpuProfile } from './profiles.ts';

export interface MachineOptions {
  /** RAM in bytes (a multiple of 4 KiB, at most 4 GiB). Default 64 MiB. */
  ramBytes?: number;
  /** CPU profile name; default `p3`. */
  profile?: string;
  /** Start with the MMU's stale-translation check on. */
  checkStale?: boolean;
  /** Where console output goes besides the console's own buffer. */
  consoleSink?: (text: string) => void;
  /** RAM that reports accesses to watched ranges (WatchedPhysicalMemory): for the debugger. */
  watchable?: boolean;
}

export class Machine implements HardwareInterface {
  readonly physical: PhysicalMemory;
  readonly cpu: Mmu;
  readonly timer: IntervalTimer;
  readonly interrupts: InterruptController;
  readonly console: SerialConsole;
  readonly profile: CpuProfile;

  constructor(options: MachineOptions = {}) {
    const ram = options.ramBytes ?? 64 * 1024 * 1024;
    this.physical = options.watchable ? new WatchedPhysicalMemory(ram) : new PhysicalMemory(ram);
    this.cpu = new Mmu(this.physical, { profile: options.profile, checkStale: options.checkStale });
    this.profile = this.cpu.profile;
    this.timer = new IntervalTimer();
    this.interrupts = new InterruptController(this.timer);
    this.console = new SerialConsole(options.consoleSink ?? null);
  }
}
