// The log of stop points: for every position the machine passed, what stopped there (its kind,
// thread, space, IPC label) and at which cycle. Positions are the debugger's clock: a run is a
// pure function of the image and options, so position N is the same state in every run of the
// image, and the log is what lets the console find the previous breakpoint hit, or the stop
// point at a cycle, without running anything again (tools/debug/README.md, Going back).
//
// Column arrays grown by doubling, a few bytes per stop point, so that a boot of a million stop
// points costs a few tens of MiB at most. Position 0 is the machine before it ran (no entry);
// entry i describes position i + 1.

/** What a stop point is: a program step, or a trace event of the kernel. */
export const STOP_KINDS = ['step', 'syscall', 'ipc', 'fault', 'map', 'unmap', 'switch', 'halt', 'exception', 'interrupt', 'user'] as const;
export type StopKind = (typeof STOP_KINDS)[number];
export const STEP = 0;

export function stopKindCode(kind: string): number {
  return STOP_KINDS.indexOf(kind as StopKind);
}

export class EventLog {
  private kinds = new Uint8Array(1024);
  private threads = new Uint32Array(1024);
  private spaces = new Int32Array(1024);
  private labels = new Int32Array(1024);
  private cycles = new Float64Array(1024);
  private watchHits = new Uint8Array(1024);
  /** Stop points logged (the furthest position reached). */
  length = 0;

  append(kind: number, thread: number, space: number, label: number, cycle: number, watchHit: boolean): void {
    const i = this.length;
    if (i === this.kinds.length) this.grow();
    this.kinds[i] = kind;
    this.threads[i] = thread;
    this.spaces[i] = space;
    this.labels[i] = label;
    this.cycles[i] = cycle;
    this.watchHits[i] = watchHit ? 1 : 0;
    this.length = i + 1;
  }

  kind(position: number): number {
    return this.kinds[position - 1]!;
  }
  thread(position: number): number {
    return this.threads[position - 1]!;
  }
  space(position: number): number {
    return this.spaces[position - 1]!;
  }
  label(position: number): number {
    return this.labels[position - 1]!;
  }
  cycle(position: number): number {
    return position === 0 ? 0 : this.cycles[position - 1]!;
  }
  /** Did an armed watchpoint see an access between position - 1 and position? */
  watchHit(position: number): boolean {
    return this.watchHits[position - 1] === 1;
  }

  private grow(): void {
    const n = this.kinds.length * 2;
    const grown = <T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old as never);
      return next;
    };
    this.kinds = grown(this.kinds, (k) => new Uint8Array(k));
    this.threads = grown(this.threads, (k) => new Uint32Array(k));
    this.spaces = grown(this.spaces, (k) => new Int32Array(k));
    this.labels = grown(this.labels, (k) => new Int32Array(k));
    this.cycles = grown(this.cycles, (k) => new Float64Array(k));
    this.watchHits = grown(this.watchHits, (k) => new Uint8Array(k));
  }
}
