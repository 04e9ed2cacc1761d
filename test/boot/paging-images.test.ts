// The paging demonstrations' boot images (images/mm-*.json): each config's modules booted as
// `l4hurd build` would put them together (from bundles built once, tools/mm-images.ts), each
// run ending in status 0 with the lines its demonstration promises.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundles, runMarked } from '../../tools/mm-images.ts';

const images = resolve(dirname(fileURLToPath(import.meta.url)), '../../images');

/** Lines each image must print (regular expressions, in any order). */
const EXPECTED: Record<string, readonly RegExp[]> = {
  'mm-touch': [/^mm-touch: 256 pages, 4096 writes, checksum [0-9a-f]{8}, 0 words wrong$/, /^mm: stats touch mode=self .*pageOuts=[1-9]/],
  'mm-touch-central': [/^mm-touch: 256 pages, 4096 writes, checksum [0-9a-f]{8}, 0 words wrong$/, /^mm: stats touch mode=central /],
  'mm-database': [/^mm: stats db-clock mode=self faults=413 .*pageIns=413 /, /^mm: stats db-app mode=self faults=178 .*pageIns=178 /],
  'mm-database-central': [/^mm: stats db-app mode=central faults=413 /],
  'mm-cache': [/^mm: stats cache-disc mode=self .*pageIns=0 pageOuts=0 .*discards=[1-9]/, /^mm: stats cache-anon mode=self .*pageOuts=[1-9]/],
  'mm-cache-central': [/^mm: stats cache-disc mode=central .*discards=0 /],
  'mm-qos': [/^mm: stats good mode=self faults=0 zeroFills=0 pageIns=0 /, /^mm-qos: good 20 rounds over 48 pages, 0 words wrong$/],
  'mm-qos-central': [/^mm: stats good mode=central faults=[1-9]\d* zeroFills=0 pageIns=[1-9]/, /^mm-qos: good 20 rounds over 48 pages, 0 words wrong$/],
  'mm-reclaim': [/^mm-reclaim: compliant 332 of 332 pages intact$/, /^mm-reclaim: ignorer asked for \d+ frames, ignores it$/],
};

let bundles: Bundles;
beforeAll(async () => {
  bundles = await Bundles.build();
}, 120_000);

describe('the paging demonstrations boot', () => {
  const names = readdirSync(images).filter((f) => f.startsWith('mm-') && f.endsWith('.json')).map((f) => f.slice(0, -5));
  it('every image has its expectations (the list is not stale)', () => {
    expect(names.sort()).toEqual(Object.keys(EXPECTED).sort());
  });
  for (const name of names) {
    it(`${name}: exits 0 and prints what it demonstrates`, () => {
      const run = runMarked(bundles.imageOf(join(images, `${name}.json`)));
      expect(run.result.exitStatus, run.result.output).toBe(0);
      const lines = run.result.output.split('\n');
      for (const pattern of EXPECTED[name] ?? []) expect(lines.some((line) => pattern.test(line)), `${name}: ${pattern}`).toBe(true);
      expect(run.result.output).not.toMatch(/invariant violated|internal error|halted|segmentation fault/);
    }, 60_000);
  }
});
