import { describe, expect, it } from 'vitest';
import { sigma0 } from '../../servers/sigma0.ts';
import { pageTouch } from '../../servers/demo/page-touch.ts';
import { boot } from './support.ts';

describe('page touch', () => {
  it('a task writes 1,000 pages; each fault is served by a pager thread with a map item', () => {
    const b = boot(pageTouch({ pages: 1000, report: true }), { sigma0 });
    const result = b.run();
    expect(b.output()).toContain('page touch: 1000 pages written and read back, sum 499500');
    expect(result.reason).toBe('idle');
    expect(b.kernel.counters.pageFaults).toBe(1000);
    expect(b.machine.cpu.counters.pageFaults).toBe(1000);
    expect(b.kernel.counters.pagesMapped).toBe(2000); // sigma0 -> pager, pager -> toucher
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});
