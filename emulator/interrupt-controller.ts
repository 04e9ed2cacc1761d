// The interrupt controller: 32 interrupt lines that devices raise, with a request register, a
// mask register and acknowledgement, in the manner of the 8259A (whose two chips give a PC 16
// lines; this one has 32 and no priorities or cascading of its own: which request the CPU takes
// first is the kernel's choice).
//
//   raise(line)          a device's edge: the line's request bit is set (a second edge before the
//                        request is acknowledged is merged into it, as on the 8259A)
//   raiseAt(line, cycle) a device's edge at a later cycle (a transfer that completes then); the
//                        device may give an action that runs just before the edge is latched
//                        (the disk moves its data then)
//   mask / unmask        the mask register: a masked request stays latched until unmasked
//   pending(now)         requests that are raised and unmasked, as a bit mask (bit n: line n)
//   acknowledge(line)    the CPU's INTA for the line: its request bit is cleared
//
// All lines are masked at reset. Line 0 is the interval timer's, which the CPU samples directly
// (devices.ts); it is never raised here. The CPU samples its interrupt input between steps
// through the timer's `due`: whenever a request becomes pending and unmasked, or a raise is
// scheduled, the controller pulls the timer's deadline in to that cycle (`wake`), so the CPU
// notices at the first step boundary from then on. Nothing here depends on host time.

import { IntervalTimer } from './devices.ts';

export const INTERRUPT_LINES = 32;
/** The interval timer's line. */
export const TIMER_LINE = 0;

interface ScheduledRaise {
  readonly cycle: number;
  readonly line: number;
  readonly sequence: number;
  readonly action: (() => void) | null;
}

export class InterruptController {
  readonly lines = INTERRUPT_LINES;
  /** Edges raised per line (merged ones included). */
  readonly raised = new Array<number>(INTERRUPT_LINES).fill(0);
  /** Requests acknowledged per line. */
  readonly acknowledged = new Array<number>(INTERRUPT_LINES).fill(0);
  private requests = 0;
  private masks = 0xffffffff | 0;
  private readonly scheduled: ScheduledRaise[] = [];
  private sequence = 0;
  private readonly timer: IntervalTimer;

  constructor(timer: IntervalTimer) {
    this.timer = timer;
  }

  /** A device raises `line` now. */
  raise(line: number): void {
    this.check(line);
    this.raised[line]!++;
    this.requests |= 1 << line;
    if (!(this.masks & (1 << line))) this.timer.wake(-Infinity);
  }

  /**
   * A device will raise `line` at cycle `cycle` (raises at one cycle keep their order); `action`,
   * if given, runs when the raise is taken, before its request is latched.
   */
  raiseAt(line: number, cycle: number, action?: () => void): void {
    this.check(line);
    if (!(typeof cycle === 'number' && !Number.isNaN(cycle))) throw new RangeError(`raiseAt needs a cycle count, got ${String(cycle)}`);
    const entry = { cycle, line, sequence: this.sequence++, action: action ?? null };
    let i = this.scheduled.length;
    while (i > 0 && this.scheduled[i - 1]!.cycle > cycle) i--;
    this.scheduled.splice(i, 0, entry);
    this.timer.wake(cycle);
  }

  mask(line: number): void {
    this.check(line);
    this.masks |= 1 << line;
  }

  unmask(line: number): void {
    this.check(line);
    this.masks &= ~(1 << line);
    if (this.requests & (1 << line)) this.timer.wake(-Infinity);
  }

  isMasked(line: number): boolean {
    this.check(line);
    return (this.masks & (1 << line)) !== 0;
  }

  /** Is a request for `line` latched (raised, not yet acknowledged), masked or not? */
  isRequested(line: number): boolean {
    this.check(line);
    return (this.requests & (1 << line)) !== 0;
  }

  /** Requests raised by `now` (scheduled ones included) and not masked: bit n for line n. */
  pending(now: number): number {
    const scheduled = this.scheduled;
    while (scheduled.length > 0 && scheduled[0]!.cycle <= now) {
      const { line, action } = scheduled.shift()!;
      action?.();
      this.raised[line]!++;
      this.requests |= 1 << line;
    }
    return (this.requests & ~this.masks) >>> 0;
  }

  /** The CPU takes the request of `line`: its request bit is cleared. */
  acknowledge(line: number): void {
    this.check(line);
    if (this.requests & (1 << line)) this.acknowledged[line]!++;
    this.requests &= ~(1 << line);
  }

  /** The cycle of the next scheduled raise (Infinity when none is scheduled). */
  get nextRaise(): number {
    return this.scheduled.length > 0 ? this.scheduled[0]!.cycle : Infinity;
  }

  private check(line: number): void {
    if (!Number.isInteger(line) || line < 0 || line >= INTERRUPT_LINES) {
      throw new RangeError(`interrupt line ${String(line)} is outside 0..${INTERRUPT_LINES - 1}`);
    }
  }
}
