// Address spaces: a page directory, the KIP and UTCB areas, and the frames behind its UTCBs.

import type { Thread } from './thread.ts';

export class Space {
  readonly id: number;
  readonly pageDirectory: number;
  /** KIP and UTCB areas as fpages (0 until SpaceControl initialises the space). */
  kipArea = 0;
  utcbArea = 0;
  initialized = false;
  redirector = 0;
  /** Threads living here, in creation order. */
  readonly threads: Thread[] = [];
  /** UTCB page (linear address) -> kernel frame backing it. */
  readonly utcbFrames = new Map<number, number>();
  /** Cycles spent by its threads. */
  cycles = 0;

  constructor(id: number, pageDirectory: number) {
    this.id = id;
    this.pageDirectory = pageDirectory;
  }

}
