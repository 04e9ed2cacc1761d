// Fpages: hand-checked words, nil and complete, every accessor, round trips, and the checks of
// fpage() and isWellFormedFpage.
import { describe, expect, it } from 'vitest';
import {
  COMPLETE_FPAGE,
  NIL_FPAGE,
  Rights,
  completeFpage,
  decodeFpage,
  fpage,
  fpageBase,
  fpageContains,
  fpageLog2Size,
  fpageRights,
  fpageSize,
  isCompleteFpage,
  isNilFpage,
  isWellFormedFpage,
  withRights,
} from '../../libl4/fpage.ts';

describe('fpage', () => {
  it('encodes hand-checked words', () => {
    expect(fpage(0x1000, 12, Rights.Full)).toBe(0x10c7);
    expect(fpage(0x1000, 12)).toBe(0x10c0);
    expect(fpage(0xfffff000, 12, Rights.Read)).toBe(0xfffff0c4);
    expect(fpage(0x400000, 22, Rights.ReadWrite)).toBe(0x400166);
    expect(fpage(0x80000000, 31, Rights.Execute)).toBe(0x800001f1);
    expect(fpage(0, 32, Rights.Full)).toBe(0x17);
    expect(completeFpage(Rights.Full)).toBe(0x17);
    expect(COMPLETE_FPAGE).toBe(0x10);
    expect(NIL_FPAGE).toBe(0);
    expect(Rights).toMatchObject({ Read: 4, Write: 2, Execute: 1 });
  });

  it('takes words apart', () => {
    expect(decodeFpage(0x400166)).toEqual({
      base: 0x400000,
      log2Size: 22,
      size: 0x400000,
      rights: 6,
      nil: false,
      complete: false,
    });
    expect(decodeFpage(0)).toEqual({ base: 0, log2Size: 0, size: 0, rights: 0, nil: true, complete: false });
    expect(decodeFpage(0x15)).toEqual({ base: 0, log2Size: 32, size: 2 ** 32, rights: 5, nil: false, complete: true });
    expect(fpageBase(0xfffff0c4)).toBe(0xfffff000);
    expect(fpageLog2Size(0xfffff0c4)).toBe(12);
    expect(fpageSize(0xfffff0c4)).toBe(4096);
    expect(fpageRights(0xfffff0c4)).toBe(4);
    expect(fpageSize(0x10)).toBe(2 ** 32);
    expect(fpageSize(0)).toBe(0);
    expect(isNilFpage(0)).toBe(true);
    expect(isNilFpage(0x10c0)).toBe(false);
    expect(isCompleteFpage(0x17)).toBe(true);
    expect(isCompleteFpage(0x10c7)).toBe(false);
  });

  it('round-trips every size and right at aligned bases', () => {
    for (let log2Size = 12; log2Size <= 31; log2Size++) {
      for (const base of [0, 2 ** log2Size, 2 ** 32 - 2 ** log2Size]) {
        for (let rights = 0; rights <= 7; rights++) {
          const word = fpage(base, log2Size, rights);
          const fields = decodeFpage(word);
          expect(fields).toMatchObject({ base, log2Size, size: 2 ** log2Size, rights });
          expect(fpage(fields.base, fields.log2Size, fields.rights)).toBe(word);
          expect(isWellFormedFpage(word)).toBe(true);
        }
      }
    }
  });

  it('replaces rights', () => {
    expect(withRights(0x10c7, Rights.Read)).toBe(0x10c4);
    expect(withRights(0x10c0, Rights.Full)).toBe(0x10c7);
    expect(withRights(0xfffff0c4, 0)).toBe(0xfffff0c0);
    expect(() => withRights(0x10c0, 8)).toThrow(RangeError);
  });

  it('refuses bad sizes, unaligned bases and bad rights', () => {
    expect(() => fpage(0, 11)).toThrow(RangeError);
    expect(() => fpage(0, 33)).toThrow(RangeError);
    expect(() => fpage(0, 12.5)).toThrow(RangeError);
    expect(() => fpage(0x800, 12)).toThrow(/aligned/);
    expect(() => fpage(0x1000, 13)).toThrow(/aligned/);
    expect(() => fpage(0x400000, 23)).toThrow(/aligned/);
    expect(() => fpage(0x1000, 32)).toThrow(/aligned/);
    expect(() => fpage(-4096, 12)).toThrow(RangeError);
    expect(() => fpage(2 ** 32, 12)).toThrow(RangeError);
    expect(() => fpage(0x1000, 12, 8)).toThrow(RangeError);
    expect(() => fpage(0x1000, 12, -1)).toThrow(RangeError);
    expect(() => completeFpage(9)).toThrow(RangeError);
  });

  it('tells well-formed words from the rest', () => {
    expect(isWellFormedFpage(0)).toBe(true);
    expect(isWellFormedFpage(0x17)).toBe(true);
    expect(isWellFormedFpage(0x200)).toBe(true); // s = 32 at 0: the whole space, non-canonical
    expect(isWellFormedFpage(0x1000)).toBe(false); // s = 0 with a base
    expect(isWellFormedFpage(0x1010)).toBe(false); // complete with a base
    expect(isWellFormedFpage(0x10b0)).toBe(false); // s = 11
    expect(isWellFormedFpage(0x10d0)).toBe(false); // s = 13 at 0x1000
    expect(isWellFormedFpage(0x10c8)).toBe(false); // bit 3
    expect(isWellFormedFpage(0x210)).toBe(false); // s = 33
    expect(fpageLog2Size(0x200)).toBe(32);
  });

  it('knows which addresses a region holds', () => {
    const region = fpage(0x400000, 22);
    expect(fpageContains(region, 0x400000)).toBe(true);
    expect(fpageContains(region, 0x7fffff)).toBe(true);
    expect(fpageContains(region, 0x800000)).toBe(false);
    expect(fpageContains(region, 0x3fffff)).toBe(false);
    expect(fpageContains(COMPLETE_FPAGE, 0xffffffff)).toBe(true);
    expect(fpageContains(NIL_FPAGE, 0)).toBe(false);
  });
});
