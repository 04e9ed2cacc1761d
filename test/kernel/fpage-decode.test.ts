// The kernel's fpage decoders (kernel/api/fpage.ts): fpageContains, which the map path asks for
// every page it installs, gives what the range fpageRange decodes says, for every size field
// (nil, smaller than a page, the complete address space, too large) and seeded addresses.
import { describe, expect, it } from 'vitest';
import { fpageContains, fpageRange } from '../../kernel/api/fpage.ts';
import { SeededRandom } from '../support/random.ts';

describe('kernel fpage decoding', () => {
  it('fpageContains agrees with fpageRange for every size field, edge addresses and seeded ones', () => {
    const random = new SeededRandom(0xf9a6e);
    for (let log2 = 0; log2 < 64; log2++) {
      for (let trial = 0; trial < 40; trial++) {
        const base = trial === 0 ? 0 : random.below(2 ** 22) * 1024;
        const fpage = ((base & ~0x3ff) | (log2 << 4) | random.below(8)) >>> 0;
        const range = fpageRange(fpage);
        const addresses = [0, base, base + 4095, 2 ** 32 - 4096, random.below(2 ** 20) * 4096];
        if (range) addresses.push(range.base, range.base + range.size - 4096, range.base + range.size, range.base - 4096);
        for (const address of addresses) {
          for (const length of [1, 4096]) {
            const expected = range !== null && address >= range.base && address + length <= range.base + range.size;
            expect(fpageContains(fpage, address, length), `fpage ${fpage.toString(16)} address ${address.toString(16)}`).toBe(expected);
          }
        }
      }
    }
  });
});
