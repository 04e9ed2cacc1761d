// A task's address space as regions: disjoint, page-aligned ranges with rights, a kind
// (anonymous or discardable), an optional policy of their own and the sequential hint, kept
// sorted by address. mmap inserts, munmap removes, mprotect and madvise change attributes of a
// range; each splits the regions it cuts at the range's ends first, and afterwards neighbours
// with equal attributes are joined again, so the map stays as small as the attributes allow.
//
// Lookup is a binary search (plus the last region found, since faults come in runs), so the
// cost of a fault does not grow with the number of pages mapped. Splitting and joining are told
// to the owner (onSplit, onJoin) so that a region's scope can follow its pages.

import type { PolicyScope } from './policies.ts';
import { PAGE, type Kind, type Policy } from './types.ts';

/**
 * What a file-backed region shows: file `file` of the file server from byte `offset` (at the
 * region's start), its pages in frames `base` on of `container` (a container of the pager's
 * own, one per mmap: the pieces of a split region share it), `resident` the indices filled.
 */
export interface FileBacking {
  readonly file: number;
  readonly offset: number;
  readonly container: number;
  readonly base: number;
  readonly resident: Set<number>;
}

export class Region {
  /** The file it shows (null: anonymous or discardable memory). */
  file: FileBacking | null = null;

  constructor(
    public start: number,
    public end: number,
    public rights: number,
    public kind: Kind,
    /** Its own policy (undefined: the task's decides alone). */
    public policy: Policy | undefined,
    public sequential: boolean,
    /** The scope of its resident pages when it has a policy of its own. */
    public scope: PolicyScope | null,
  ) {}

  get pages(): number {
    return (this.end - this.start) / PAGE;
  }

  /** Same attributes: joining the two would change nothing a program can observe. */
  sameAs(other: Region): boolean {
    // File regions are never joined (each keeps its file and offset).
    return this.file === null && other.file === null && this.rights === other.rights && this.kind === other.kind && this.policy === other.policy && this.sequential === other.sequential;
  }
}

export interface RegionHooks {
  /** `left` was cut at left.end; `right` is the new region after it (same attributes, no scope yet). */
  onSplit(left: Region, right: Region): void;
  /** `right` is joined into `left` (left.end grows to right.end), and goes. */
  onJoin(left: Region, right: Region): void;
}

export class RegionMap {
  private readonly list: Region[] = [];
  private last: Region | null = null;

  constructor(private readonly hooks: RegionHooks) {}

  get regions(): readonly Region[] {
    return this.list;
  }

  /** The region holding `address`, or undefined. */
  find(address: number): Region | undefined {
    const last = this.last;
    if (last && address >= last.start && address < last.end) return last;
    const at = this.indexAfter(address) - 1;
    const region = at >= 0 ? this.list[at] : undefined;
    if (region && address < region.end) {
      this.last = region;
      return region;
    }
    return undefined;
  }

  /** Index of the first region starting after `address`. */
  private indexAfter(address: number): number {
    let low = 0;
    let high = this.list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.list[mid]!.start <= address) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Does any region overlap [start, end)? */
  overlaps(start: number, end: number): boolean {
    const at = this.indexAfter(start) - 1;
    if (at >= 0 && this.list[at]!.end > start) return true;
    const nextRegion = this.list[at + 1];
    return nextRegion !== undefined && nextRegion.start < end;
  }

  /** Is every page of [start, end) in some region? */
  covers(start: number, end: number): boolean {
    let at = start;
    while (at < end) {
      const region = this.find(at);
      if (!region) return false;
      at = region.end;
    }
    return true;
  }

  insert(region: Region): void {
    this.list.splice(this.indexAfter(region.start), 0, region);
  }

  /** The lowest free range of `size` bytes in [base, top) that avoids `reserved`; -1 if none. */
  place(size: number, base: number, top: number, reserved: readonly (readonly [number, number])[]): number {
    const taken: [number, number][] = [...this.list.map((r) => [r.start, r.end] as [number, number]), ...reserved.map(([s, e]) => [s, e] as [number, number])].sort((a, b) => a[0] - b[0]);
    let at = base;
    for (const [start, end] of taken) {
      if (end <= at) continue;
      if (start >= at + size) break;
      at = Math.max(at, end);
    }
    return at + size <= top ? at : -1;
  }

  /** Splits the regions cut by `start` and `end` there; returns the regions inside [start, end). */
  carve(start: number, end: number): Region[] {
    this.splitAt(start);
    this.splitAt(end);
    const inside: Region[] = [];
    for (let at = this.indexAfter(start - 1); at < this.list.length && this.list[at]!.start < end; at++) {
      const region = this.list[at]!;
      if (region.start >= start) inside.push(region);
    }
    return inside;
  }

  private splitAt(address: number): void {
    const region = this.find(address);
    if (!region || region.start === address) return;
    const right = new Region(address, region.end, region.rights, region.kind, region.policy, region.sequential, null);
    const file = region.file;
    if (file) right.file = { ...file, offset: file.offset + (address - region.start), base: file.base + (address - region.start) / PAGE };
    region.end = address;
    this.list.splice(this.list.indexOf(region) + 1, 0, right);
    this.hooks.onSplit(region, right);
  }

  /** Removes `regions` (whole regions of the map). */
  remove(regions: readonly Region[]): void {
    for (const region of regions) {
      const at = this.list.indexOf(region);
      if (at >= 0) this.list.splice(at, 1);
      if (this.last === region) this.last = null;
    }
  }

  /** Joins neighbours with the same attributes around [start, end). */
  join(start: number, end: number): void {
    let at = Math.max(0, this.indexAfter(start - 1) - 1);
    while (at + 1 < this.list.length) {
      const left = this.list[at]!;
      const right = this.list[at + 1]!;
      if (left.start > end) break;
      if (left.end === right.start && left.sameAs(right)) {
        this.hooks.onJoin(left, right);
        left.end = right.end;
        this.list.splice(at + 1, 1);
        if (this.last === right) this.last = left;
        continue;
      }
      at++;
    }
  }
}
