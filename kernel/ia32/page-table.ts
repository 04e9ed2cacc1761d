// The IA-32 binding of address spaces: page directories and page tables in emulated RAM, in
// the real 32-bit format the MMU walks, and the TLB discipline that goes with editing them.
//
// Layout of every page directory:
//   PDEs 0-767     user space, 0x00000000-0xBFFFFFFF: each empty, a 4 KiB page table from kernel
//                  memory, or (CPU with PSE) a 4 MiB user page: PS set, the frame in bits 22-31
//   PDEs 768-1023  the kernel region at KERNEL_BASE: identical in every space (copied from the
//                  kernel's master entries), supervisor-only, global where the CPU has PSE and PGE
//
// A user mapping is a 4 KiB PTE or, for a 4 MiB mapping, a PDE with PS (`mapLarge`; the kernel
// makes them only when CR4.PSE is on). The operations on one mapping (unmap, writeProtect,
// takeStatus, entry) act on whichever entry maps the address: the PTE, or the 4 MiB PDE. Every
// change to a present entry is followed by INVLPG when the directory is the one in CR3 (an
// INVLPG inside a 4 MiB page drops the whole page); other spaces are covered by the CR3 write
// that switches to them (user entries are never global).

import {
  CR4_PGE,
  CR4_PSE,
  PG_A,
  PG_D,
  PG_FRAME,
  PG_G,
  PG_LARGE_FRAME,
  PG_P,
  PG_PS,
  PG_RW,
  PG_US,
  LARGE_PAGE_SIZE,
  hex32,
  type HardwareInterface,
} from '../../emulator/hardware.ts';
import { FRAME, type KernelMemory } from '../generic/kernel-memory.ts';

export const KERNEL_BASE = 0xc0000000;
/** First PDE index of the kernel region. */
const KERNEL_PDE = KERNEL_BASE >>> 22;
export const USER_TOP = KERNEL_BASE;

/** Status bits returned by `status`. */
export const STATUS_ACCESSED = 1;
export const STATUS_DIRTY = 2;

export class PageTables {
  private readonly hw: HardwareInterface;
  private readonly kmem: KernelMemory;
  /** The kernel region's PDEs, copied into every new directory. */
  private readonly kernelPdes: number[] = [];
  /**
   * Present PTEs of each user page table, by the table's frame (looked up, never iterated): a
   * table whose last present PTE goes is freed and its PDE cleared.
   */
  private readonly presentEntries = new Map<number, number>();

  /**
   * Builds the kernel region's entries: physical [0, kernelTop) at KERNEL_BASE, with 4 MiB pages
   * when the CPU has PSE, else page tables shared by every space. Returns false when kernel
   * memory cannot hold those tables.
   */
  constructor(hw: HardwareInterface, kmem: KernelMemory, kernelTop: number) {
    this.hw = hw;
    this.kmem = kmem;
    const global = hw.profile.pge ? PG_G : 0;
    const top = Math.min(kernelTop, 0x100000000 - KERNEL_BASE);
    for (let pa = 0; pa < top; pa += 0x400000) {
      if (hw.profile.pse) {
        this.kernelPdes.push((pa | PG_PS | global | PG_RW | PG_P) >>> 0);
        continue;
      }
      const table = kmem.allocate();
      if (table < 0) throw new RangeError('kernel memory too small for the kernel page tables');
      for (let i = 0; i < 1024 && pa + i * FRAME < top; i++) {
        hw.physical.write32(table + i * 4, (pa + i * FRAME) | global | PG_RW | PG_P);
      }
      this.kernelPdes.push(table | PG_RW | PG_P);
    }
  }

  /** CR4 the kernel runs with: PSE for its 4 MiB pages and PGE for global ones, where present. */
  get cr4(): number {
    return (this.hw.profile.pse ? CR4_PSE : 0) | (this.hw.profile.pge ? CR4_PGE : 0);
  }

  /** A new page directory holding only the kernel region, or -1 when kernel memory is out. */
  createDirectory(): number {
    const directory = this.kmem.allocate();
    if (directory < 0) return -1;
    this.kernelPdes.forEach((pde, i) => this.hw.physical.write32(directory + (KERNEL_PDE + i) * 4, pde));
    return directory;
  }

  /** Frees a directory and its user page tables (not the frames of 4 MiB pages). The space must not be in CR3. */
  destroyDirectory(directory: number): void {
    for (let i = 0; i < KERNEL_PDE; i++) {
      const pde = this.hw.physical.read32(directory + i * 4);
      if (pde & PG_P && !(pde & PG_PS)) this.freeTable((pde & PG_FRAME) >>> 0);
    }
    this.kmem.free(directory);
  }

  /** The page-directory entry for `linear`. */
  directoryEntry(directory: number, linear: number): number {
    return this.hw.physical.read32(directory + (linear >>> 22) * 4) >>> 0;
  }

  /** Is `linear` in a 4 MiB user page (a present PDE with PS)? */
  isLargePage(directory: number, linear: number): boolean {
    return isLarge(this.directoryEntry(directory, linear));
  }

  /** Address of the PTE for `linear`, or -1 if there is no page table there (none, or a 4 MiB page). */
  pteAddress(directory: number, linear: number): number {
    const pde = this.directoryEntry(directory, linear);
    if (!(pde & PG_P) || pde & PG_PS) return -1;
    return ((pde & PG_FRAME) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
  }

  /** Address of the entry that maps `linear`: its PTE, or the PDE of its 4 MiB page; -1 if neither exists. */
  entryAddress(directory: number, linear: number): number {
    const pdeAddress = directory + (linear >>> 22) * 4;
    return isLarge(this.hw.physical.read32(pdeAddress)) ? pdeAddress : this.pteAddress(directory, linear);
  }

  /** The entry that maps `linear`: its PTE, or the PDE (PS set) of its 4 MiB page; 0 when there is none. */
  entry(directory: number, linear: number): number {
    const address = this.entryAddress(directory, linear);
    return address < 0 ? 0 : this.hw.physical.read32(address) >>> 0;
  }

  /**
   * Maps the 4 KiB user page at `linear` to `frame`. Returns false when a page table was needed
   * and kernel memory is out (nothing changed then). The address must not be in a 4 MiB page
   * (split it first).
   */
  map(directory: number, linear: number, frame: number, writable: boolean): boolean {
    const pdeAddress = directory + (linear >>> 22) * 4;
    let pde = this.hw.physical.read32(pdeAddress);
    if (pde & PG_PS) throw new RangeError(`${hex32(linear)} is in a 4 MiB page: split it before mapping 4 KiB there`);
    if (!(pde & PG_P)) {
      const table = this.kmem.allocate();
      if (table < 0) return false;
      pde = table | PG_US | PG_RW | PG_P;
      this.hw.physical.write32(pdeAddress, pde);
    }
    const pteAddress = ((pde & PG_FRAME) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
    const old = this.hw.physical.read32(pteAddress);
    this.hw.physical.write32(pteAddress, ((frame & PG_FRAME) | PG_US | (writable ? PG_RW : 0) | PG_P) >>> 0);
    if (old & PG_P) this.invalidate(directory, linear);
    else this.presentEntries.set((pde & PG_FRAME) >>> 0, (this.presentEntries.get((pde & PG_FRAME) >>> 0) ?? 0) + 1);
    return true;
  }

  /**
   * Maps the 4 MiB user page at `linear` (4 MiB aligned) to `frame` (4 MiB aligned) with a PDE
   * with PS, which the MMU honours only with CR4.PSE. The region must hold no 4 KiB mapping: a
   * page table left there with no present entry is freed. False, changing nothing, when a page
   * table there still maps something.
   */
  mapLarge(directory: number, linear: number, frame: number, writable: boolean): boolean {
    if (linear % LARGE_PAGE_SIZE !== 0 || frame % LARGE_PAGE_SIZE !== 0 || linear >= USER_TOP) {
      throw new RangeError(`a 4 MiB user page needs 4 MiB aligned addresses below ${hex32(USER_TOP)}, got ${hex32(linear)} -> ${hex32(frame)}`);
    }
    const pdeAddress = directory + (linear >>> 22) * 4;
    const old = this.hw.physical.read32(pdeAddress);
    if (old & PG_P && !(old & PG_PS)) {
      const table = (old & PG_FRAME) >>> 0;
      if ((this.presentEntries.get(table) ?? 0) > 0) return false;
      this.freeTable(table);
    }
    this.hw.physical.write32(pdeAddress, ((frame & PG_LARGE_FRAME) | PG_PS | PG_US | (writable ? PG_RW : 0) | PG_P) >>> 0);
    if (isLarge(old)) this.invalidate(directory, linear);
    return true;
  }

  /**
   * Turns the 4 MiB user page at `linear` into the page table `table` (a zeroed kernel frame)
   * of 1,024 PTEs mapping the same frames with the same U/S, R/W, A and D bits, so that its
   * parts can change one by one. The TLB's 4 MiB entry is dropped (INVLPG) where the space is
   * current.
   */
  splitLarge(directory: number, linear: number, table: number): void {
    const pdeAddress = directory + (linear >>> 22) * 4;
    const pde = this.hw.physical.read32(pdeAddress);
    if (!isLarge(pde)) throw new RangeError(`${hex32(linear)} is not in a 4 MiB page`);
    const frame = (pde & PG_LARGE_FRAME) >>> 0;
    const bits = pde & (PG_US | PG_RW | PG_A | PG_D | PG_P);
    for (let i = 0; i < 1024; i++) this.hw.physical.write32(table + i * 4, (frame + i * FRAME) | bits);
    this.presentEntries.set(table, 1024);
    this.hw.physical.write32(pdeAddress, (table | PG_US | PG_RW | PG_P) >>> 0);
    this.invalidate(directory, linear);
  }

  /** Removes the mapping at `linear` (a whole 4 MiB page if it is in one); returns its A/D status. */
  unmap(directory: number, linear: number): number {
    return this.rewrite(directory, linear, () => 0);
  }

  /** Makes the mapping at `linear` read-only; returns its A/D status. */
  writeProtect(directory: number, linear: number): number {
    return this.rewrite(directory, linear, (pte) => pte & ~PG_RW);
  }

  /** The A/D status of the mapping at `linear`, then clears A and D (the TLB entry too). */
  takeStatus(directory: number, linear: number): number {
    // A cached entry would go on writing without setting D again: rewrite drops it.
    return this.rewrite(directory, linear, (pte) => pte & ~(PG_A | PG_D));
  }

  /**
   * Every present user mapping entry of a directory, as [linear, entry] pairs in address order
   * (for invariant checks and the debugger): each present PTE, and each 4 MiB page once, as its
   * PDE (PS set).
   */
  userEntries(directory: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < KERNEL_PDE; i++) {
      const pde = this.hw.physical.read32(directory + i * 4);
      if (!(pde & PG_P)) continue;
      if (pde & PG_PS) {
        out.push([(i << 22) >>> 0, pde >>> 0]);
        continue;
      }
      const table = (pde & PG_FRAME) >>> 0;
      for (let j = 0; j < 1024; j++) {
        const pte = this.hw.physical.read32(table + j * 4);
        if (pte & PG_P) out.push([((i << 22) | (j << 12)) >>> 0, pte >>> 0]);
      }
    }
    return out;
  }

  /**
   * Replaces the present entry mapping `linear` (PTE or 4 MiB PDE) with `change(entry)` when
   * that differs, with the INVLPG the change needs; returns the old entry's A/D status (0 when
   * nothing is mapped there).
   */
  private rewrite(directory: number, linear: number, change: (pte: number) => number): number {
    const address = this.entryAddress(directory, linear);
    if (address < 0) return 0;
    const old = this.hw.physical.read32(address);
    if (!(old & PG_P)) return 0;
    const updated = change(old) >>> 0;
    if (updated !== old >>> 0) {
      this.hw.physical.write32(address, updated);
      this.invalidate(directory, linear);
      if (!(updated & PG_P) && !isLarge(old)) this.entryGone(directory, linear);
    }
    return statusOf(old);
  }

  /**
   * A present PTE of the table mapping `linear` was cleared: when it was the table's last, the
   * table goes back to kernel memory and the PDE is cleared (no TLB entry comes from a PDE whose
   * PTEs are all not present, so it needs no INVLPG of its own).
   */
  private entryGone(directory: number, linear: number): void {
    const pdeAddress = directory + (linear >>> 22) * 4;
    const table = (this.hw.physical.read32(pdeAddress) & PG_FRAME) >>> 0;
    const left = (this.presentEntries.get(table) ?? 0) - 1;
    if (left > 0) {
      this.presentEntries.set(table, left);
      return;
    }
    this.hw.physical.write32(pdeAddress, 0);
    this.freeTable(table);
  }

  private freeTable(table: number): void {
    this.presentEntries.delete(table);
    this.kmem.free(table);
  }

  private invalidate(directory: number, linear: number): void {
    if (((this.hw.cpu.cr3 & PG_FRAME) >>> 0) === directory) this.hw.cpu.invlpg(linear);
  }
}

/** A present PDE with PS: a 4 MiB page (user PDEs get PS only from mapLarge, on a CPU with PSE). */
function isLarge(pde: number): boolean {
  return (pde & (PG_P | PG_PS)) === (PG_P | PG_PS);
}

function statusOf(pte: number): number {
  return (pte & PG_A ? STATUS_ACCESSED : 0) | (pte & PG_D ? STATUS_DIRTY : 0);
}
