// The demo programs the benchmarks run, checked for what they do and for determinism.
import { describe, expect, it } from 'vitest';
import { PINGPONG_END, PINGPONG_START, pingPong } from '../../servers/demo/pingpong.ts';
import { pageTouch } from '../../servers/demo/page-touch.ts';
import { STRING_PINGPONG_END, STRING_PINGPONG_START, stringPingPong } from '../../servers/demo/string-pingpong.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { boot } from './support.ts';

describe('demo programs', () => {
  for (const sameSpace of [false, true]) {
    it(`pingpong ${sameSpace ? 'within a space' : 'between spaces'}: two IPCs per round, no faults`, () => {
      const b = boot(pingPong({ rounds: 500, words: 8, sameSpace }));
      expect(b.run().reason).toBe('idle');
      expect(b.output()).toBe(PINGPONG_START + PINGPONG_END);
      // The start message, then a call and a reply per round.
      expect(b.kernel.counters.ipcs).toBe(1 + 2 * 500);
      expect(b.kernel.counters.ipcErrors).toBe(0);
      expect(b.kernel.counters.pageFaults).toBe(0);
      // Between spaces every IPC switches CR3; within a space none does after the first.
      const cr3Writes = b.machine.cpu.counters.cr3Writes;
      if (sameSpace) expect(cr3Writes).toBeLessThan(5);
      else expect(cr3Writes).toBeGreaterThanOrEqual(1000);
      expect(b.kernel.checkInvariants()).toEqual([]);
      expect(b.machine.cpu.counters.staleTranslations).toBe(0);
    });
  }

  for (const bytes of [4096, 10000]) {
    it(`string pingpong of ${bytes} bytes: every call copies its string into the other space, no faults in the rounds`, () => {
      const b = boot(stringPingPong({ rounds: 50, bytes }), { sigma0 });
      expect(b.run().reason).toBe('idle');
      expect(b.output().endsWith(STRING_PINGPONG_START + STRING_PINGPONG_END)).toBe(true);
      expect(b.kernel.counters.ipcErrors).toBe(0);
      expect(b.kernel.counters.stringItems).toBe(50);
      expect(b.kernel.counters.stringBytes).toBe(50 * bytes);
      expect(b.kernel.counters.stringFaults).toBe(0);
      // The server's buffer (its frames are the client's pages from 0x01100000, which sigma0
      // maps 1:1) holds the client's words, written at each page's start.
      const server = b.kernel.threadById(((310 << 14) | 1) >>> 0)!;
      for (let offset = 0; offset < bytes; offset += 4096) expect(b.machine.physical.read32(0x01100000 + offset)).toBe((0xc0de0000 + offset) >>> 0);
      expect(server.space.id).not.toBe(b.kernel.rootSpace!.id);
      expect(b.kernel.checkInvariants()).toEqual([]);
      expect(b.machine.cpu.counters.staleTranslations).toBe(0);
    });
  }

  it('page touch with a pool: one sigma0 request, then one map item per fault', () => {
    const b = boot(pageTouch({ pages: 300, pool: true, report: true }), { sigma0, ramBytes: 128 * 1024 * 1024 });
    b.run();
    expect(b.output()).toContain('300 pages written and read back');
    expect(b.kernel.counters.pageFaults).toBe(300);
    // sigma0 maps the 512-page pool (300 rounded up to a power of two), the pager maps 300 pages.
    expect(b.kernel.counters.pagesMapped).toBe(512 + 300);
    expect(b.kernel.checkInvariants()).toEqual([]);
  });

  it('the same image gives the same output, counters and cycles on every run', () => {
    const once = (): unknown => {
      const b = boot(pageTouch({ pages: 200, report: true }), { sigma0 });
      b.run();
      return { output: b.output(), kernel: { ...b.kernel.counters }, mmu: b.machine.cpu.counters };
    };
    expect(once()).toEqual(once());
  });
});
