// Timeouts: the special words, hand-checked encodings (exact and rounded up), the canonical
// choice, the decoder, the timeouts word, and the range checks.
import { describe, expect, it } from 'vitest';
import {
  MAX_TIMEOUT_MICROSECONDS,
  NEVER,
  ZERO_TIME,
  receiveTimeout,
  sendTimeout,
  timeout,
  timeoutMicroseconds,
  timeouts,
} from '../../libl4/timeout.ts';

describe('timeout', () => {
  it('has X.2 special words', () => {
    expect(NEVER).toBe(0);
    expect(ZERO_TIME).toBe(0x0400);
    expect(timeout(0)).toBe(ZERO_TIME);
    expect(timeout(Infinity)).toBe(NEVER);
    expect(timeoutMicroseconds(NEVER)).toBe(Infinity);
    expect(timeoutMicroseconds(ZERO_TIME)).toBe(0);
  });

  it('encodes exact periods with the largest exponent', () => {
    expect(timeout(1)).toBe(0x0001); // m 1 e 0
    expect(timeout(1023)).toBe(0x03ff); // m 1023 e 0
    expect(timeout(2)).toBe(0x0401); // m 1 e 1, not m 2 e 0
    expect(timeout(1024)).toBe(0x2801); // m 1 e 10
    expect(timeout(1000)).toBe(0x0c7d); // m 125 e 3
    expect(timeout(3 * 2 ** 20)).toBe((20 << 10) | 3);
    expect(timeout(MAX_TIMEOUT_MICROSECONDS)).toBe(0x7fff); // m 1023 e 31
    expect(timeout(2 ** 31)).toBe((31 << 10) | 1);
    expect(timeout(2 ** 32)).toBe((31 << 10) | 2); // e is at most 31
  });

  it('rounds inexact periods up to the nearest representable one', () => {
    expect(timeout(1025)).toBe((1 << 10) | 513); // 1026 µs
    expect(timeout(1_000_000)).toBe(0x2bd1); // m 977 e 10: 1,000,448 µs
    expect(timeoutMicroseconds(timeout(1_000_000))).toBe(1_000_448);
    expect(timeout(0.2)).toBe(0x0001);
    expect(timeout(2047)).toBe((11 << 10) | 1); // 2048 µs, canonically m 1 e 11
  });

  it('never fires early and is tight', () => {
    for (const us of [1, 7, 1023, 1024, 1025, 2047, 4097, 99_999, 123_456_789, 2 ** 40 + 1]) {
      const period = timeoutMicroseconds(timeout(us));
      expect(period).toBeGreaterThanOrEqual(us);
      // Within one step of the finest exponent that can hold it.
      expect(period - us).toBeLessThan(Math.max(1, 2 ** Math.ceil(Math.log2(us / 1023))));
    }
  });

  it('decodes m * 2^e', () => {
    expect(timeoutMicroseconds(0x03ff)).toBe(1023);
    expect(timeoutMicroseconds(0x2801)).toBe(1024);
    expect(timeoutMicroseconds(0x7fff)).toBe(1023 * 2 ** 31);
    expect(timeoutMicroseconds(0x0800)).toBe(0); // m 0 e 2: zero time too
    for (let word = 1; word < 0x8000; word += 37) {
      const period = timeoutMicroseconds(word);
      if (period > 0) expect(timeoutMicroseconds(timeout(period))).toBe(period);
    }
  });

  it('refuses what it cannot encode or decode', () => {
    expect(() => timeout(-1)).toThrow(RangeError);
    expect(() => timeout(Number.NaN)).toThrow(RangeError);
    expect(() => timeout(MAX_TIMEOUT_MICROSECONDS + 1)).toThrow(RangeError);
    expect(() => timeoutMicroseconds(0x8000)).toThrow(/absolute/);
    expect(() => timeoutMicroseconds(0x10000)).toThrow(RangeError);
  });

  it('packs send and receive timeouts into one word', () => {
    expect(timeouts(ZERO_TIME, NEVER)).toBe(0x04000000);
    expect(timeouts(NEVER, ZERO_TIME)).toBe(0x00000400);
    expect(timeouts(0x7fff, 0x2801)).toBe(0x7fff2801);
    expect(timeouts(0xffff, 0xffff)).toBe(0xffffffff);
    expect(sendTimeout(0x7fff2801)).toBe(0x7fff);
    expect(receiveTimeout(0x7fff2801)).toBe(0x2801);
    expect(() => timeouts(0x10000, 0)).toThrow(/send/);
    expect(() => timeouts(0, -1)).toThrow(/receive/);
  });
});
