// The copy area: a 4 MiB window in the kernel region of the running thread's address space
// through which the kernel reaches another space's memory during a string copy, as
// L4Ka::Pistachio's IA-32 kernel does. The window's page-directory entry is a copy of the other
// space's entry for the 4 MiB region being copied, so the MMU walks that space's own page table:
// its permission bits, its A and D bits (set by the walk where they belong), and its absent pages,
// which fault and name the other space's address.
//
// The window is put up for one piece of copying and taken down before the kernel does anything
// that may change page tables (a map item, a page fault's IPC, the end of the transfer): taking
// it down clears the entry and invalidates every page of the window that was used, so no TLB
// entry of the window outlives the entry it came from.
//
// When the other space's entry is a 4 MiB page (PS), the entry is itself the leaf: the walk sets
// A and D in the window's copy, not in the other space's directory. Taking the window down adds
// them to the other space's entry (unchanged meanwhile: nothing that changes page tables happens
// while the window is up), so Unmap still sees that the page was read or written.

import { PG_A, PG_D, PG_P, PG_PS, type HardwareInterface } from '../../emulator/hardware.ts';

/** Linear base of the window: directory entry 1020 (0xFF000000-0xFF3FFFFF). */
export const COPY_AREA = 0xff000000;
const COPY_PDE = COPY_AREA >>> 22;
const REGION = 0x400000;

export class CopyArea {
  private readonly hw: HardwareInterface;
  /** The directory whose entry is in the window (-1: none) and the region's index in it. */
  private directory = -1;
  private region = -1;
  /** The directory the window was put into (the one in CR3 then). */
  private host = -1;
  /** Pages of the window used since it was put up (to invalidate). */
  private readonly used: number[] = [];

  /** `kernelTop`: the end of the kernel region's own mappings, which must lie below the window. */
  constructor(hw: HardwareInterface, kernelTop: number) {
    this.hw = hw;
    if (0xc0000000 + kernelTop > COPY_AREA) throw new RangeError('the kernel region reaches into the copy area');
  }

  /**
   * The window's linear address for `address` of the space with page directory `directory`,
   * putting the window over the 4 MiB region of `address` (in the directory in CR3).
   */
  map(directory: number, address: number): number {
    const region = address >>> 22;
    const host = (this.hw.cpu.cr3 & ~0xfff) >>> 0;
    if (directory !== this.directory || region !== this.region || host !== this.host) {
      this.release();
      this.hw.physical.write32(host + COPY_PDE * 4, this.hw.physical.read32(directory + region * 4));
      this.directory = directory;
      this.region = region;
      this.host = host;
    }
    const linear = (COPY_AREA + (address & (REGION - 1))) >>> 0;
    const page = (linear & ~0xfff) >>> 0;
    if (this.used.length === 0 || this.used[this.used.length - 1] !== page) this.used.push(page);
    return linear;
  }

  /** Takes the window down: the entry cleared, its used pages invalidated. */
  release(): void {
    if (this.host < 0) return;
    const physical = this.hw.physical;
    const window = physical.read32(this.host + COPY_PDE * 4);
    if ((window & (PG_P | PG_PS)) === (PG_P | PG_PS)) {
      const original = this.directory + this.region * 4;
      const entry = physical.read32(original);
      const status = window & (PG_A | PG_D);
      if ((status & ~entry) !== 0) physical.write32(original, (entry | status) >>> 0);
    }
    physical.write32(this.host + COPY_PDE * 4, 0);
    for (const page of this.used) this.hw.cpu.invlpg(page);
    this.used.length = 0;
    this.directory = -1;
    this.region = -1;
    this.host = -1;
  }
}
