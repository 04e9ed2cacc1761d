// The interrupt controller: request and mask registers, scheduled raises, acknowledgement, and the
// interrupt line it shares with the interval timer.
import { describe, expect, it } from 'vitest';
import { IntervalTimer } from '../../emulator/devices.ts';
import { INTERRUPT_LINES, InterruptController } from '../../emulator/interrupt-controller.ts';

function fresh(): { timer: IntervalTimer; pic: InterruptController } {
  const timer = new IntervalTimer();
  return { timer, pic: new InterruptController(timer) };
}

describe('interrupt controller', () => {
  it('masks every line at reset; a masked request stays latched and is pending once unmasked', () => {
    const { timer, pic } = fresh();
    for (let line = 0; line < INTERRUPT_LINES; line++) expect(pic.isMasked(line)).toBe(true);
    pic.raise(5);
    expect(pic.isRequested(5)).toBe(true);
    expect(pic.pending(0)).toBe(0);
    expect(timer.due(0)).toBe(false); // a masked request does not assert the CPU's line
    pic.unmask(5);
    expect(pic.pending(0)).toBe(1 << 5);
    expect(timer.due(0)).toBe(true);
  });

  it('merges a second edge into an unacknowledged request; acknowledgement clears it', () => {
    const { pic } = fresh();
    pic.unmask(3);
    pic.raise(3);
    pic.raise(3);
    expect(pic.raised[3]).toBe(2);
    expect(pic.pending(0)).toBe(1 << 3);
    pic.acknowledge(3);
    expect(pic.acknowledged[3]).toBe(1);
    expect(pic.pending(0)).toBe(0);
    pic.acknowledge(3); // nothing latched: not counted
    expect(pic.acknowledged[3]).toBe(1);
  });

  it('a scheduled raise becomes a request at its cycle, in order, and pulls the timer in', () => {
    const { timer, pic } = fresh();
    pic.unmask(7);
    pic.unmask(31);
    timer.arm(10_000);
    pic.raiseAt(31, 500);
    pic.raiseAt(7, 200);
    expect(pic.nextRaise).toBe(200);
    expect(timer.deadline).toBe(200);
    expect(pic.pending(199)).toBe(0);
    expect(pic.pending(200)).toBe(1 << 7);
    expect(pic.nextRaise).toBe(500);
    expect(pic.pending(1000)).toBe(((1 << 7) | (1 << 31)) >>> 0);
    expect(pic.nextRaise).toBe(Infinity);
  });

  it('refuses lines outside 0..31 and cycles that are not numbers', () => {
    const { pic } = fresh();
    expect(() => pic.raise(32)).toThrow(RangeError);
    expect(() => pic.raise(-1)).toThrow(RangeError);
    expect(() => pic.mask(1.5)).toThrow(RangeError);
    expect(() => pic.raiseAt(2, Number.NaN)).toThrow(RangeError);
  });
});
