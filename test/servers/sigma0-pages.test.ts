// sigma0's page types and owners (servers/sigma0-pages.ts) against a page-by-page model: the
// type of every page, who holds it, and the first-fit search sigma0 makes with the skips the
// two views allow, on seeded random memory maps and claims.
import { describe, expect, it } from 'vitest';
import { PageOwners, PageTypes, descriptorType, type Descriptor } from '../../servers/sigma0-pages.ts';
import { SeededRandom } from '../support/random.ts';

const PAGE = 4096;
const PAGES = 4096; // 16 MiB of physical addresses: four 4 MiB chunks
const accept = (type: number): boolean => type === 1 || type === 4;

function randomDescriptors(random: SeededRandom): Descriptor[] {
  const list: Descriptor[] = [{ low: 0, end: PAGES * PAGE, type: 1 }];
  for (let i = random.below(8); i > 0; i--) {
    const low = random.below(PAGES) * PAGE;
    const end = Math.min(PAGES * PAGE, low + (1 + random.below(600)) * PAGE);
    list.push({ low, end, type: [2, 3, 4, 0xe, 1][random.below(5)]! });
  }
  return list;
}

describe('sigma0 pages', () => {
  it('types, owners and the first-fit search agree with a page-by-page model', () => {
    const random = new SeededRandom(0x5169);
    for (let round = 0; round < 40; round++) {
      const descriptors = randomDescriptors(random);
      const types = new PageTypes(descriptors);
      const owners = new PageOwners();
      const held = new Uint32Array(PAGES);
      for (let page = 0; page < PAGES; page++) expect(types.typeOf(page * PAGE)).toBe(descriptorType(descriptors, page * PAGE));
      expect(types.count(1)).toBe([...Array(PAGES).keys()].filter((p) => descriptorType(descriptors, p * PAGE) === 1).length);
      for (let step = 0; step < 60; step++) {
        const log2 = 12 + random.below(11);
        const size = 2 ** log2;
        // The model's first fit of `size` from address 0, and the search with skips.
        const fits = (base: number): boolean => {
          for (let p = base / PAGE; p < (base + size) / PAGE; p++) if (held[p] !== 0 || !accept(descriptorType(descriptors, p * PAGE))) return false;
          return true;
        };
        let expected = -1;
        for (let base = 0; base + size <= PAGES * PAGE; base += size) if (fits(base)) {
          expected = base;
          break;
        }
        let base = 0;
        while (base + size <= PAGES * PAGE) {
          const past = owners.takenUntil(base, size) || types.blockedUntil(base, size, accept);
          if (past === 0) break;
          expect(past).toBeGreaterThan(base);
          base = Math.ceil(past / size) * size;
        }
        expect(base + size <= PAGES * PAGE ? base : -1).toBe(expected);
        // Claims: sometimes the fit, sometimes anywhere (taken or not), by one of three owners.
        const owner = 1 + random.below(3);
        const at = expected >= 0 && random.below(2) === 0 ? expected : random.below(PAGES / (size / PAGE)) * size;
        let free = true;
        for (let p = at / PAGE; p < (at + size) / PAGE; p++) if (held[p] !== 0 && held[p] !== owner) free = false;
        expect(owners.freeFor(at, size, owner)).toBe(free);
        if (free) {
          owners.give(at, size, owner);
          held.fill(owner, at / PAGE, (at + size) / PAGE);
        }
      }
    }
  });
});
