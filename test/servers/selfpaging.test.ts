// Self-paging tasks (libhurd-mm) in booted images, and the same programs under the central
// pager: segmentation faults, regions split and joined by munmap and mprotect, refusals, the
// hints, discardable memory, each policy's victims with the MMU's real referenced bits, threads,
// data integrity under heavy paging with every policy, reclaim requests answered in time next to
// a task that ignores them, and no frame leaked by tasks that die. physmem runs its self-check
// after every request; the mapping invariant is checked whenever physmem waits.
//
// Sizes: L4HURD_MM_GUARANTEE sets the integrity runs' guarantee (default 16 frames; each touches
// 8 times as many pages with 8 seeded writes a page); L4HURD_MM_HOSTILE_OPS the hostile client's
// requests (default 300).
import { describe, expect, it } from 'vitest';
import { seeded } from '../../servers/demo/mm-common.ts';
import { bootMm, problemsOf, type MmBoot } from '../support/mm.ts';


/** 16 MiB of RAM: about 2,900 frames for physmem (the mapping check walks them all). */
const RAM = 16 * 1024 * 1024;

function lines(boot: MmBoot, prefix: string): string[] {
  return boot.output.split('\n').filter((line) => line.startsWith(prefix));
}

function exited(boot: MmBoot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(boot, 'mm-cases: ')) {
    const match = /^mm-cases: (\S+) (.*)$/.exec(line);
    if (match && match[1] !== 'free' && match[1] !== 'the') out[match[1]!] = match[2]!;
  }
  return out;
}

/** Nothing leaked by the tasks that died: physmem's frames and guarantees, the store's pages. */
function expectFramesBack(boot: MmBoot): void {
  const line = lines(boot, 'mm-cases: free frames')[0]!;
  const [, before, after, gBefore, gAfter] = /free frames (\d+) before, (\d+) after; guaranteed (\d+) before, (\d+) after/.exec(line)!;
  expect(after).toBe(before);
  expect(gAfter).toBe(gBefore);
  expect(lines(boot, 'mm-cases: the store keeps')).toEqual(['mm-cases: the store keeps 0 pages']);
}

/** The checksum mm-touch must print, computed here from the same seeds, outside the machine. */
function touchChecksum(pages: number, writes: number, seed: number): string {
  const random = seeded(seed);
  const memory = new Uint32Array(pages * 1024);
  for (let i = 0; i < writes; i++) {
    const word = random(pages * 1024);
    memory[word] = random();
  }
  let hash = 0x811c9dc5;
  for (const value of memory) hash = Math.imul(hash ^ value, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

describe('self-paging with libhurd-mm', () => {
  it('serves each case as documented, ends segmentation faults with status 139, and leaks nothing', async () => {
    const boot = await bootMm({ programs: [{ name: 'cases', program: 'mm-cases', args: 'frames' }], physmem: 'quiet check' }, { ramBytes: RAM, watchMappings: true });
    expect(problemsOf(boot)).toEqual([]);
    expect(boot.mappings.checks).toBeGreaterThan(100);
    const status = exited(boot);
    for (const name of ['unmapped-read', 'readonly-write', 'munmap', 'mprotect', 'write-after-protect', 'threads']) expect(status[name], name).toBe('exited with status 139');
    for (const name of ['refusals', 'advice', 'discard', 'clock', 'mru', 'fifo', 'function', 'region-policy']) expect(status[name], name).toBe('exited with status 0');
    const out = boot.output;
    // Segmentation faults: outside every region, against its rights, after munmap and mprotect.
    expect(out).toMatch(/cases\/\d+: segmentation fault: read at 0x10010000 \(no region there\)/);
    expect(out).toMatch(/cases\/\d+: segmentation fault: write at 0x10000000 \(the region is read-only\)/);
    expect(out).toMatch(/cases\/\d+: segmentation fault: read at 0x10004000 \(no region there\)/);
    expect(out).toMatch(/cases\/\d+: segmentation fault: read at 0x10000000 \(the region is inaccessible\)/);
    expect(out).toMatch(/cases\/\d+: segmentation fault: write at 0x10002000 \(the region is read-only\)/);
    // A thread created after startPager is paged by libhurd-mm, and faults where nothing is.
    expect(out).toMatch(/cases\/\d+: segmentation fault: read at 0x07000000 \(no region there\)/);
    expect(lines(boot, 'threads: ')).toEqual(['threads: worker wrote 16 pages, sum 360, 32 faults, 16 page-outs']);
    // Regions split by munmap and mprotect keep their pages' data; the hole maps again, fresh.
    expect(lines(boot, 'munmap: ')).toEqual(['munmap: outer pages sum 621, resident 11100111', 'munmap: hole mapped again at +3 reads 0']);
    expect(lines(boot, 'mprotect: ')).toEqual(['mprotect: read-only, sum 42', 'mprotect: middle writable again: 1000 2000, last 21', 'mprotect: protect unmapped: ENOMEM', 'mprotect: page 0 inaccessible']);
    expect(lines(boot, 'write-after-protect: ')).toEqual(['write-after-protect: writes beside it']);
    expect(lines(boot, 'refusals: ')).toEqual([
      'refusals: before startPager: ENOSYS',
      'refusals: twice: EBUSY',
      'refusals: size 0 EINVAL, unaligned EINVAL, write-only EINVAL, kind EINVAL, policy EINVAL, overlap EINVAL, image EINVAL, utcb EINVAL, protect hole ENOMEM, advice EINVAL, advise hole ENOMEM, munmap unaligned EINVAL, munmap nothing ok',
      'refusals: still works: 42',
    ]);
    // The hints: willneed pages in (no faults afterwards), dontneed drops (zeros), sequential reads ahead.
    expect(lines(boot, 'advice: ')).toEqual([
      'advice: willneed: 8 prefetched, 8 page-ins, resident 1111111100000000',
      'advice: then reading them: sum 36, 0 faults',
      'advice: dontneed: resident 0000111100000000, page 0 reads 0, page 5 reads 6',
      'advice: sequential: 40 pages read with 14 faults, 26 prefetched',
    ]);
    // Discardable pages go under pressure without a write; their loss is reported once.
    expect(lines(boot, 'discard: ')).toEqual(['discard: after writing 16: 8 discards, 0 page-outs; reading back: 0 intact, 16 reported lost; 0 page-outs, 0 page-ins', 'discard: reported again: 0']);
    // Victims, with the MMU's referenced bits: clock's second chance, mru, fifo, the program's function.
    expect(lines(boot, 'clock: ')).toEqual(['clock: after 4: 01111000', 'clock: after 1, 5: 01011100']);
    expect(lines(boot, 'mru: ')).toEqual(['mru: after 0-4: 11101000']);
    expect(lines(boot, 'fifo: ')).toEqual(['fifo: after 0-3, 0, 4: 01111000']);
    expect(lines(boot, 'function: ')).toEqual(['function: offered [0r 1rd 2r 3r] [0 1d 2 4r], resident 11100100']);
    // Two levels: the task's clock picks the region, the region's policy the page; a split
    // region's pages stay with their policy.
    const regionPolicy = lines(boot, 'region-policy: ');
    expect(regionPolicy[0]).toBe('region-policy: table 11111000 index 01');
    const [, table, index] = /table (\d+) index (\d+)/.exec(regionPolicy[1]!)!;
    expect((table! + index!).split('').filter((c) => c === '1').length).toBe(6);
    expect(table!.slice(5)).toBe('111');
    expectFramesBack(boot);
  }, 120_000);

  it('the same program under the central pager: same segmentation faults and results, no say in evictions', async () => {
    const boot = await bootMm({ programs: [{ name: 'cases', program: 'mm-cases', args: 'set=central frames' }], physmem: 'quiet check', central: 64 }, { ramBytes: RAM, watchMappings: true });
    expect(problemsOf(boot)).toEqual([]);
    const status = exited(boot);
    for (const name of ['unmapped-read', 'readonly-write', 'munmap', 'mprotect', 'write-after-protect', 'threads']) expect(status[name], name).toBe('exited with status 139');
    for (const name of ['refusals', 'advice', 'discard']) expect(status[name], name).toBe('exited with status 0');
    expect(boot.output).toMatch(/cases\/\d+: segmentation fault: write at 0x10000000 \(the region is read-only\)/);
    expect(boot.output).toMatch(/cases\/\d+: segmentation fault: read at 0x07000000 \(no region there\)/);
    expect(lines(boot, 'munmap: ')[0]).toBe('munmap: outer pages sum 621, resident 00000000');
    expect(lines(boot, 'refusals: ')[2]).toBe(
      'refusals: size 0 EINVAL, unaligned EINVAL, write-only EINVAL, kind EINVAL, policy EINVAL, overlap EINVAL, image EINVAL, utcb EINVAL, protect hole ENOMEM, advice EINVAL, advise hole ENOMEM, munmap unaligned EINVAL, munmap nothing ok',
    );
    // No discardable memory, no prefetching: the central pager decides alone.
    expect(lines(boot, 'discard: ')[0]).toBe('discard: after writing 16: 0 discards, 0 page-outs; reading back: 16 intact, 0 reported lost; 0 page-outs, 0 page-ins');
    expect(lines(boot, 'advice: ')[3]).toBe('advice: sequential: 40 pages read with 40 faults, 0 prefetched');
    expect(lines(boot, 'advice: ')[2]).toBe('advice: dontneed: resident 0000000000000000, page 0 reads 0, page 5 reads 6');
    expectFramesBack(boot);
  }, 120_000);
});

describe('data integrity under heavy paging', () => {
  const guarantee = Number(process.env.L4HURD_MM_GUARANTEE) || 16;
  const pages = guarantee * 8;
  const writes = pages * 8;
  for (const [pager, policy] of [
    ['self', 'clock'],
    ['self', 'fifo'],
    ['self', 'mru'],
    ['self', 'random'],
    ['central', 'clock'],
  ] as const) {
    it(`${pager === 'self' ? `self-paging, ${policy}` : 'the central pager'}: seeded writes over 8x the frames match the shadow and a checksum made outside the machine`, async () => {
      const seed = 1000 + policy.length;
      const boot = await bootMm({
        programs: [{ name: 'touch', program: 'mm-touch', args: `guarantee=${guarantee} factor=8 writes=${writes} seed=${seed} policy=${policy}` }],
        central: pager === 'central' ? guarantee : undefined,
      });
      expect(problemsOf(boot)).toEqual([]);
      expect(boot.result.exitStatus).toBe(0);
      expect(lines(boot, 'mm-touch: ')).toEqual([`mm-touch: ${pages} pages, ${writes} writes, checksum ${touchChecksum(pages, writes, seed)}, 0 words wrong`]);
      const stats = boot.stats.get('touch')!;
      // Every page but the resident ones went out and most came back.
      expect(stats.pageOuts).toBeGreaterThanOrEqual(pages - guarantee);
      expect(stats.pageIns).toBeGreaterThan(writes / 2);
      expect(stats.framesHeld).toBe(guarantee);
    }, 120_000);
  }
});

describe('reclaim', () => {
  it('a self-paging task gives its extra frames back before the deadline and keeps its data; a task that ignores the request is revoked', async () => {
    const boot = await bootMm({ programs: [{ name: 'reclaim', program: 'mm-reclaim', args: 'guarantee=32 extra=300 ignorer=300 short=400' }], physmem: 'quiet check reclaim-us=50000' }, { ramBytes: RAM, watchMappings: true });
    expect(problemsOf(boot)).toEqual([]);
    const out = lines(boot, 'mm-reclaim: ');
    expect(out).toContain('mm-reclaim: compliant holds 332 frames, 300 extra, 0 page-outs');
    expect(out).toContain('mm-reclaim: compliant answered 1 reclaim requests, gave back 300 frames, holds 32, 300 page-outs');
    expect(out).toContain('mm-reclaim: compliant 332 of 332 pages intact');
    expect(out).toContain('mm-reclaim: ignorer asked for 101 frames, ignores it');
    expect(out).toContain('mm-reclaim: parent compliant exited with status 0');
    expect(out).toContain('mm-reclaim: parent free as at the start, guaranteed 0');
    const counters = boot.physmem.counters;
    // The compliant task's 300 frames came back on time; only the ignorer's were taken.
    expect(counters.framesReclaimed).toBe(300);
    expect(counters.framesRevoked).toBe(101);
  }, 120_000);
});

describe('hostile clients of the store and the central pager', () => {
  const ops = Number(process.env.L4HURD_MM_HOSTILE_OPS) || 300;
  for (const central of [false, true]) {
    it(`serve on through seeded random requests, and a paging task beside them keeps its data${central ? ' (central pager)' : ''}`, async () => {
      const boot = await bootMm(
        {
          programs: [
            { name: 'hostile', program: 'mm-hostile', args: `ops=${ops} seed=${central ? 7 : 8}` },
            { name: 'touch', program: 'mm-touch', args: 'guarantee=16 factor=4 seed=3' },
          ],
          physmem: 'quiet check',
          central: central ? 16 : undefined,
        },
        { ramBytes: RAM },
      );
      expect(problemsOf(boot)).toEqual([]);
      expect(boot.result.exitStatus, boot.output).toBe(0);
      const [line] = lines(boot, 'mm-hostile: ');
      const [, answered, refused] = /(\d+) answered \((\d+) refused\)/.exec(line!)!;
      expect(Number(answered)).toBeGreaterThan(ops / 2);
      expect(Number(refused)).toBeGreaterThan(ops / 4);
      expect(lines(boot, 'mm-touch: ')).toEqual([`mm-touch: 64 pages, 1024 writes, checksum ${touchChecksum(64, 1024, 3)}, 0 words wrong`]);
      expect(boot.stats.get('touch')!.mode).toBe(central ? 2 : 1);
    }, 120_000);
  }
});
