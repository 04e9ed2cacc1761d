// The whole machine: RAM, the MMU with its TLBs, the interval timer, the interrupt controller and
// the serial console, for one CPU profile, and a disk controller when a disk is given. It
// implements the hardware interface (hardware.ts), which is all the kernel may see of it; devices
// raise their interrupt lines on `interrupts`. The disk is not part of that interface: its
// registers are memory-mapped (disk.ts), for a driver in user space.

import { SerialConsole, IntervalTimer } from './devices.ts';
import { DISK_MODELS, DISK_REGISTERS, DISK_REGISTERS_SIZE, DiskController, type DiskBacking } from './disk.ts';
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
  /** The sectors of a disk: the machine gets a disk controller (disk.ts) in front of them. */
  disk?: DiskBacking;
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
  /** The disk controller (null: no disk). */
  readonly disk: DiskController | null;

  constructor(options: MachineOptions = {}) {
    const ram = options.ramBytes ?? 64 * 1024 * 1024;
    this.physical = options.watchable ? new WatchedPhysicalMemory(ram) : new PhysicalMemory(ram);
    this.cpu = new Mmu(this.physical, { profile: options.profile, checkStale: options.checkStale });
    this.profile = this.cpu.profile;
    this.timer = new IntervalTimer();
    this.interrupts = new InterruptController(this.timer);
    this.console = new SerialConsole(options.consoleSink ?? null);
    this.disk = null;
    if (options.disk) {
      const cpu = this.cpu;
      this.disk = new DiskController({ backing: options.disk, memory: this.physical, interrupts: this.interrupts, clock: () => cpu.cycles, clockHz: this.profile.clockHz, model: DISK_MODELS[this.profile.name] ?? DISK_MODELS.p3! });
      this.physical.mapDevice(DISK_REGISTERS, DISK_REGISTERS_SIZE, this.disk);
    }
  }
}
