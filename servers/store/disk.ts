// The store's medium: numbered 4 KiB blocks, as a disk has sectors, standing in for the disk a
// later driver (deva) will give the store. The blocks live in host memory, outside the machine's
// RAM, the way a disk's platters are outside it: keeping a page costs no frame of the box. Time
// is what the medium costs in the model: the server charges a cycle cost per page moved.
//
// Freed blocks are handed out again last-freed first, so the block a page lands in depends
// only on the order of requests.

export const BLOCK_BYTES = 4096;

export class Disk {
  private readonly blocks: Uint8Array[] = [];
  private readonly free: number[] = [];
  /** Blocks holding a page. */
  used = 0;

  constructor(readonly capacity: number) {}

  /** A free block's number, or -1 when the disk is full. */
  take(): number {
    if (this.free.length > 0) {
      this.used++;
      return this.free.pop()!;
    }
    if (this.blocks.length >= this.capacity) return -1;
    this.blocks.push(new Uint8Array(BLOCK_BYTES));
    this.used++;
    return this.blocks.length - 1;
  }

  release(block: number): void {
    this.free.push(block);
    this.used--;
  }

  block(block: number): Uint8Array {
    return this.blocks[block]!;
  }
}
