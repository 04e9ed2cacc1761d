// Program text: the bodies program threads run, by code address.
//
// A program thread's "code" is a TypeScript generator function. Its code address is where the
// kernel finds it when a thread is started at an IP (by a start message or ExchangeRegisters).
// The text is one table for the whole system, as if every program were linked into one shared
// text segment: a code address means the same body in every space, so a task can start threads
// in a space it creates. Code addresses lie in [TEXT_BASE, TEXT_BASE + 16 * bodies), a region
// no page is ever mapped at by the kernel; nothing is fetched from there.

import type { ProgramBody } from '../../libl4/abi.ts';

export const TEXT_BASE = 0x00010000;
export const TEXT_STRIDE = 16;
/** At most this many distinct bodies (keeps code addresses below 1 MiB). */
export const TEXT_LIMIT = (0x100000 - TEXT_BASE) / TEXT_STRIDE;

export class ProgramText {
  private readonly bodies: ProgramBody[] = [];
  private readonly index = new Map<ProgramBody, number>();

  /** The code address of `body`, registering it on first use. */
  codeAddress(body: ProgramBody): number {
    let index = this.index.get(body);
    if (index === undefined) {
      if (typeof body !== 'function') throw new TypeError('a program body must be a generator function');
      if (this.bodies.length >= TEXT_LIMIT) throw new RangeError('program text is full');
      index = this.bodies.length;
      this.bodies.push(body);
      this.index.set(body, index);
    }
    return TEXT_BASE + index * TEXT_STRIDE;
  }

  /** The body starting at `ip`, or null if nothing starts there. */
  bodyAt(ip: number): ProgramBody | null {
    const offset = (ip >>> 0) - TEXT_BASE;
    if (offset < 0 || offset % TEXT_STRIDE !== 0) return null;
    return this.bodies[offset / TEXT_STRIDE] ?? null;
  }
}
