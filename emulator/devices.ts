// The machine's two simple devices: the interval timer that raises the time-slice interrupt,
// and the serial console that carries guest output to the host.
//
// The timer counts model cycles, not host time: it is "due" once the cycle count reaches the
// armed deadline. The CPU side (the kernel's run loop, at each program step) polls it, as an
// IA-32 CPU samples its interrupt line between instructions. The interrupt controller
// (interrupt-controller.ts) shares that line: it pulls the deadline in (`wake`) when a device's
// request becomes pending, and the CPU then asks the controller which lines it is.

/** A one-shot interval timer on the cycle clock. */
export class IntervalTimer {
  /** Cycle count at which the interrupt is raised; Infinity when disarmed. */
  deadline = Infinity;
  /** Interrupts raised so far (counted when the CPU takes them). */
  interrupts = 0;

  /** Raise the interrupt once the cycle count reaches `cycle`. */
  arm(cycle: number): void {
    this.deadline = cycle;
  }

  disarm(): void {
    this.deadline = Infinity;
  }

  /** Makes the line due from cycle `cycle` on, if that is earlier than the armed deadline. */
  wake(cycle: number): void {
    if (cycle < this.deadline) this.deadline = cycle;
  }

  /** Is the interrupt pending at cycle count `now`? */
  due(now: number): boolean {
    return now >= this.deadline;
  }
}

/** The serial console: everything written is passed to `sink` and kept for inspection. */
export class SerialConsole {
  private readonly sink: ((text: string) => void) | null;
  private readonly chunks: string[] = [];
  /** Bytes (UTF-16 code units) written so far. */
  written = 0;

  constructor(sink: ((text: string) => void) | null = null) {
    this.sink = sink;
  }

  write(text: string): void {
    this.written += text.length;
    this.chunks.push(text);
    if (this.sink) this.sink(text);
  }

  /** Everything written so far. */
  get output(): string {
    if (this.chunks.length > 1) this.chunks.splice(0, this.chunks.length, this.chunks.join(''));
    return this.chunks[0] ?? '';
  }
}
