// physmem in a booted image: the seeds' worked examples and the whole client interface, with
// physmem checking its own accounting after every request and the mapping invariant checked
// on the machine afterwards.
import { describe, expect, it } from 'vitest';
import { bootHurd, linesOf, type HurdBoot } from '../support/hurd.ts';

function expectClean(boot: HurdBoot): void {
  expect(boot.result.exitStatus, boot.output).toBe(0);
  expect(boot.output).not.toMatch(/invariant violated|internal error|halted/);
  const { stats } = boot.physmem;
  expect(stats.free + stats.allocated + stats.reserved).toBe(stats.total);
  expect(boot.mappings.problems).toEqual([]);
  expect(boot.mappings.checks).toBeGreaterThan(10);
  expect(boot.mappings.checked).toBeGreaterThan(0);
  expect(boot.result.kernel.checkInvariants()).toEqual([]);
  expect(boot.result.machine.cpu.counters.staleTranslations).toBe(0);
}

describe('physmem: one task uses the whole interface', () => {
  it('maps a page, copies copy-on-write and shared, locks, unmaps, and refuses what it must', async () => {
    const boot = await bootHurd([{ name: 'ops', entry: 'test/servers/programs/physmem-ops.ts' }], { physmem: 'check' });
    const lines = linesOf(boot.output, 'ops: ');
    expect(lines.slice(1)).toEqual([
      'ops: create version 0',
      'ops: allocate version 1',
      'ops: after allocate free=4 reserved=4',
      'ops: map version 2',
      'ops: read back a0000000 a0000001 a0000002 a0000003',
      'ops: info frames=4 version=2 locked=false weak=false',
      'ops: copy version 2 source version 3',
      'ops: copy reads a0000001',
      'ops: after writes a=a0000001,aaaa0002 b=bbbb0001,a0000002',
      'ops: shared a3=cccc0003',
      'ops: create_from a0000001 aaaa0002',
      'ops: copy_gather cccc0003 a0000000',
      'ops: lock_physical 4 frames, page aligned, 4 distinct',
      'ops: locked: deallocate EBUSY, destroy EBUSY, lock EBUSY, copy over EBUSY',
      'ops: unlock version 11',
      'ops: unmap_all version 12',
      'ops: after unmap_all reads aaaa0002',
      'ops: mapped again reads a0000000',
      'ops: allocated twice EINVAL',
      'ops: deallocate unallocated EINVAL',
      'ops: map unallocated EINVAL',
      'ops: map unaligned EINVAL',
      'ops: map without read EINVAL',
      'ops: map over the UTCB area EINVAL',
      'ops: forged handle EBADF',
      'ops: too many frames ENOMEM',
      'ops: control without the capability EPERM',
      'ops: unlock when unlocked EINVAL',
      'ops: grant to no task ESRCH',
      'ops: stale handle EBADF',
      'ops: negotiated 100, guaranteed 100 more',
    ]);
    expectClean(boot);
  });
});

describe('physmem: the worked examples between two tasks', () => {
  const two = (scenario: string, extra = ''): Promise<HurdBoot> =>
    bootHurd([{ name: 'two', entry: 'test/servers/programs/physmem-two.ts', commandLine: `scenario=${scenario}${extra}` }], { physmem: 'check' });

  it('sharing a container by a weak reference: the writes of each are seen by the other', async () => {
    const boot = await two('share');
    expect(linesOf(boot.output, 'two: ')).toEqual([
      'two: child reads a0',
      'two: parent reads 22222222 the child wrote',
      'two: child reads 33333333 after the parent wrote',
      'two: parent child task died: cause 0 status 0',
    ]);
    expectClean(boot);
  });

  it('copy-on-write: a write on either side leaves the other side\'s data intact, in both directions', async () => {
    const boot = await two('cow');
    expect(linesOf(boot.output, 'two: ')).toEqual([
      'two: child copy reads a0 a1',
      'two: parent after the child wrote, reads a0 a1',
      'two: parent wrote its second page, reads a0 a2',
      'two: child after the parent wrote, reads b0 a1',
      'two: parent child task died: cause 0 status 0',
    ]);
    expect(boot.physmem.counters.cowBreaks).toBeGreaterThanOrEqual(2);
    expectClean(boot);
  });

  it('lock_physical: the frames\' physical addresses, and no other task may map until unlock', async () => {
    const boot = await two('lock');
    const lines = linesOf(boot.output, 'two: ');
    expect(lines[0]).toBe('two: child reads a0');
    const addresses = /^two: parent lock_physical ([0-9a-f]+) ([0-9a-f]+)$/.exec(lines[1]!)!.slice(1).map((h) => Number.parseInt(h, 16));
    // The addresses are the frames the parent wrote: RAM there holds what it wrote.
    expect(addresses.map((a) => boot.result.machine.physical.read32(a))).toEqual([0xa0, 0xa1]);
    expect(lines.slice(2)).toEqual([
      'two: child map while locked: EBUSY',
      'two: child lock while locked: EBUSY',
      'two: parent unlock version 6',
      'two: child after unlock reads a0 a1',
      'two: parent child task died: cause 0 status 0',
    ]);
    expectClean(boot);
  });

  it('a lock held past the container\'s lock time is broken by physmem, the version incremented', async () => {
    // 100,000 cycles is 137 µs on the p3 (733 MHz); the parent waits 1 ms.
    const boot = await two('lockbreak', ' lock-cycles=100000');
    expect(linesOf(boot.output, 'two: ')).toEqual([
      'two: parent locked, version 3, locked true',
      'two: parent after the lock time: locked false, version 4',
      'two: parent unlock: EINVAL',
    ]);
    expect(boot.physmem.counters.locksBroken).toBe(1);
    expectClean(boot);
  });
});
