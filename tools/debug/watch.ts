// Watchpoints on the machine: the debugger's AccessWatcher for the MMU (emulator/mmu.ts) and its
// PhysicalAccessWatcher for the RAM (emulator/watched-memory.ts).
//
// A watched page (a linear page in one space, or a physical frame in any) is kept out of the
// MMU's shadow, so each access to it takes the slow path and is shown here; every other page
// keeps its fast path, and nothing the model counts changes (the shadow is not machine state).
// The kernel's own reads and writes of physical memory (page-table entries, UTCBs, string copies,
// frames it clears) and the MMU's walks and A/D write-backs come through the RAM's methods.
//
// An access is one aligned dword or part of one (how the machine counts accesses): a watch fires
// when the dword of an access overlaps its range. A CPU access to a watched frame is reported by
// its translation; the data it then moves through the RAM's methods is not reported again.
// Hits are collected until the next stop point, where the machine stops (tools/debug/README.md).

import type { AccessWatcher } from '../../emulator/mmu.ts';
import type { PhysicalAccessWatcher, WatchedPhysicalMemory } from '../../emulator/watched-memory.ts';
import { watchTakes, type Breakpoint } from './breakpoints.ts';

/** One access a watchpoint saw. */
export interface WatchHit {
  readonly breakpoint: number;
  readonly write: boolean;
  /** The linear address of a CPU access (-1: the kernel's or the MMU's own access to RAM). */
  readonly linear: number;
  readonly physical: number;
  readonly length: number;
  readonly cpl: number;
  /** The thread running then, and its space. */
  readonly thread: number;
  readonly space: number;
  /** The watched dword's value when the access was seen (before a write moves data). */
  readonly before: number;
  readonly cycle: number;
}

export interface WatchContext {
  /** The thread running now (0 before any) and its space (-1). */
  readonly thread: number;
  readonly space: number;
  readonly cycle: number;
  /** The dword of RAM at `pa` without side effects. */
  peek32(pa: number): number;
}

export class Watches implements AccessWatcher, PhysicalAccessWatcher {
  /** Set while the console inspects the machine: its own reads are nobody's accesses. */
  inspecting = false;
  /** Accesses seen since the last stop point, at most HIT_LIMIT (all are counted). */
  readonly hits: WatchHit[] = [];
  hitCount = 0;

  private armed: Breakpoint[] = [];
  /** Watched linear pages as directory frame * 2^20 + page number, and watched frames. */
  private readonly linearPages = new Set<number>();
  private readonly frames = new Set<number>();
  /** The physical dword of the last CPU access to a watched frame, and its direction. */
  private cpuDword = -1;
  private cpuWrite = false;
  private readonly context: WatchContext;

  constructor(context: WatchContext) {
    this.context = context;
  }

  get active(): boolean {
    return this.armed.length > 0;
  }

  /** Arms the enabled watchpoints of `breakpoints` (the MMU and RAM are told by the caller). */
  arm(breakpoints: readonly Breakpoint[]): { readonly low: number; readonly high: number } {
    this.armed = breakpoints.filter((b) => b.what === 'watch' && b.enabled);
    this.linearPages.clear();
    this.frames.clear();
    let low = Infinity;
    let high = 0;
    for (const b of this.armed) {
      const w = b.watch!;
      const first = w.address >>> 12;
      const last = (w.address + w.length - 1) >>> 12;
      for (let page = first; page <= last; page++) {
        if (w.physical) this.frames.add(page);
        else this.linearPages.add((w.directory >>> 12) * 2 ** 20 + page);
      }
      if (w.physical) {
        low = Math.min(low, w.address & ~3);
        high = Math.max(high, w.address + w.length);
      }
    }
    return { low: low === Infinity ? 0 : low, high };
  }

  /** Forgets the hits of the stop point just passed. */
  clearHits(): void {
    this.hits.length = 0;
    this.hitCount = 0;
    this.cpuDword = -1;
  }

  translated(linear: number, physical: number, kind: number, cpl: number, cr3: number): boolean {
    const frame = physical >>> 12;
    const linearWatched = this.linearPages.has((cr3 >>> 12) * 2 ** 20 + (linear >>> 12));
    if (!linearWatched && !this.frames.has(frame)) return false;
    if (this.inspecting) return true;
    const write = kind === 1;
    const dword = (linear & ~3) >>> 0;
    const physicalDword = (physical & ~3) >>> 0;
    this.cpuDword = physicalDword;
    this.cpuWrite = write;
    const { thread, space } = this.context;
    for (const b of this.armed) {
      const w = b.watch!;
      const start = w.physical ? physicalDword : dword;
      if (!w.physical && ((cr3 & ~0xfff) >>> 0) !== w.directory) continue;
      if (start + 4 <= w.address || start >= w.address + w.length) continue;
      if (!watchTakes(b, write, thread, space)) continue;
      this.record(b, write, linear, physical, 4, cpl);
    }
    return true;
  }

  accessed(pa: number, length: number, write: boolean): void {
    if (this.inspecting) return;
    // The data of a CPU access just translated: already reported by its translation.
    if (this.cpuDword >= 0 && write === this.cpuWrite && pa >= this.cpuDword && pa + length <= this.cpuDword + 4) {
      this.cpuDword = -1;
      return;
    }
    const { thread, space } = this.context;
    for (const b of this.armed) {
      const w = b.watch!;
      if (!w.physical || pa + length <= w.address || pa >= w.address + w.length) continue;
      if (!watchTakes(b, write, thread, space)) continue;
      this.record(b, write, -1, pa, length, 0);
    }
  }

  private record(b: Breakpoint, write: boolean, linear: number, physical: number, length: number, cpl: number): void {
    this.hitCount++;
    if (this.hits.length >= HIT_LIMIT) return;
    const w = b.watch!;
    const watchedPhysical = linear < 0 ? Math.max(physical, w.address) & ~3 : physical & ~3;
    this.hits.push({
      breakpoint: b.number,
      write,
      linear,
      physical,
      length,
      cpl,
      thread: this.context.thread,
      space: this.context.space,
      before: this.context.peek32(watchedPhysical >>> 0),
      cycle: this.context.cycle,
    });
  }
}

/** Hits kept in full between two stop points (all are counted). */
const HIT_LIMIT = 64;

/** Tells the machine what to watch: the MMU (null when nothing is) and the RAM's range. */
export function applyWatches(watches: Watches, breakpoints: readonly Breakpoint[], mmu: { watchAccesses(w: AccessWatcher | null): void }, ram: WatchedPhysicalMemory): void {
  const { low, high } = watches.arm(breakpoints);
  mmu.watchAccesses(watches.active ? watches : null);
  ram.watch(high > low ? watches : null, low, high);
}
