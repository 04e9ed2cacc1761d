// Writes IA-32 32-bit page tables into physical memory, as a boot loader or a test harness
// would before handing a machine to its software: a page directory, page tables taken from a
// simple bump allocator of frames, 4 KiB and 4 MiB mappings, and direct entry edits.
//
// It writes plain memory and nothing else: it never touches the MMU or its TLB, so a test that
// edits live tables through it must do the INVLPG or CR3 write that hardware requires, exactly
// like a kernel.

import type { PhysicalMemory } from './memory.ts';
import { PG_FRAME, PG_LARGE_FRAME, PG_P, PG_PS, PG_RW, PG_US } from './paging.ts';

export class PageTableBuilder {
  readonly memory: PhysicalMemory;
  /** Physical address of the page directory (the value for CR3). */
  readonly directory: number;
  private nextFrame: number;
  private readonly limit: number;

  /**
   * `directory`: where the page directory goes. Page tables are allocated from the frames in
   * [tablesStart, tablesEnd). All three must be 4 KiB aligned. The directory is cleared.
   */
  constructor(memory: PhysicalMemory, directory: number, tablesStart: number, tablesEnd: number) {
    for (const value of [directory, tablesStart, tablesEnd]) {
      if (value % 4096 !== 0) throw new RangeError('page-table addresses must be 4 KiB aligned');
    }
    this.memory = memory;
    this.directory = directory;
    this.nextFrame = tablesStart;
    this.limit = tablesEnd;
    memory.fill(directory, 4096, 0);
  }

  /** Address of the PDE for `linear`. */
  pdeAddress(linear: number): number {
    return this.directory + (linear >>> 22) * 4;
  }

  /** Address of the PTE for `linear`, or -1 when its PDE holds no page table. */
  pteAddress(linear: number): number {
    const pde = this.memory.read32(this.pdeAddress(linear));
    if (!(pde & PG_P) || pde & PG_PS) return -1;
    return ((pde & PG_FRAME) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
  }

  /**
   * Maps the 4 KiB page at `linear` to `frame` with the PTE flag bits `flags` (PG_P is added).
   * A missing page table is allocated with a PDE of `tableFlags` (default P, R/W, U/S, so the
   * PTE alone decides). Returns the PTE's address.
   */
  map(linear: number, frame: number, flags: number, tableFlags = PG_P | PG_RW | PG_US): number {
    const pdeAddress = this.pdeAddress(linear);
    let pde = this.memory.read32(pdeAddress);
    if (!(pde & PG_P) || pde & PG_PS) {
      const table = this.allocateTable();
      pde = table | tableFlags | PG_P;
      this.memory.write32(pdeAddress, pde);
    }
    const pteAddress = ((pde & PG_FRAME) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
    this.memory.write32(pteAddress, ((frame & PG_FRAME) | flags | PG_P) >>> 0);
    return pteAddress;
  }

  /** Maps the 4 MiB page holding `linear` to the 4 MiB frame `frame` (PS and P are added). */
  mapLarge(linear: number, frame: number, flags: number): number {
    const pdeAddress = this.pdeAddress(linear);
    this.memory.write32(pdeAddress, ((frame & PG_LARGE_FRAME) | flags | PG_PS | PG_P) >>> 0);
    return pdeAddress;
  }

  /** Rewrites the entry at `address` (a PDE or PTE address from the methods above). */
  setEntry(address: number, value: number): void {
    this.memory.write32(address, value >>> 0);
  }

  entry(address: number): number {
    return this.memory.read32(address);
  }

  private allocateTable(): number {
    if (this.nextFrame >= this.limit) throw new RangeError('page-table frames exhausted');
    const table = this.nextFrame;
    this.nextFrame += 4096;
    this.memory.fill(table, 4096, 0);
    return table;
  }
}
