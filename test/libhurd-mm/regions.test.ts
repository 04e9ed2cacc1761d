// The region map: placement, lookup, splitting at a range's ends and joining neighbours with
// equal attributes, with the owner told of each split and join.
import { describe, expect, it } from 'vitest';
import { Region, RegionMap } from '../../libhurd-mm/regions.ts';

const P = 4096;
const BASE = 0x10000000;

function map(): { regions: RegionMap; splits: [number, number][]; joins: [number, number][] } {
  const splits: [number, number][] = [];
  const joins: [number, number][] = [];
  const regions = new RegionMap({
    onSplit: (left, right) => splits.push([left.end, right.start]),
    onJoin: (left, right) => joins.push([left.start, right.start]),
  });
  return { regions, splits, joins };
}

const region = (start: number, pages: number, rights = 6, policy?: 'mru'): Region => new Region(start, start + pages * P, rights, 'anonymous', policy, false, null);
const shape = (regions: RegionMap): [number, number, number][] => regions.regions.map((r) => [(r.start - BASE) / P, (r.end - BASE) / P, r.rights]);

describe('regions', () => {
  it('places first fit from the base, around regions and reserved ranges', () => {
    const { regions } = map();
    expect(regions.place(4 * P, BASE, BASE + 100 * P, [])).toBe(BASE);
    regions.insert(region(BASE, 4));
    regions.insert(region(BASE + 6 * P, 2));
    expect(regions.place(2 * P, BASE, BASE + 100 * P, [])).toBe(BASE + 4 * P);
    expect(regions.place(3 * P, BASE, BASE + 100 * P, [])).toBe(BASE + 8 * P);
    expect(regions.place(3 * P, BASE, BASE + 100 * P, [[BASE + 8 * P, BASE + 9 * P]])).toBe(BASE + 9 * P);
    expect(regions.place(200 * P, BASE, BASE + 100 * P, [])).toBe(-1);
  });

  it('finds the region of an address, and tells overlap and coverage', () => {
    const { regions } = map();
    regions.insert(region(BASE + 10 * P, 5));
    regions.insert(region(BASE, 5));
    expect(regions.find(BASE + 4 * P)?.start).toBe(BASE);
    expect(regions.find(BASE + 5 * P)).toBeUndefined();
    expect(regions.find(BASE + 14 * P + 4095)?.start).toBe(BASE + 10 * P);
    expect(regions.find(BASE + 15 * P)).toBeUndefined();
    expect(regions.overlaps(BASE + 5 * P, BASE + 10 * P)).toBe(false);
    expect(regions.overlaps(BASE + 5 * P, BASE + 11 * P)).toBe(true);
    expect(regions.overlaps(BASE - P, BASE + P)).toBe(true);
    expect(regions.covers(BASE, BASE + 5 * P)).toBe(true);
    expect(regions.covers(BASE, BASE + 6 * P)).toBe(false);
  });

  it('carves a range out of the middle of a region: two splits, three regions', () => {
    const { regions, splits } = map();
    regions.insert(region(BASE, 10));
    const inside = regions.carve(BASE + 3 * P, BASE + 5 * P);
    expect(inside.map((r) => [(r.start - BASE) / P, (r.end - BASE) / P])).toEqual([[3, 5]]);
    expect(shape(regions)).toEqual([
      [0, 3, 6],
      [3, 5, 6],
      [5, 10, 6],
    ]);
    expect(splits).toEqual([
      [BASE + 3 * P, BASE + 3 * P],
      [BASE + 5 * P, BASE + 5 * P],
    ]);
    // Across two regions and a gap: only what is inside comes back.
    regions.insert(region(BASE + 12 * P, 4));
    expect(regions.carve(BASE + 4 * P, BASE + 14 * P).map((r) => (r.start - BASE) / P)).toEqual([4, 5, 12]);
  });

  it('joins neighbours with the same attributes, and only those', () => {
    const { regions, joins } = map();
    regions.insert(region(BASE, 10));
    for (const r of regions.carve(BASE + 3 * P, BASE + 5 * P)) r.rights = 4;
    regions.join(BASE + 3 * P, BASE + 5 * P);
    expect(shape(regions)).toEqual([
      [0, 3, 6],
      [3, 5, 4],
      [5, 10, 6],
    ]);
    expect(joins).toEqual([]);
    for (const r of regions.carve(BASE + 3 * P, BASE + 5 * P)) r.rights = 6;
    regions.join(BASE + 3 * P, BASE + 5 * P);
    expect(shape(regions)).toEqual([[0, 10, 6]]);
    expect(joins).toEqual([
      [BASE, BASE + 3 * P],
      [BASE, BASE + 5 * P],
    ]);
    expect(regions.find(BASE + 7 * P)?.end).toBe(BASE + 10 * P);
  });

  it('keeps regions with policies of their own apart from the rest, and joins equal ones', () => {
    const { regions } = map();
    regions.insert(region(BASE, 2, 6, 'mru'));
    regions.insert(region(BASE + 2 * P, 2));
    regions.insert(region(BASE + 4 * P, 2, 6, 'mru'));
    regions.join(BASE, BASE + 6 * P);
    expect(regions.regions.length).toBe(3);
    regions.remove([regions.find(BASE + 2 * P)!]);
    regions.insert(region(BASE + 2 * P, 2, 6, 'mru'));
    regions.join(BASE, BASE + 6 * P);
    expect(shape(regions)).toEqual([[0, 6, 6]]);
  });

  it('removes carved regions, leaving the rest', () => {
    const { regions } = map();
    regions.insert(region(BASE, 8));
    regions.remove(regions.carve(BASE + 2 * P, BASE + 4 * P));
    expect(shape(regions)).toEqual([
      [0, 2, 6],
      [4, 8, 6],
    ]);
    expect(regions.find(BASE + 3 * P)).toBeUndefined();
  });
});
