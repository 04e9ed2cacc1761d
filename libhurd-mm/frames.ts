// The task's frames: one physmem container of its own, whose allocated indices are the frames
// the pager multiplexes. The task pays for them: indices 0 .. guarantee-1 are allocated at
// startPager (within the guarantee physmem always gives them; lazily, so a frame is filled with
// zeros only when first mapped), and up to `extra` more one at a time while physmem grants them
// (ENOMEM when it has none free: the pager evicts instead).
//
// An index holding no page is free: *clean* when physmem will hand it out zeroed (never mapped
// since it was allocated), *used* when it still holds an evicted page's data. A page read from
// the store overwrites its frame, so it takes a used one; a zero-filled page needs a clean one,
// and a used index is made clean by deallocating and allocating it again (physmem zeroes a
// frame when it hands it out). Frames are given back (deallocated) on reclaim requests and when
// munmap or dontneed frees a frame beyond the guarantee.

import type { Op, ProgramEnv } from '../libl4/abi.ts';
import * as physmem from '../servers/physmem/client.ts';
import { PhysmemOp } from '../servers/physmem/protocol.ts';

export class Frames {
  /** Indices allocated in the container: the frames the task holds. */
  committed = 0;
  private readonly clean: number[] = [];
  private readonly used: number[] = [];
  /** Indices not allocated, below `next`, to allocate again first. */
  private readonly holes: number[] = [];
  private next = 0;

  constructor(
    readonly container: number,
    readonly guarantee: number,
    readonly extraLimit: number,
  ) {}

  /** Free frames (holding no page). */
  get free(): number {
    return this.clean.length + this.used.length;
  }

  get extra(): number {
    return Math.max(0, this.committed - this.guarantee);
  }

  /** Allocates the guarantee (at startPager). */
  *start(env: ProgramEnv): Op<void> {
    if (this.guarantee === 0) return;
    yield* physmem.allocate(env, this.container, 0, this.guarantee);
    this.committed = this.guarantee;
    this.next = this.guarantee;
    for (let i = this.guarantee - 1; i >= 0; i--) this.clean.push(i);
  }

  /**
   * A free frame for a page: a clean one when `zero` (made clean if only used ones are left),
   * else preferably a used one. -1 when none is free (or a used one could not be made clean:
   * physmem gave its frame to someone else).
   */
  *take(env: ProgramEnv, zero: boolean): Op<number> {
    if (zero) {
      if (this.clean.length > 0) return this.clean.pop()!;
      if (this.used.length === 0) return -1;
      const index = this.used.pop()!;
      return (yield* this.reallocate(env, index)) ? index : -1;
    }
    if (this.used.length > 0) return this.used.pop()!;
    if (this.clean.length > 0) return this.clean.pop()!;
    return -1;
  }

  /** Deallocates and allocates `index` again, so that physmem hands it out zeroed. */
  private *reallocate(env: ProgramEnv, index: number): Op<boolean> {
    yield* physmem.request(env, PhysmemOp.Deallocate, [this.container, index, 1]);
    this.committed--;
    return yield* this.allocate(env, index);
  }

  /** Allocates frame `index` of the container; false (and `index` a hole) when physmem has none. */
  private *allocate(env: ProgramEnv, index: number): Op<boolean> {
    try {
      yield* physmem.request(env, PhysmemOp.Allocate, [this.container, index, 1, 0, 0]);
    } catch (error) {
      if (!(error instanceof physmem.PhysmemError) || error.code !== 'ENOMEM') throw error;
      this.holes.push(index);
      return false;
    }
    this.committed++;
    return true;
  }

  /** One more frame beyond the guarantee, if the limit allows and physmem grants it. */
  *grow(env: ProgramEnv): Op<boolean> {
    if (this.committed >= this.guarantee + this.extraLimit) return false;
    const index = this.holes.length > 0 ? this.holes.pop()! : this.next++;
    if (!(yield* this.allocate(env, index))) return false;
    this.clean.push(index);
    return true;
  }

  /** A frame whose page was evicted to reuse it. */
  reuse(index: number): void {
    this.used.push(index);
  }

  /**
   * A frame whose page went for good (munmap, dontneed): kept while within the guarantee, given
   * back to physmem when it is an extra frame.
   */
  *release(env: ProgramEnv, index: number): Op<void> {
    this.used.push(index);
    if (this.committed > this.guarantee) yield* this.giveBack(env, this.committed - this.guarantee);
  }

  /** Deallocates up to `count` free frames (used ones first); resolves to how many went. */
  *giveBack(env: ProgramEnv, count: number): Op<number> {
    const indices: number[] = [];
    while (indices.length < count && this.used.length > 0) indices.push(this.used.pop()!);
    while (indices.length < count && this.clean.length > 0) indices.push(this.clean.pop()!);
    if (indices.length === 0) return 0;
    indices.sort((a, b) => a - b);
    // Runs of consecutive indices go in one request each.
    for (let i = 0; i < indices.length; ) {
      let j = i + 1;
      while (j < indices.length && indices[j] === indices[j - 1]! + 1) j++;
      yield* physmem.request(env, PhysmemOp.Deallocate, [this.container, indices[i]!, j - i]);
      for (let k = i; k < j; k++) this.holes.push(indices[k]!);
      i = j;
    }
    this.committed -= indices.length;
    return indices.length;
  }
}
