// Physical memory that tells a debugger about accesses to the ranges it watches: the RAM of a
// machine booted by `l4hurd debug`, so that `watch phys` sees the kernel's own reads and writes
// (page-table entries, UTCBs, the KIP, string copies, frames it clears) and the MMU's walks and
// A/D write-backs, which all go through these methods.
//
// A subclass, not a flag in PhysicalMemory: a machine built without it (every boot, run and
// benchmark) never runs a line of this file, and its call sites see one class only. With nothing
// watched each method costs one compare more than PhysicalMemory's. The CPU's own accesses that
// move data through the typed arrays directly (the MMU's fast paths, programs' bulk operations)
// are not seen here: the MMU reports those as translations (AccessWatcher in mmu.ts), and the
// debugger keeps watched frames out of the MMU's shadow so that each one is translated.

import { PhysicalMemory } from './memory.ts';

export interface PhysicalAccessWatcher {
  /** [pa, pa + length) was read (write false) or is about to be written (write true). */
  accessed(pa: number, length: number, write: boolean): void;
}

export class WatchedPhysicalMemory extends PhysicalMemory {
  private watcher: PhysicalAccessWatcher | null = null;
  /** Bounds of every watched range together: accesses outside [low, high) are not reported. */
  private low = 0;
  private high = 0;

  /** Reports accesses overlapping [low, high) to `watcher` (null: none). */
  watch(watcher: PhysicalAccessWatcher | null, low: number, high: number): void {
    this.watcher = watcher;
    this.low = watcher ? low : 0;
    this.high = watcher ? high : 0;
  }

  private seen(pa: number, length: number, write: boolean): void {
    pa >>>= 0;
    if (pa < this.high && pa + length > this.low) this.watcher!.accessed(pa, length, write);
  }

  override read8(pa: number): number {
    if (this.watcher !== null) this.seen(pa, 1, false);
    return super.read8(pa);
  }
  override read16(pa: number): number {
    if (this.watcher !== null) this.seen(pa, 2, false);
    return super.read16(pa);
  }
  override read32(pa: number): number {
    if (this.watcher !== null) this.seen(pa, 4, false);
    return super.read32(pa);
  }
  override write8(pa: number, value: number): void {
    if (this.watcher !== null) this.seen(pa, 1, true);
    super.write8(pa, value);
  }
  override write16(pa: number, value: number): void {
    if (this.watcher !== null) this.seen(pa, 2, true);
    super.write16(pa, value);
  }
  override write32(pa: number, value: number): void {
    if (this.watcher !== null) this.seen(pa, 4, true);
    super.write32(pa, value);
  }
  override readBytes(pa: number, length: number): Uint8Array {
    if (this.watcher !== null) this.seen(pa, length, false);
    return super.readBytes(pa, length);
  }
  override writeBytes(pa: number, data: Uint8Array): void {
    if (this.watcher !== null) this.seen(pa, data.length, true);
    super.writeBytes(pa, data);
  }
  override fill(pa: number, length: number, value: number): void {
    if (this.watcher !== null) this.seen(pa, length, true);
    super.fill(pa, length, value);
  }
  override copy(to: number, from: number, length: number): void {
    if (this.watcher !== null) {
      this.seen(from, length, false);
      this.seen(to, length, true);
    }
    super.copy(to, from, length);
  }
}
