// String items: the word layout, compound strings and buffer strings, and their errors.
import { describe, expect, it } from 'vitest';
import { bufferStrings, compoundString, decodeStringItem, encodeStringItem, stringItem, STRING_COMPOUND, STRING_MORE_BUFFERS } from '../../libl4/string-item.ts';

describe('string items', () => {
  it('a simple item is the length in bits 31-10 and one address', () => {
    expect(stringItem(256, 0x1000)).toEqual([256 << 10, 0x1000]);
    expect(stringItem(2 ** 22 - 1, 0xfffffffc)).toEqual([((2 ** 22 - 1) * 1024) >>> 0, 0xfffffffc]);
  });

  it('substrings set j; compound parts set c on all but the last; buffer strings set C on all but the last', () => {
    const item = encodeStringItem({ length: 64, addresses: [0, 64, 128, 192], compound: false, more: false, cacheHints: 2 });
    expect(item).toEqual([((64 << 10) | (3 << 4) | (2 << 1)) >>> 0, 0, 64, 128, 192]);
    const words = compoundString([
      { length: 32, addresses: [0, 32] },
      { length: 64, addresses: [64] },
    ]);
    expect(words).toEqual([(32 << 10) | STRING_COMPOUND | (1 << 4), 0, 32, 64 << 10, 64]);
    const buffers = bufferStrings([[{ length: 16, addresses: [0] }], [{ length: 8, addresses: [16] }, { length: 8, addresses: [24] }]]);
    expect(buffers).toEqual([(16 << 10) | STRING_MORE_BUFFERS, 0, (8 << 10) | STRING_COMPOUND, 16, 8 << 10, 24]);
  });

  it('decodes what it encodes, and gives null for an item that runs past its words', () => {
    const words = encodeStringItem({ length: 100, addresses: [5, 6, 7], compound: true, more: true, cacheHints: 1 });
    expect(decodeStringItem(words)).toEqual({ item: { length: 100, addresses: [5, 6, 7], compound: true, more: true, cacheHints: 1 }, words: 4 });
    expect(decodeStringItem(words.slice(0, 3))).toBeNull();
    expect(decodeStringItem([0, 1, ...words], 2)!.words).toBe(4);
  });

  it('refuses lengths, substring counts and hints that do not fit', () => {
    expect(() => stringItem(2 ** 22, 0)).toThrow(RangeError);
    expect(() => stringItem(-1, 0)).toThrow(RangeError);
    expect(() => encodeStringItem({ length: 1, addresses: [], compound: false, more: false, cacheHints: 0 })).toThrow(RangeError);
    expect(() => encodeStringItem({ length: 1, addresses: new Array(33).fill(0), compound: false, more: false, cacheHints: 0 })).toThrow(RangeError);
    expect(() => encodeStringItem({ length: 1, addresses: [0], compound: false, more: false, cacheHints: 4 })).toThrow(RangeError);
    expect(() => compoundString([])).toThrow(RangeError);
  });
});
