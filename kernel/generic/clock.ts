// Model time: the cycle counter of the CPU, and its conversion to and from microseconds at the
// profile's clock rate (what SystemClock reports and what timeouts and time slices are given in).

export class Clock {
  private readonly cpu: { readonly cycles: number };
  private readonly clockHz: number;

  constructor(cpu: { readonly cycles: number }, clockHz: number) {
    this.cpu = cpu;
    this.clockHz = clockHz;
  }

  get cycles(): number {
    return this.cpu.cycles;
  }

  /** Cycles in `us` microseconds, rounded up. */
  usToCycles(us: number): number {
    return Math.ceil((us * this.clockHz) / 1_000_000);
  }

  /** Microseconds since boot. */
  microseconds(): number {
    return Math.floor((this.cpu.cycles * 1_000_000) / this.clockHz);
  }
}
