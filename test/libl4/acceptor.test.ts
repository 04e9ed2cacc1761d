// The acceptor (BR0): window bits, the string bit, round trips, and the window check.
import { describe, expect, it } from 'vitest';
import { acceptor, decodeAcceptor, encodeAcceptor } from '../../libl4/acceptor.ts';
import { COMPLETE_FPAGE, NIL_FPAGE, Rights, completeFpage, fpage } from '../../libl4/fpage.ts';

describe('acceptor', () => {
  it('encodes hand-checked words', () => {
    expect(acceptor(NIL_FPAGE)).toBe(0);
    expect(acceptor(NIL_FPAGE, true)).toBe(1);
    expect(acceptor(COMPLETE_FPAGE)).toBe(0x10);
    expect(acceptor(completeFpage(Rights.Full))).toBe(0x10); // rights dropped
    expect(acceptor(fpage(0x10000000, 28, Rights.Full), true)).toBe(0x100001c1);
  });

  it('decodes and round-trips', () => {
    expect(decodeAcceptor(0x100001c1)).toEqual({ window: 0x100001c0, acceptStrings: true });
    expect(decodeAcceptor(0x10)).toEqual({ window: 0x10, acceptStrings: false });
    expect(decodeAcceptor(0)).toEqual({ window: 0, acceptStrings: false });
    for (const value of [
      { window: fpage(0xc0000000, 30), acceptStrings: false },
      { window: fpage(0x3000, 12), acceptStrings: true },
      { window: COMPLETE_FPAGE, acceptStrings: true },
    ]) {
      expect(decodeAcceptor(encodeAcceptor(value))).toEqual(value);
    }
  });

  it('refuses a malformed window', () => {
    expect(() => acceptor(0x10d0)).toThrow(RangeError);
    expect(() => acceptor(0x1010)).toThrow(RangeError);
    expect(() => acceptor(0x10c8)).toThrow(RangeError);
  });
});
