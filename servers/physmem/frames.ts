// physmem's frames: the physical pages it took from sigma0 at boot, each mapped at a fixed
// place in physmem's own space (its frame window), so that physmem can zero and copy them and
// send them to clients as map items.
//
// Frame n is mapped at FRAME_WINDOW + n * 4096. Its physical address is what sigma0's map item
// said. Free frames sit on a stack: the most recently freed frame is handed out first, and at
// boot the stack is ordered so that frames come out in ascending window order (consecutive
// frames are then contiguous in the window and, mostly, in physical memory, so that one map
// item can carry a run of them).
//
// A frame knows how many logical pages use it (more than one: it is shared copy-on-write) and
// whether it is known to hold zeros. RAM reads zero at power-on in this machine, so the frames
// physmem takes at boot are clean; a frame that was used is zeroed when it is handed out again.

/** Where frame 0 is mapped in physmem's space (4 MiB aligned, so 4 MiB pieces from sigma0 fit). */
export const FRAME_WINDOW = 0x40000000;
/** The window ends below the UTCB and KIP areas. */
export const FRAME_WINDOW_END = 0xbf000000;
export const PAGE = 4096;

export interface Frame {
  /** Its number: the window address is FRAME_WINDOW + number * PAGE. */
  readonly number: number;
  readonly physical: number;
  /** Logical pages using the frame (0 while free). */
  pages: number;
  /** Known to hold only zeros. */
  clean: boolean;
}

export function windowAddress(frame: Frame): number {
  return FRAME_WINDOW + frame.number * PAGE;
}

export class FramePool {
  readonly frames: Frame[] = [];
  /** Free frame numbers; the last is handed out next. */
  private readonly free: number[] = [];

  /** Adds `count` frames from physical address `physical` (one piece from sigma0), all free and clean. */
  add(physical: number, count: number): void {
    for (let i = 0; i < count; i++) this.frames.push({ number: this.frames.length, physical: physical + i * PAGE, pages: 0, clean: true });
  }

  /** After the last add: every frame is free, lowest number handed out first. */
  seal(): void {
    this.free.length = 0;
    for (let n = this.frames.length - 1; n >= 0; n--) this.free.push(n);
  }

  get total(): number {
    return this.frames.length;
  }

  get freeCount(): number {
    return this.free.length;
  }

  /** A free frame (the caller makes sure there is one). */
  take(): Frame {
    const number = this.free.pop();
    if (number === undefined) throw new Error('physmem: no free frame where the accounting promised one');
    const frame = this.frames[number]!;
    frame.pages = 1;
    return frame;
  }

  /**
   * `count` free frames with consecutive physical addresses (`contiguous`) or any, all below
   * `below` (a physical address limit, for DMA), taken from the pool; null when there are not
   * enough such frames.
   */
  takeBelow(count: number, below: number, contiguous: boolean): Frame[] | null {
    const candidates = this.free
      .map((n) => this.frames[n]!)
      .filter((f) => f.physical + PAGE <= below)
      .sort((a, b) => a.physical - b.physical);
    let run: Frame[] | null = null;
    if (!contiguous) run = candidates.length >= count ? candidates.slice(0, count) : null;
    else {
      for (let i = 0, start = 0; i < candidates.length && !run; i++) {
        if (i > start && candidates[i]!.physical !== candidates[i - 1]!.physical + PAGE) start = i;
        if (i - start + 1 === count) run = candidates.slice(start, i + 1);
      }
    }
    if (!run) return null;
    const taken = new Set(run.map((f) => f.number));
    const kept = this.free.filter((n) => !taken.has(n));
    this.free.length = 0;
    this.free.push(...kept);
    for (const frame of run) frame.pages = 1;
    return run;
  }

  /** Gives a frame back; it is no longer known to be clean. */
  release(frame: Frame): void {
    frame.pages = 0;
    frame.clean = false;
    this.free.push(frame.number);
  }

  /** Free frame numbers, for checks and the debugger. */
  freeNumbers(): readonly number[] {
    return this.free;
  }
}
