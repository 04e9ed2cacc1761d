// The kernel's own memory: the 4 KiB frames of the physical region reserved for it at boot
// (marked reserved in the KIP, so sigma0 never hands it out). Page directories, page tables, the
// KIP, UTCB pages, thread control blocks and mapping-database nodes all come from here.
//
// Running out is an ordinary condition: `allocate` returns -1 and the system call that needed
// the frame fails with error 8 (no memory). Free frames are kept in a stack, so allocation order
// is a pure function of the allocation and free sequence.

import type { PhysicalMemoryPort } from '../../emulator/hardware.ts';

export const FRAME = 4096;

export class KernelMemory {
  readonly base: number;
  readonly size: number;
  private readonly memory: PhysicalMemoryPort;
  private next: number;
  private readonly freed: number[] = [];
  /** Frames in use. */
  used = 0;
  /** Allocations refused for lack of memory. */
  refusals = 0;

  constructor(memory: PhysicalMemoryPort, base: number, size: number) {
    if (base % FRAME !== 0 || size % FRAME !== 0 || size <= 0 || base + size > memory.size) {
      throw new RangeError(`kernel memory [${base}, +${size}) must be whole frames inside RAM`);
    }
    this.memory = memory;
    this.base = base;
    this.size = size;
    this.next = base;
  }

  /** A zeroed frame's physical address, or -1 when the region is exhausted. */
  allocate(): number {
    let frame: number;
    if (this.freed.length > 0) frame = this.freed.pop()!;
    else if (this.next < this.base + this.size) {
      frame = this.next;
      this.next += FRAME;
    } else {
      this.refusals++;
      return -1;
    }
    this.memory.fill(frame, FRAME, 0);
    this.used++;
    return frame;
  }

  free(frame: number): void {
    if (frame < this.base || frame >= this.base + this.size || frame % FRAME !== 0) {
      throw new RangeError(`freeing ${frame}, which is not a kernel frame`);
    }
    this.freed.push(frame);
    this.used--;
  }

  /** Frames still available. */
  get available(): number {
    return this.size / FRAME - this.used;
  }

  /** Is `pa` inside the reserved region? */
  contains(pa: number): boolean {
    return pa >= this.base && pa < this.base + this.size;
  }
}
