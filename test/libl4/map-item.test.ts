// Map and grant items: hand-checked words, round trips, and what encoding and decoding refuse.
import { describe, expect, it } from 'vitest';
import { COMPLETE_FPAGE, NIL_FPAGE, Rights, fpage } from '../../libl4/fpage.ts';
import { decodeMapGrantItem, encodeMapGrantItem, grantItem, isMapGrantItem, mapItem } from '../../libl4/map-item.ts';

describe('map and grant items', () => {
  it('encodes hand-checked words', () => {
    expect(mapItem(0x1000, fpage(0x1000, 12, Rights.Full))).toEqual([0x1008, 0x10c7]);
    expect(grantItem(0x1000, fpage(0x1000, 12, Rights.Full))).toEqual([0x100a, 0x10c7]);
    expect(mapItem(0, fpage(0x400000, 22, Rights.Read))).toEqual([0x8, 0x400164]);
    expect(mapItem(0xfffff000, fpage(0xfffff000, 12, Rights.ReadWrite))).toEqual([0xfffff008, 0xfffff0c6]);
    expect(mapItem(0, NIL_FPAGE)).toEqual([0x8, 0]);
    expect(grantItem(0, COMPLETE_FPAGE | 7)).toEqual([0xa, 0x17]);
  });

  it('decodes map versus grant and round-trips', () => {
    expect(decodeMapGrantItem(0x1008, 0x10c7)).toEqual({ kind: 'map', sendBase: 0x1000, fpage: 0x10c7 });
    expect(decodeMapGrantItem(0x100a, 0x10c7)).toEqual({ kind: 'grant', sendBase: 0x1000, fpage: 0x10c7 });
    expect(decodeMapGrantItem(-4088, -3898)).toEqual({ kind: 'map', sendBase: 0xfffff000, fpage: 0xfffff0c6 });
    for (const kind of ['map', 'grant'] as const) {
      for (const item of [
        { kind, sendBase: 0, fpage: 0 },
        { kind, sendBase: 0x80000000, fpage: fpage(0x80000000, 31, 5) },
        { kind, sendBase: 0x12345000, fpage: fpage(0x2000, 13, 7) },
      ]) {
        const [word0, word1] = encodeMapGrantItem(item);
        expect(decodeMapGrantItem(word0, word1)).toEqual(item);
      }
    }
  });

  it('recognises the first word of an item', () => {
    expect(isMapGrantItem(0x1008)).toBe(true);
    expect(isMapGrantItem(0x100a)).toBe(true);
    expect(isMapGrantItem(0x1000)).toBe(false); // a string item's type bits
    expect(isMapGrantItem(0x100c)).toBe(false);
  });

  it('refuses unaligned send bases and malformed fpages', () => {
    expect(() => mapItem(0x1234, fpage(0x1000, 12))).toThrow(/page aligned/);
    expect(() => mapItem(0x400, fpage(0x1000, 12))).toThrow(/page aligned/);
    expect(() => mapItem(-4096, fpage(0x1000, 12))).toThrow(RangeError);
    expect(() => grantItem(0x1000, 0x10d0)).toThrow(/fpage/);
    expect(() => grantItem(0x1000, 0x10c8)).toThrow(/fpage/);
    expect(() => mapItem(0x1000, 2 ** 33)).toThrow(RangeError);
  });

  it('refuses words that are not exactly a map or grant item', () => {
    expect(() => decodeMapGrantItem(0x1000, 0x10c7)).toThrow(/map or grant/); // string item
    expect(() => decodeMapGrantItem(0x100c, 0x10c7)).toThrow(/map or grant/); // type 110
    expect(() => decodeMapGrantItem(0x1009, 0x10c7)).toThrow(/map or grant/); // bit 0
    expect(() => decodeMapGrantItem(0x1018, 0x10c7)).toThrow(/map or grant/); // bits 9-4
    expect(() => decodeMapGrantItem(0x1408, 0x10c7)).toThrow(/page aligned/);
    expect(() => decodeMapGrantItem(0x1008, 0x10b7)).toThrow(/fpage/);
  });
});
