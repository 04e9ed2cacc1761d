// physmem's semantics without the machine: the container model (servers/physmem/containers.ts)
// driven directly, with a frame pool of a few frames, checking results, refusals, versions,
// effects, accounting, reclaim and locks, and the full self-check after every step of a
// seeded random run.
import { describe, expect, it } from 'vitest';
import { Errno, Refusal } from '../../servers/errno.ts';
import { checkPhysmem } from '../../servers/physmem/check.ts';
import { Physmem, type Effect } from '../../servers/physmem/containers.ts';
import { FramePool } from '../../servers/physmem/frames.ts';
import { SeededRandom, sizeFromEnvironment, timeoutFor } from '../support/random.ts';

const POLICY = 4;
const TASK_SERVER = 3;
const A = 5;
const B = 6;
const C = 7;
const thread = (task: number, n = 2000): number => ((n << 14) | task) >>> 0;

function model(frames = 16, options: Partial<{ reclaimTime: number; defaultLockTime: number }> = {}): Physmem {
  const pool = new FramePool();
  pool.add(0x01000000, frames);
  pool.seal();
  const m = new Physmem(pool, { controlTask: POLICY, taskServer: TASK_SERVER, reclaimTime: options.reclaimTime ?? 1000, defaultLockTime: options.defaultLockTime ?? 5000 });
  for (const task of [1, 2, TASK_SERVER, POLICY, A, B, C]) m.live.add(task);
  return m;
}

/** The POSIX name `f` is refused with, or 'ok'. */
function refusal(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return Object.entries(Errno).find(([, n]) => n === error.errno)![0];
  }
}

function drain(m: Physmem): Effect[] {
  return m.effects.splice(0);
}

function handleOf(created: ReturnType<Physmem['create']>): number {
  if (created === 'held') throw new Error('held');
  return created.handle;
}

/** Maps every page of [start, start+count) for writing or reading, as the server would. */
function mapAll(m: Physmem, task: number, cap: number, start: number, count: number, rights: number): number[] {
  const container = m.beginMap(task, cap, start, count, 0x10000000, rights);
  const frames: number[] = [];
  for (let i = start; i < start + count; i++) frames.push(m.mapPage(container, task, i, rights)!.number);
  return frames;
}

describe('physmem model: operations', () => {
  it('create, allocate, map, info, deallocate, destroy with their versions and accounting', () => {
    const m = model(8);
    const cap = handleOf(m.create(A, thread(A), 0, 0));
    expect(m.info(A, cap)).toEqual({ frames: 0, version: 0, locked: false, weak: false, giver: A });
    expect(m.allocate(A, thread(A), cap, 0, 3, {})).toBe(1);
    // Allocated lazily: reserved until first use.
    expect(m.stats()).toEqual({ total: 8, free: 5, reserved: 3, guaranteed: 0, allocated: 0, extra: 3 });
    const container = m.beginMap(A, cap, 0, 3, 0x20000000, 6);
    expect(container.version).toBe(2);
    const frames = [0, 1, 2].map((i) => m.mapPage(container, A, i, 6)!.number);
    expect(frames).toEqual([0, 1, 2]);
    // Clean frames from boot need no zeroing.
    expect(drain(m)).toEqual([]);
    expect(m.stats()).toMatchObject({ free: 5, reserved: 0, allocated: 3 });
    expect(m.deallocate(A, cap, 1, 1)).toBe(3);
    const effects = drain(m);
    expect(effects.map((e) => e.kind)).toEqual(['revoke']);
    expect(m.info(A, cap).frames).toBe(2);
    m.destroy(A, cap);
    expect(refusal(() => m.info(A, cap))).toBe('EBADF');
    expect(m.stats()).toMatchObject({ free: 8, reserved: 0, allocated: 0 });
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('a reused frame is zeroed when handed out again', () => {
    const m = model(1);
    const cap = handleOf(m.create(A, thread(A), 1, 0));
    mapAll(m, A, cap, 0, 1, 6);
    m.deallocate(A, cap, 0, 1);
    drain(m);
    m.allocate(A, thread(A), cap, 0, 1, {});
    mapAll(m, A, cap, 0, 1, 4);
    expect(drain(m).map((e) => e.kind)).toEqual(['zero']);
    expect(m.counters.framesZeroed).toBe(1);
  });

  it('refuses what it must, with the POSIX names of the client interface', () => {
    const m = model(4);
    const cap = handleOf(m.create(A, thread(A), 2, 0));
    expect(refusal(() => m.allocate(A, thread(A), cap, 1, 1, {}))).toBe('EINVAL'); // allocated twice
    expect(refusal(() => m.deallocate(A, cap, 3, 1))).toBe('EINVAL'); // never allocated
    m.deallocate(A, cap, 1, 1);
    expect(refusal(() => m.deallocate(A, cap, 1, 1))).toBe('EINVAL'); // deallocated twice
    expect(refusal(() => m.allocate(A, thread(A), cap, 0, 0, {}))).toBe('EINVAL');
    expect(refusal(() => m.allocate(A, thread(A), cap, (1 << 20) - 1, 2, {}))).toBe('EINVAL');
    expect(refusal(() => m.allocate(A, thread(A), cap, 5, 10, {}))).toBe('ENOMEM');
    expect(refusal(() => m.beginMap(A, cap, 0, 1, 0x1001, 6))).toBe('EINVAL'); // unaligned
    expect(refusal(() => m.beginMap(A, cap, 0, 1, 0x10000000, 2))).toBe('EINVAL'); // no read right
    expect(refusal(() => m.beginMap(A, cap, 0, 1, 0xbf000000, 6))).toBe('EINVAL'); // kernel areas
    expect(refusal(() => m.info(A, 12345))).toBe('EBADF'); // forged
    expect(refusal(() => m.info(B, cap))).toBe('EBADF'); // foreign: B has no such capability
    expect(refusal(() => m.grantAccess(A, cap, 99))).toBe('ESRCH');
    expect(refusal(() => m.setGuarantee(A, A, 1))).toBe('EPERM'); // no control capability
    expect(refusal(() => m.taskDied(A, B))).toBe('EPERM'); // only the task server reports deaths
    expect(refusal(() => m.unlock(A, cap))).toBe('EINVAL');
    expect(refusal(() => m.onReclaim(A, thread(B)))).toBe('EINVAL');
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('weak references may map, lock, copy and share but not destroy, allocate, deallocate or grant', () => {
    const m = model(8);
    const cap = handleOf(m.create(A, thread(A), 2, 0));
    const weak = m.share(A, cap, B);
    expect(m.info(B, weak)).toMatchObject({ frames: 2, weak: true, version: 2, giver: A });
    for (const f of [() => m.destroy(B, weak), () => m.allocate(B, thread(B), weak, 4, 1, {}), () => m.deallocate(B, weak, 0, 1), () => m.grantAccess(B, weak, C)]) {
      expect(refusal(f)).toBe('EPERM');
    }
    expect(mapAll(m, B, weak, 0, 2, 4)).toEqual([0, 1]);
    const further = m.share(B, weak, C);
    expect(m.info(C, further)).toMatchObject({ weak: true, giver: B });
    const target = handleOf(m.create(B, thread(B), 2, 0));
    expect(refusal(() => m.copy(B, weak, 0, target, 0, 2, false))).toBe('ok');
    expect(refusal(() => m.lock(B, weak, false, false, 0))).toBe('ok');
    expect(refusal(() => m.unlock(C, further))).toBe('EPERM'); // the lock is B's
    expect(refusal(() => m.unlock(B, weak))).toBe('ok');
    // The weak reference dies with the container.
    m.destroy(A, cap);
    expect(refusal(() => m.info(B, weak))).toBe('EBADF');
    expect(refusal(() => m.info(C, further))).toBe('EBADF');
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('grant_access gives a full reference, which may destroy', () => {
    const m = model(4);
    const cap = handleOf(m.create(A, thread(A), 1, 0));
    const full = m.grantAccess(A, cap, B);
    expect(m.info(B, full)).toMatchObject({ weak: false, version: 2, giver: A });
    m.allocate(B, thread(B), full, 1, 1, {});
    // Frames are charged to the owner, whoever allocates them.
    expect(m.clients.get(A)!.committed).toBe(2);
    m.destroy(B, full);
    expect(refusal(() => m.info(A, cap))).toBe('EBADF');
    expect(m.clients.get(A)!.committed).toBe(0);
  });
});

describe('physmem model: contiguous and low frames', () => {
  it('contiguous allocations get consecutive physical frames, below-limit ones frames under the limit', () => {
    const pool = new FramePool();
    pool.add(0x00200000, 2);
    pool.add(0x01000000, 4);
    pool.seal();
    const m = new Physmem(pool, { controlTask: POLICY, taskServer: TASK_SERVER, reclaimTime: 1000, defaultLockTime: 1000 });
    const cap = handleOf(m.create(A, thread(A), 0, 0));
    // Frames are filled at once, physically contiguous.
    m.allocate(A, thread(A), cap, 0, 3, { contiguous: true });
    const container = m.clients.get(A)!.containers[0]!;
    expect([0, 1, 2].map((i) => container.slots.get(i)!.frame!.physical)).toEqual([0x01000000, 0x01001000, 0x01002000]);
    expect(m.stats().reserved).toBe(0);
    // Two free runs of one and two frames are left: no contiguous run of three.
    expect(refusal(() => m.allocate(A, thread(A), cap, 10, 3, { contiguous: true }))).toBe('ENOMEM');
    expect(refusal(() => m.allocate(A, thread(A), cap, 10, 3, { below: 0x00300000 }))).toBe('ENOMEM');
    m.allocate(A, thread(A), cap, 10, 2, { below: 0x00300000 });
    expect([10, 11].map((i) => container.slots.get(i)!.frame!.physical)).toEqual([0x00200000, 0x00201000]);
    expect(checkPhysmem(m)).toEqual([]);
  });
});

describe('physmem model: copies', () => {
  it('a private copy shares frames copy-on-write: write access goes, a write map copies', () => {
    const m = model(8);
    const a = handleOf(m.create(A, thread(A), 2, 0));
    expect(mapAll(m, A, a, 0, 2, 6)).toEqual([0, 1]);
    const b = handleOf(m.create(A, thread(A), 0, 0));
    drain(m);
    expect(m.copy(A, a, 0, b, 0, 2, false)).toBe(1);
    // Both frames are now shared: every mapping of them loses write access.
    expect(drain(m)).toEqual([
      { kind: 'revoke', frame: m.pool.frames[0], rights: 2 },
      { kind: 'revoke', frame: m.pool.frames[1], rights: 2 },
    ]);
    expect(m.pool.frames[0]!.pages).toBe(2);
    // A read map of either side maps the shared frame; a write map copies it first.
    expect(mapAll(m, A, b, 0, 1, 4)).toEqual([0]);
    expect(mapAll(m, A, b, 0, 1, 6)).toEqual([2]);
    expect(drain(m).map((e) => e.kind)).toEqual(['copy', 'revoke']);
    expect(m.counters.cowBreaks).toBe(1);
    // The source keeps frame 0, now its own again: writing it copies nothing.
    expect(mapAll(m, A, a, 0, 1, 6)).toEqual([0]);
    expect(drain(m)).toEqual([]);
    // Frame 1 is still shared: the source's write breaks it from its side.
    expect(mapAll(m, A, a, 1, 1, 6)).toEqual([3]);
    expect(m.counters.cowBreaks).toBe(2);
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('a shared copy puts the same page in both containers; copying over a slot releases its page', () => {
    const m = model(8);
    const a = handleOf(m.create(A, thread(A), 1, 0));
    mapAll(m, A, a, 0, 1, 6);
    const b = handleOf(m.create(B, thread(B), 1, 0));
    const weak = m.share(A, a, B);
    m.copy(B, weak, 0, b, 0, 1, true);
    expect(m.pool.frames[0]!.pages).toBe(1);
    // Writing through either maps the one frame: no copy.
    expect(mapAll(m, B, b, 0, 1, 6)).toEqual([0]);
    expect(m.counters.cowBreaks).toBe(0);
    // Destroying the source leaves the page to the copy.
    m.destroy(A, a);
    expect(m.pool.frames[0]!.pages).toBe(1);
    expect(m.info(B, b).frames).toBe(1);
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('copying within one container, overlapping, copies what was there', () => {
    const m = model(8);
    const a = handleOf(m.create(A, thread(A), 3, 0));
    const before = mapAll(m, A, a, 0, 3, 6);
    m.copy(A, a, 0, a, 1, 2, false);
    // Slot 1 now has slot 0's frame, slot 2 slot 1's old frame; slot 1's own page went away.
    const c = m.clients.get(A)!.containers[0]!;
    expect([0, 1, 2].map((i) => c.slots.get(i)!.frame!.number)).toEqual([before[0], before[0], before[1]]);
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('create_from and copy_gather copy the frames asked for', () => {
    const m = model(16);
    const a = handleOf(m.create(A, thread(A), 4, 0));
    const frames = mapAll(m, A, a, 0, 4, 6);
    const from = m.createFrom(A, a, 1, 2);
    const fromContainer = m.clients.get(A)!.references.get(from.handle)!.container;
    expect([0, 1].map((i) => fromContainer.slots.get(i)!.frame!.number)).toEqual([frames[1], frames[2]]);
    const g = handleOf(m.create(A, thread(A), 0, 0));
    m.copyGather(A, a, [3, 0, 3], g, 10);
    const gathered = m.clients.get(A)!.references.get(g)!.container;
    expect([10, 11, 12].map((i) => gathered.slots.get(i)!.frame!.number)).toEqual([frames[3], frames[0], frames[3]]);
    expect(refusal(() => m.copyGather(A, a, [9], g, 0))).toBe('EINVAL');
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('copying from a locked container copies at once instead of sharing copy-on-write', () => {
    const m = model(8);
    const a = handleOf(m.create(A, thread(A), 1, 0));
    mapAll(m, A, a, 0, 1, 6);
    m.lock(A, a, false, true, 0);
    const b = handleOf(m.create(A, thread(A), 1, 0));
    drain(m);
    m.copy(A, a, 0, b, 0, 1, false);
    expect(drain(m).map((e) => e.kind)).toEqual(['copy']);
    expect(m.pool.frames[0]!.pages).toBe(1);
    // Nothing may be copied over a locked container.
    expect(refusal(() => m.copy(A, b, 0, a, 0, 1, false))).toBe('EBUSY');
    expect(checkPhysmem(m)).toEqual([]);
  });
});

describe('physmem model: locks', () => {
  it('lock_physical breaks copy-on-write, returns physical addresses; unmapOthers refuses other maps', () => {
    const m = model(8);
    const a = handleOf(m.create(A, thread(A), 2, 0));
    mapAll(m, A, a, 0, 2, 6);
    const b = handleOf(m.create(A, thread(A), 0, 0));
    m.copy(A, a, 0, b, 0, 2, false);
    const weak = m.share(A, a, B);
    drain(m);
    const { version, addresses } = m.lock(A, a, true, true, 100);
    expect(version).toBe(5);
    // Its frames are made its own (copies) before their addresses go out.
    expect(addresses).toEqual([0x01002000, 0x01003000]);
    expect(drain(m).filter((e) => e.kind === 'revoke' && e.rights === 7)).toHaveLength(4);
    expect(refusal(() => m.beginMap(B, weak, 0, 1, 0x10000000, 4))).toBe('EBUSY');
    expect(refusal(() => m.beginMap(A, a, 0, 1, 0x10000000, 4))).toBe('ok');
    for (const f of [() => m.deallocate(A, a, 0, 1), () => m.destroy(A, a), () => m.unmapAll(A, a), () => m.lock(B, weak, false, false, 0)]) expect(refusal(f)).toBe('EBUSY');
    expect(m.physicalAddresses(A, a)).toEqual(addresses);
    expect(refusal(() => m.physicalAddresses(B, weak))).toBe('EPERM');
    expect(m.unlock(A, a)).toBe(7);
    expect(refusal(() => m.beginMap(B, weak, 0, 1, 0x10000000, 4))).toBe('ok');
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('a lock held past the container\'s lock time is broken, and the version says so', () => {
    const m = model(4, { defaultLockTime: 500 });
    const a = handleOf(m.create(A, thread(A), 1, 0));
    const quick = handleOf(m.create(A, thread(A), 1, 200));
    m.lock(A, a, true, false, 1000);
    m.lock(A, quick, true, false, 1000);
    expect(m.nextDeadline()).toBe(1200);
    m.expire(1199);
    expect(m.info(A, quick).locked).toBe(true);
    m.expire(1200);
    expect(m.info(A, quick)).toMatchObject({ locked: false, version: 3 });
    expect(m.info(A, a).locked).toBe(true);
    m.expire(1500);
    expect(m.info(A, a).locked).toBe(false);
    expect(m.counters.locksBroken).toBe(2);
    expect(m.nextDeadline()).toBe(Infinity);
  });
});

describe('physmem model: guarantees and reclaim', () => {
  it('guarantees are set only through the control capability and never sum past the box', () => {
    const m = model(10);
    expect(m.setGuarantee(POLICY, A, 6)).toBe(6);
    expect(refusal(() => m.setGuarantee(POLICY, B, 5))).toBe('ENOMEM');
    expect(m.setGuarantee(POLICY, B, 4)).toBe(4);
    expect(m.setGuarantee(POLICY, A, 2)).toBe(2);
    expect(m.stats().guaranteed).toBe(6);
    expect(m.guaranteeInfo(POLICY, A)).toEqual({ guarantee: 2, committed: 0, total: 10, guaranteed: 6 });
  });

  it('beyond its guarantee a task gets extra frames only while frames are free', () => {
    const m = model(6);
    m.setGuarantee(POLICY, A, 2);
    const a = handleOf(m.create(A, thread(A), 5, 0));
    expect(m.clients.get(A)!.extra).toBe(3);
    expect(m.stats().extra).toBe(3);
    expect(refusal(() => m.allocate(A, thread(A), a, 5, 2, {}))).toBe('ENOMEM');
    expect(m.allocate(A, thread(A), a, 5, 1, {})).toBe(2);
  });

  it('an allocation within a guarantee waits while a compliant task gives frames back', () => {
    const m = model(6, { reclaimTime: 1000 });
    m.setGuarantee(POLICY, B, 4);
    const a = handleOf(m.create(A, thread(A), 5, 0)); // all extra
    m.onReclaim(A, thread(A, 3000));
    const b = handleOf(m.create(B, thread(B), 0, 0));
    expect(m.allocate(B, thread(B), b, 0, 3, {})).toBe('held');
    expect(m.held).toHaveLength(1);
    expect(m.unstamped).toBe(true);
    m.stamp(500);
    expect(m.notices).toEqual([{ kind: 'reclaim', task: A, thread: thread(A, 3000), frames: 2, deadline: 1500 }]);
    expect(m.nextDeadline()).toBe(1500);
    // Others may not take the frames owed to the held allocation.
    const c = handleOf(m.create(C, thread(C), 0, 0));
    m.deallocate(A, a, 0, 1);
    expect(m.answers).toEqual([]);
    expect(refusal(() => m.allocate(C, thread(C), c, 0, 1, {}))).toBe('ENOMEM');
    m.deallocate(A, a, 1, 1);
    expect(m.answers).toEqual([{ thread: thread(B), errno: 0, words: [1] }]);
    expect(m.clients.get(A)!.reclaim).toBeNull();
    expect(m.counters.framesReclaimed).toBe(2);
    expect(m.counters.framesRevoked).toBe(0);
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('a task that does not give frames back in time loses them, and is killed under the kill policy', () => {
    const m = model(6, { reclaimTime: 1000 });
    m.setReclaimAction(POLICY, true);
    m.setGuarantee(POLICY, B, 4);
    const a = handleOf(m.create(A, thread(A), 5, 0));
    m.onReclaim(A, thread(A, 3000));
    const b = handleOf(m.create(B, thread(B), 0, 0));
    expect(m.allocate(B, thread(B), b, 0, 3, {})).toBe('held');
    m.stamp(0);
    m.notices.length = 0;
    m.expire(999);
    expect(m.answers).toEqual([]);
    m.expire(1000);
    // The newest frames go first: a's slots 4 and 3.
    const container = m.clients.get(A)!.containers[0]!;
    expect([...container.slots.keys()].sort()).toEqual([0, 1, 2]);
    expect(container.version).toBe(2);
    expect(m.answers).toEqual([{ thread: thread(B), errno: 0, words: [1] }]);
    expect(m.notices).toEqual([{ kind: 'kill', task: A }]);
    expect(m.counters.framesRevoked).toBe(2);
    void a;
    expect(checkPhysmem(m)).toEqual([]);
  });

  it('a task that registered no reclaim thread is treated as one that never complies: at once', () => {
    const m = model(4);
    m.setGuarantee(POLICY, B, 2);
    handleOf(m.create(A, thread(A), 4, 0));
    const b = handleOf(m.create(B, thread(B), 0, 0));
    // The frames are revoked from A at once, so B's allocation is answered straight away.
    expect(m.allocate(B, thread(B), b, 0, 2, {})).toBe('held');
    expect(m.answers).toEqual([{ thread: thread(B), errno: 0, words: [1] }]);
    expect(m.clients.get(A)!.committed).toBe(2);
    expect(m.notices).toEqual([]);
  });

  it('a task that dies gives back everything: containers, references, guarantee', () => {
    const m = model(8);
    m.setGuarantee(POLICY, A, 3);
    const a = handleOf(m.create(A, thread(A), 3, 0));
    mapAll(m, A, a, 0, 3, 6);
    const weak = m.share(A, a, B);
    const b = handleOf(m.create(B, thread(B), 1, 0));
    m.grantAccess(B, b, A);
    m.taskDied(TASK_SERVER, A);
    expect(refusal(() => m.info(B, weak))).toBe('EBADF');
    expect(m.info(B, b).frames).toBe(1);
    expect(m.stats()).toMatchObject({ free: 7, guaranteed: 0 });
    expect(m.live.has(A)).toBe(false);
    expect(checkPhysmem(m)).toEqual([]);
  });
});

const DEFAULT_STEPS = 4000;
const STEPS = sizeFromEnvironment('L4HURD_PHYSMEM_STEPS', DEFAULT_STEPS);

describe('physmem model: a seeded random run keeps every invariant', () => {
  it(`${STEPS} random operations from three tasks, checked after each`, () => {
    const rng = new SeededRandom(7);
    const random = (n: number): number => rng.below(n);
    const m = model(64, { reclaimTime: 100, defaultLockTime: 300 });
    const tasks = [A, B, C];
    m.setGuarantee(POLICY, A, 20);
    m.setGuarantee(POLICY, B, 20);
    const outcomes = new Map<string, number>();
    let now = 0;
    const steps = STEPS;
    for (let step = 0; step < steps; step++) {
      const task = tasks[random(3)]!;
      const handles = [...(m.clients.get(task)?.references.keys() ?? [])];
      const anyHandle = (): number => (random(5) === 0 || handles.length === 0 ? random(40) : handles[random(handles.length)]!);
      const n = (): number => (random(10) === 0 ? random(1 << 21) : random(8));
      const op = random(14);
      const outcome = refusal(() => {
        switch (op) {
          case 0:
            return m.create(task, thread(task), random(4), random(3) * 100);
          case 1:
            return m.allocate(task, thread(task), anyHandle(), n(), 1 + random(4), random(6) === 0 ? { contiguous: true } : {});
          case 2:
            return m.deallocate(task, anyHandle(), n(), 1 + random(3));
          case 3: {
            const container = m.beginMap(task, anyHandle(), n(), 1 + random(3), 0x10000000, [4, 6, 7][random(3)]!);
            for (let i = 0; i < 3; i++) m.mapPage(container, task, random(8), random(2) ? 6 : 4);
            return container;
          }
          case 4:
            return m.copy(task, anyHandle(), n(), anyHandle(), n(), 1 + random(3), random(3) === 0);
          case 5:
            return m.copyGather(task, anyHandle(), [n(), n()], anyHandle(), n());
          case 6:
            return m.share(task, anyHandle(), tasks[random(3)]!);
          case 7:
            return m.grantAccess(task, anyHandle(), tasks[random(3)]!);
          case 8:
            return m.lock(task, anyHandle(), random(2) === 0, random(2) === 0, now);
          case 9:
            return m.unlock(task, anyHandle());
          case 10:
            return m.destroy(task, anyHandle());
          case 11:
            return m.unmapAll(task, anyHandle());
          case 12:
            return m.onReclaim(task, random(2) ? thread(task, 3000) : thread(tasks[random(3)]!));
          default:
            now += random(200);
            if (m.unstamped) m.stamp(now);
            return m.expire(now);
        }
      });
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (m.unstamped) m.stamp(now);
      m.effects.length = 0;
      m.notices.length = 0;
      m.answers.length = 0;
      const problems = checkPhysmem(m);
      if (problems.length > 0) throw new Error(`step ${step} (op ${op}): ${problems.join('; ')}`);
    }
    // The run exercised both successes and every kind of refusal it can meet.
    expect(outcomes.get('ok')).toBeGreaterThan(steps / 10);
    for (const code of ['EBADF', 'EINVAL', 'EPERM', 'EBUSY']) expect(outcomes.get(code), code).toBeGreaterThan(0);
  }, timeoutFor(STEPS, DEFAULT_STEPS));
});
