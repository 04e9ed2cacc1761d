// Guaranteed and extra frames in a booted image: a task's allocation within its guarantee
// succeeds by taking extra frames back from others; a compliant task gives them back in time
// and runs on; one that does not is revoked (and killed under the kill policy); its neighbour
// is unaffected; the sum of guarantees never exceeds the box.
import { describe, expect, it } from 'vitest';
import { bootHurd, linesOf, type HurdBoot } from '../support/hurd.ts';

/** 16 MiB of RAM: about 2,900 frames for physmem. */
const RAM = 16 * 1024 * 1024;

function reclaim(comply: string, policyOptions = ''): Promise<HurdBoot> {
  return bootHurd([{ name: 'reclaim', entry: 'test/servers/programs/reclaim.ts', commandLine: `guarantee=600 comply=${comply}` }], {
    ramBytes: RAM,
    physmem: 'check reclaim-us=2000',
    policy: policyOptions,
  });
}

function expectClean(boot: HurdBoot): void {
  expect(boot.output).not.toMatch(/invariant violated|internal error|halted/);
  expect(boot.mappings.problems).toEqual([]);
  const { stats } = boot.physmem;
  expect(stats.free + stats.allocated + stats.reserved).toBe(stats.total);
  expect(boot.result.kernel.checkInvariants()).toEqual([]);
}

describe('guarantees and reclaim', () => {
  it('a compliant task gives frames back before the deadline and runs on; the worker gets its guarantee', async () => {
    const boot = await reclaim('yes');
    const lines = linesOf(boot.output, 'reclaim: ');
    expect(lines).toContain('reclaim: worker guarantee 600 of 600 asked');
    expect(lines).toContain('reclaim: worker allocated 600 frames within its guarantee');
    // The task server holds a guarantee of 64 frames; the worker can have all the rest.
    expect(lines).toContain('reclaim: worker asking for everything gets 64 less than the box, guaranteed in all the whole box');
    const asked = lines.find((l) => l.startsWith('reclaim: hog asked for'))!;
    const frames = Number(/asked for (\d+)/.exec(asked)![1]);
    expect(frames).toBeGreaterThan(0);
    expect(lines).toContain(`reclaim: hog gave back ${frames} frames, holds ${Number(/holds (\d+) extra/.exec(lines.find((l) => l.includes('extra frames'))!)![1]) - frames}`);
    // The hog gave the frames back itself: nothing was revoked, and it ran to its end.
    expect(boot.physmem.counters.framesRevoked).toBe(0);
    expect(boot.physmem.counters.framesReclaimed).toBe(frames);
    expect(lines).toContain('reclaim: parent hog exited with status 0');
    expect(lines).toContain('reclaim: neighbour 16 of 16 pages intact');
    expect(lines).toContain('reclaim: parent after: free as at the start, guaranteed 0');
    expectClean(boot);
  });

  it('a task that ignores the request loses the frames at the deadline, and runs on under revoke-only', async () => {
    const boot = await reclaim('no');
    const lines = linesOf(boot.output, 'reclaim: ');
    expect(lines.some((l) => /^reclaim: hog asked for \d+ frames, ignores it$/.test(l))).toBe(true);
    expect(lines).toContain('reclaim: worker allocated 600 frames within its guarantee');
    expect(boot.physmem.counters.framesRevoked).toBeGreaterThan(0);
    expect(boot.physmem.counters.tasksKilled).toBe(0);
    expect(lines).toContain('reclaim: parent hog exited with status 0');
    expect(lines).toContain('reclaim: neighbour 16 of 16 pages intact');
    expect(lines).toContain('reclaim: parent after: free as at the start, guaranteed 0');
    expectClean(boot);
  });

  it('under the kill policy it is revoked and destroyed; its neighbour is unaffected', async () => {
    const boot = await reclaim('no', 'noncompliant=kill');
    const lines = linesOf(boot.output, 'reclaim: ');
    expect(lines).toContain('reclaim: worker allocated 600 frames within its guarantee');
    expect(lines).toContain('reclaim: parent hog killed');
    expect(boot.physmem.counters.tasksKilled).toBe(1);
    expect(lines).toContain('reclaim: neighbour 16 of 16 pages intact');
    expect(lines).toContain('reclaim: parent after: free as at the start, guaranteed 0');
    expectClean(boot);
  });

  it('a task that registered no thread never complies: revoked at once', async () => {
    const boot = await reclaim('none');
    const lines = linesOf(boot.output, 'reclaim: ');
    expect(lines).toContain('reclaim: worker allocated 600 frames within its guarantee');
    expect(lines.some((l) => l.startsWith('reclaim: hog asked'))).toBe(false);
    expect(boot.physmem.counters.framesRevoked).toBeGreaterThan(0);
    expectClean(boot);
  });
});
