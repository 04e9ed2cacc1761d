// Kernel acceptance tests for the KIP, ExchangeRegisters, ThreadControl, SpaceControl, Schedule,
// ThreadSwitch and SystemClock (after l4test's KIP, ExchangeRegisters, ThreadControl and Schedule
// groups, and reference/l4-x2.md).
//
// Each test boots its own machine with a root task that drives the calls. Program threads report
// by pushing into arrays and records the test holds; the test asserts after the run. Threads in
// the root space get UTCBs at 0xbf000200, 0xbf000400, ...; threads in new spaces get 0xbf000000.

import { describe, expect, it } from 'vitest';
import { ErrorCode, ExchangeControl, TCR_ERROR_CODE, TCR_PAGER, TCR_USER_DEFINED_HANDLE, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { fpage, msgTag, timeout } from '../../libl4/message.ts';
import {
  call,
  exchangeRegisters,
  kernelInterface,
  loadMessage,
  loadMRs,
  readTcr,
  receive,
  schedule,
  send,
  spaceControl,
  storeMRs,
  systemClock,
  threadControl,
  threadSwitch,
  wait,
  writeTcr,
  type ControlResult,
  type KernelInterfaceResult,
} from '../../libl4/syscalls.ts';
import { readMemoryDescriptors } from '../../kernel/ia32/kip.ts';
import { ThreadState } from '../../kernel/generic/thread.ts';
import { ROOT_ID, boot, tid, type Booted } from './support.ts';

const START = ExchangeControl.SetIp | ExchangeControl.SetSp | ExchangeControl.HaltValid;
const KEEP = 0xffffffff;
const KIP_AREA = 0xbff00000;
const RUN_LIMIT = 400_000_000;

/** The UTCB of the n-th extra thread of the root space (n >= 1). */
function utcb(n: number): number {
  return 0xbf000000 + n * 0x200;
}

/** Creates `id` in the root space (scheduler root, pager `pager`) and starts it at `body`. */
function* startLocal(env: ProgramEnv, id: number, n: number, body: (env: ProgramEnv) => Op<void>, sp = 0, pager = ROOT_ID): Op<ControlResult> {
  const created = yield* threadControl(env, id, ROOT_ID, ROOT_ID, pager, utcb(n));
  if (created.ok) yield* exchangeRegisters(env, id, START, sp, env.codeAddress(body), 0, 0, 0);
  return created;
}

/** Creates `id` alone in a new space, paged by the root task, and sends it its start message. */
function* startInSpace(env: ProgramEnv, id: number, body: (env: ProgramEnv) => Op<void>, sp = 0): Op<ControlResult[]> {
  const steps = [
    yield* threadControl(env, id, id, ROOT_ID, 0, 0xbf000000),
    yield* spaceControl(env, id, 0, fpage(KIP_AREA, 12), fpage(0xbf000000, 12), 0),
    yield* threadControl(env, id, id, ROOT_ID, ROOT_ID, 0xbf000000),
  ];
  yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(body), sp]);
  yield* send(env, id);
  return steps;
}

/** Sends an empty "done" message with `label` to the root task. */
function* done(env: ProgramEnv, label = 1): Op<void> {
  yield* loadMessage(env, { label });
  yield* send(env, ROOT_ID);
}

/** Waits for `count` messages (of anyone). */
function* collect(env: ProgramEnv, count: number): Op<void> {
  for (let i = 0; i < count; i++) yield* wait(env);
}

function finish(b: Booted): void {
  const result = b.run(RUN_LIMIT);
  expect(b.output()).not.toContain('program raised');
  expect(result.reason).toBe('idle');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

function errorOf(result: ControlResult): number {
  return result.ok ? 0 : result.errorCode;
}

describe('KIP', () => {
  it('KernelInterface and the KIP fields: magic, version, memory descriptors, UTCB, KIP area, thread and page info', () => {
    let ki: KernelInterfaceResult | undefined;
    const words: number[] = [];
    const b = boot(function* (env) {
      ki = yield* kernelInterface(env);
      words.push(...(yield* env.readWords(ki.kip, 0x800 / 4)));
    });
    finish(b);
    const w = (offset: number): number => words[offset / 4]! >>> 0;
    expect(ki).toMatchObject({ kip: KIP_AREA, apiVersion: 0x84050000 });
    expect(w(0x00)).toBe(0x4be6344c);
    expect(w(0x04)).toBe(0x84050000);
    // The descriptor pointers lie inside the KIP page.
    const kernelDescriptor = w(0x0c);
    expect(kernelDescriptor).toBeGreaterThan(0);
    expect(kernelDescriptor).toBeLessThan(4096);
    expect(w(kernelDescriptor)).toBe(ki!.kernelId);
    expect(w(0xbc)).toBeGreaterThan(0);
    expect(w(0xbc)).toBeLessThan(4096);
    const memoryInfo = w(0x54);
    expect((memoryInfo >>> 16) + (memoryInfo & 0xffff) * 8).toBeLessThanOrEqual(0x800);
    const descriptors = readMemoryDescriptors(w);
    // Conventional memory covers all of RAM; the kernel's 8 MiB from 1 MiB are reserved.
    expect(descriptors).toContainEqual({ type: 1, subtype: 0, virtual: false, low: 0, end: b.machine.physical.size });
    expect(descriptors).toContainEqual({ type: 2, subtype: 0, virtual: false, low: 0x100000, end: 0x900000 });
    // UtcbInfo: minimum area 2^12, alignment 2^9, multiplier 1 (512-byte UTCBs).
    expect(w(0xa8) & 0x3f).toBe(12);
    expect((w(0xa8) >>> 6) & 0x3f).toBe(9);
    expect((w(0xa8) >>> 12) & 0x3ff).toBe(1);
    // KipAreaInfo: 4 KiB.
    expect(w(0xac) & 0x3f).toBe(12);
    // ThreadInfo: 18 thread-number bits, SystemBase 32, UserBase 64.
    expect(w(0xc4) & 0xff).toBe(18);
    expect((w(0xc4) >>> 8) & 0xfff).toBe(32);
    expect(w(0xc4) >>> 20).toBe(64);
    // PageInfo: 4 KiB pages (and 4 MiB on a PSE CPU); readable and writable pages.
    expect((w(0xc8) >>> 12) & 1).toBe(1);
    expect((w(0xc8) >>> 22) & 1).toBe(b.machine.profile.pse ? 1 : 0);
    expect(w(0xc8) & 6).toBe(6);
    // System-call entry points: offsets inside the KIP.
    for (let offset = 0xd0; offset <= 0xf8; offset += 4) {
      expect(w(offset)).toBeGreaterThan(0);
      expect(w(offset)).toBeLessThan(4096);
    }
  });

  it('KernelInterface called 10,000 times returns the same values each time', () => {
    let first: KernelInterfaceResult | undefined;
    let calls = 0;
    let differing = 0;
    const b = boot(function* (env) {
      first = yield* kernelInterface(env);
      for (let i = 0; i < 10_000; i++) {
        const r = yield* kernelInterface(env);
        calls++;
        if (r.kip !== first.kip || r.apiVersion !== first.apiVersion || r.apiFlags !== first.apiFlags || r.kernelId !== first.kernelId) differing++;
      }
    });
    finish(b);
    expect(calls).toBe(10_000);
    expect(differing).toBe(0);
    expect(first!.apiVersion).toBe(0x84050000);
  });

  it('the KIP is mapped read-only: a write faults to the pager, or halts a thread without one', () => {
    const T1 = tid(100);
    const T2 = tid(101);
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      const pte = b.kernel.pageTables.entry(b.kernel.threadById(ROOT_ID)!.space.pageDirectory, KIP_AREA);
      seen.pte = pte;
      // T1's pager is the root task: its write arrives here as page-fault IPC.
      const t1 = function* (e: ProgramEnv): Op<void> {
        seen.t1Read = yield* e.read32(KIP_AREA);
        yield* e.write32(KIP_AREA, 0);
        seen.t1Wrote = 1; // never reached
      };
      seen.t1Ip = env.codeAddress(t1);
      yield* startLocal(env, T1, 1, t1);
      const fault = yield* receive(env, T1);
      const [, address, ip] = yield* storeMRs(env, 3);
      seen.label = fault.tag.label;
      seen.untyped = fault.tag.untyped;
      seen.address = address!;
      seen.ip = ip!;
      seen.deleted = errorOf(yield* threadControl(env, T1, 0, 0, 0, 0));
      // T2 clears its own pager first: its write halts it.
      const t2 = function* (e: ProgramEnv): Op<void> {
        yield* writeTcr(e, TCR_PAGER, 0);
        yield* e.write32(KIP_AREA + 4, 0);
        seen.t2Wrote = 1; // never reached
      };
      yield* startLocal(env, T2, 2, t2);
      yield* threadSwitch(env);
      seen.t2Halted = (yield* exchangeRegisters(env, T2, 0, 0, 0, 0, 0, 0)).control & 1;
      seen.magic = yield* env.read32(KIP_AREA);
      seen.version = yield* env.read32(KIP_AREA + 4);
      yield* threadControl(env, T2, 0, 0, 0, 0);
    });
    finish(b);
    expect(seen.pte! & 1).toBe(1);
    expect(seen.pte! & 2).toBe(0);
    expect(((seen.pte! & ~0xfff) >>> 0)).toBe(b.kernel.kipFrame);
    expect(seen.t1Read).toBe(0x4be6344c);
    expect(seen.label).toBe(0xffe2); // page fault, write access
    expect(seen.untyped).toBe(2);
    expect(seen.address).toBe(KIP_AREA);
    expect(seen.ip).toBe(seen.t1Ip); // a program thread's IP is its entry
    expect(seen.deleted).toBe(0);
    expect(seen.t1Wrote).toBeUndefined();
    expect(seen.t2Wrote).toBeUndefined();
    expect(seen.t2Halted).toBe(1);
    expect(b.output()).toMatch(/thread 101\.1 halted: write .*0xbff00004/);
    expect(seen.magic).toBe(0x4be6344c);
    expect(seen.version).toBe(0x84050000);
  });
});

describe('ExchangeRegisters', () => {
  it('nil and ErrorCode 2 for a non-existent thread and for a thread of another space', () => {
    const results: Array<{ result: number; error: number }> = [];
    const b = boot(function* (env) {
      const probe = function* (dest: number): Op<void> {
        yield* writeTcr(env, TCR_ERROR_CODE, 0);
        const r = yield* exchangeRegisters(env, dest, 0, 0, 0, 0, 0, 0);
        results.push({ result: r.result, error: yield* readTcr(env, TCR_ERROR_CODE) });
      };
      yield* probe(tid(300)); // never created
      yield* threadControl(env, tid(120), tid(120), ROOT_ID, 0, 0xbf000000); // another space
      yield* probe(tid(120));
      yield* probe(0xbf000400); // a local id no thread of ours has
      yield* threadControl(env, tid(121), ROOT_ID, ROOT_ID, ROOT_ID, utcb(1));
      yield* threadControl(env, tid(121), 0, 0, 0, 0); // created and deleted again
      yield* probe(tid(121));
      yield* probe(0);
    });
    finish(b);
    expect(results).toEqual(Array.from({ length: 5 }, () => ({ result: 0, error: ErrorCode.InvalidThread })));
  });

  it('converts ids (global in, local out and back), reads back user handle and pager, 20 and 100 calls in a row, and starts a thread', () => {
    const T = tid(100);
    const seen: Record<string, number> = {};
    let mismatches20 = -1;
    let mismatches100 = -1;
    let started: number[] = [];
    const b = boot(function* (env) {
      seen.selfLocal = (yield* exchangeRegisters(env, ROOT_ID, 0, 0, 0, 0, 0, 0)).result;
      seen.selfGlobal = (yield* exchangeRegisters(env, 0xbf000000, 0, 0, 0, 0, 0, 0)).result;
      yield* threadControl(env, T, ROOT_ID, ROOT_ID, ROOT_ID, utcb(1));
      seen.tLocal = (yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0)).result;
      seen.tGlobal = (yield* exchangeRegisters(env, utcb(1), 0, 0, 0, 0, 0, 0)).result;
      // User handle and pager: set, then read back (the call returns the old values).
      const set = ExchangeControl.SetUserHandle | ExchangeControl.SetPager;
      const before = yield* exchangeRegisters(env, T, set, 0, 0, 0, 0xcafe, tid(500));
      seen.oldHandle = before.userHandle;
      seen.oldPager = before.pager;
      const after = yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0);
      seen.handle = after.userHandle;
      seen.pager = after.pager;
      // Put the pager back (the start below does not need it, but the thread should have its pager).
      yield* exchangeRegisters(env, T, ExchangeControl.SetPager, 0, 0, 0, 0, ROOT_ID);
      // 20 calls in a row, each setting the handle and getting the previous one back.
      mismatches20 = 0;
      let previous = 0xcafe;
      for (let i = 1; i <= 20; i++) {
        const r = yield* exchangeRegisters(env, T, ExchangeControl.SetUserHandle, 0, 0, 0, i, 0);
        if (r.result !== utcb(1) || r.userHandle !== previous || r.pager !== ROOT_ID) mismatches20++;
        previous = i;
      }
      // 100 calls in a row that change nothing, by local id this time.
      mismatches100 = 0;
      for (let i = 0; i < 100; i++) {
        const r = yield* exchangeRegisters(env, utcb(1), 0, 0, 0, 0, 0, 0);
        if (r.result !== T || r.userHandle !== 20 || r.pager !== ROOT_ID) mismatches100++;
      }
      // Start the activated thread with SetIp|SetSp and receive an IPC from it.
      const body = function* (e: ProgramEnv): Op<void> {
        const handle = yield* readTcr(e, TCR_USER_DEFINED_HANDLE);
        yield* loadMessage(e, { label: 0x42, words: [e.sp, e.ip, handle] });
        yield* send(e, ROOT_ID);
      };
      seen.ip = env.codeAddress(body);
      yield* exchangeRegisters(env, T, START, 0x7000, seen.ip, 0, 0, 0);
      const r = yield* receive(env, T);
      seen.from = r.from;
      seen.label = r.tag.label;
      started = yield* storeMRs(env, 3, 1);
      const read = yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0);
      seen.readSp = read.sp;
      seen.readIp = read.ip;
    });
    finish(b);
    expect(seen.selfLocal).toBe(0xbf000000);
    expect(seen.selfGlobal).toBe(ROOT_ID);
    expect(seen.tLocal).toBe(utcb(1));
    expect(seen.tGlobal).toBe(T);
    expect(seen.oldHandle).toBe(0);
    expect(seen.oldPager).toBe(ROOT_ID);
    expect(seen.handle).toBe(0xcafe);
    expect(seen.pager).toBe(tid(500));
    expect(mismatches20).toBe(0);
    expect(mismatches100).toBe(0);
    expect(seen.from).toBe(utcb(1)); // a sender in the same space is named by its local id
    expect(seen.label).toBe(0x42);
    expect(started).toEqual([0x7000, seen.ip, 20]);
    expect(seen.readSp).toBe(0x7000);
    expect(seen.readIp).toBe(seen.ip);
  });

  it('halts and resumes a thread', () => {
    const T = tid(100);
    let count = 0;
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      yield* startLocal(env, T, 1, function* (e) {
        for (;;) {
          count++;
          yield* threadSwitch(e);
        }
      });
      for (let i = 0; i < 5; i++) yield* threadSwitch(env);
      seen.running = count;
      seen.haltOld = (yield* exchangeRegisters(env, T, ExchangeControl.HaltValid | ExchangeControl.Halt, 0, 0, 0, 0, 0)).control & 1;
      seen.atHalt = count;
      for (let i = 0; i < 5; i++) yield* threadSwitch(env);
      yield* env.work(100_000);
      seen.whileHalted = count;
      seen.haltedBit = (yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0)).control & 1;
      yield* exchangeRegisters(env, T, ExchangeControl.HaltValid, 0, 0, 0, 0, 0);
      for (let i = 0; i < 5; i++) yield* threadSwitch(env);
      seen.resumed = count;
      seen.runningBit = (yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0)).control & 1;
      seen.deleted = errorOf(yield* threadControl(env, T, 0, 0, 0, 0));
    });
    finish(b);
    expect(seen.running).toBeGreaterThanOrEqual(4);
    expect(seen.haltOld).toBe(0);
    expect(seen.whileHalted).toBe(seen.atHalt);
    expect(seen.haltedBit).toBe(1);
    expect(seen.resumed).toBeGreaterThanOrEqual(seen.whileHalted! + 4);
    expect(seen.runningBit).toBe(0);
    expect(seen.deleted).toBe(0);
  });
});

describe('ThreadControl', () => {
  it('creates a thread in a new space and in its own space; each is activated and runs on its start message', () => {
    const N = tid(130);
    const L = tid(131);
    const seen: Record<string, number> = {};
    let fromNew: number[] = [];
    let fromLocal: number[] = [];
    const b = boot(function* (env) {
      const body = function* (e: ProgramEnv): Op<void> {
        yield* loadMessage(e, { label: 7, words: [e.sp, yield* readTcr(e, 0 /* MyGlobalId */), yield* e.read32(KIP_AREA)] });
        yield* send(e, ROOT_ID);
      };
      // A new space: create (inactive), SpaceControl, then activate with a pager.
      const inactive = yield* threadControl(env, N, N, ROOT_ID, 0, 0xbf000000);
      seen.inactive = inactive.ok ? 1 : 0;
      seen.inactiveState = (yield* schedule(env, N, KEEP, KEEP, KEEP, KEEP)).result;
      const steps = [inactive, yield* spaceControl(env, N, 0, fpage(KIP_AREA, 12), fpage(0xbf000000, 12), 0), yield* threadControl(env, N, N, ROOT_ID, ROOT_ID, 0xbf000000)];
      seen.steps = steps.filter((s) => s.ok).length;
      seen.waitingState = (yield* schedule(env, N, KEEP, KEEP, KEEP, KEEP)).result;
      yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(body), 0x1111]);
      yield* send(env, N);
      const r1 = yield* receive(env, N);
      seen.fromNew = r1.from;
      fromNew = yield* storeMRs(env, 3, 1);
      // The same space, activated at once, started by a start message too.
      seen.local = (yield* threadControl(env, L, ROOT_ID, ROOT_ID, ROOT_ID, utcb(1))).ok ? 1 : 0;
      yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(body), 0x2222]);
      yield* send(env, L);
      const r2 = yield* receive(env, L);
      seen.fromLocal = r2.from;
      fromLocal = yield* storeMRs(env, 3, 1);
    });
    finish(b);
    expect(seen.inactive).toBe(1);
    expect(seen.inactiveState).toBe(2); // inactive
    expect(seen.steps).toBe(3);
    expect(seen.waitingState).not.toBe(0);
    expect(seen.fromNew).toBe(N);
    expect(fromNew).toEqual([0x1111, N, 0x4be6344c]);
    expect(seen.local).toBe(1);
    expect(seen.fromLocal).toBe(utcb(1));
    expect(fromLocal).toEqual([0x2222, L, 0x4be6344c]);
    expect(b.kernel.threadById(N)!.space).not.toBe(b.kernel.threadById(ROOT_ID)!.space);
    expect(b.kernel.threadById(L)!.space).toBe(b.kernel.threadById(ROOT_ID)!.space);
  });

  it("deleting a thread fails its blocked partners' IPC with error 2 (non-existing partner)", () => {
    const T = tid(110);
    const S1 = tid(111);
    const S2 = tid(112);
    const S3 = tid(113);
    const errors: Record<string, number> = {};
    const states: Record<string, number> = {};
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      // T takes one message (S3's call), never replies, then waits for the root task forever.
      yield* startLocal(env, T, 1, function* (e) {
        yield* wait(e);
        yield* receive(e, ROOT_ID);
      });
      yield* startLocal(env, S3, 2, function* (e) {
        yield* loadMessage(e, { label: 3 });
        errors.s3 = (yield* call(e, T)).errorCode;
      });
      for (let i = 0; i < 3; i++) yield* threadSwitch(env);
      // S1 sends to T, which is not receiving from it; S2 receives from T.
      yield* startLocal(env, S1, 3, function* (e) {
        yield* loadMessage(e, { label: 1 });
        errors.s1 = (yield* send(e, T)).errorCode;
      });
      yield* startLocal(env, S2, 4, function* (e) {
        errors.s2 = (yield* receive(e, T)).errorCode;
      });
      for (let i = 0; i < 3; i++) yield* threadSwitch(env);
      for (const [name, id] of [['t', T], ['s1', S1], ['s2', S2], ['s3', S3]] as const) states[name] = b.kernel.threadById(id)!.state;
      seen.blocked = Object.keys(errors).length;
      seen.deleted = errorOf(yield* threadControl(env, T, 0, 0, 0, 0));
      for (let i = 0; i < 3; i++) yield* threadSwitch(env);
      const gone = yield* exchangeRegisters(env, T, 0, 0, 0, 0, 0, 0);
      seen.gone = gone.result;
      seen.goneError = yield* readTcr(env, TCR_ERROR_CODE);
      seen.sendToGone = (yield* send(env, T)).errorCode;
    });
    finish(b);
    expect(states).toEqual({ t: ThreadState.Receiving, s1: ThreadState.Sending, s2: ThreadState.Receiving, s3: ThreadState.Receiving });
    expect(seen.blocked).toBe(0);
    expect(seen.deleted).toBe(0);
    expect(decodeIpcError(errors.s1!)).toMatchObject({ phase: 'send', code: 2 });
    expect(decodeIpcError(errors.s2!)).toMatchObject({ phase: 'receive', code: 2 });
    expect(decodeIpcError(errors.s3!)).toMatchObject({ phase: 'receive', code: 2 });
    expect(seen.gone).toBe(0);
    expect(seen.goneError).toBe(ErrorCode.InvalidThread);
    expect(decodeIpcError(seen.sendToGone!)).toMatchObject({ phase: 'send', code: 2 });
    expect(b.kernel.threadById(T)).toBeUndefined();
  });

  it('refuses: delete self (2), invalid thread ids (2), invalid space (3), invalid scheduler (4), bad UTCB locations (6)', () => {
    const codes: Record<string, number> = {};
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      const used = b.kernel.kmem.used;
      codes.deleteSelf = errorOf(yield* threadControl(env, ROOT_ID, 0, 0, 0, 0));
      codes.deleteSelfLocal = errorOf(yield* threadControl(env, 0xbf000000, 0, 0, 0, 0));
      codes.systemThread = errorOf(yield* threadControl(env, tid(40), ROOT_ID, ROOT_ID, ROOT_ID, utcb(1)));
      codes.deleteMissing = errorOf(yield* threadControl(env, tid(140), 0, 0, 0, 0));
      codes.space = errorOf(yield* threadControl(env, tid(141), tid(999), ROOT_ID, ROOT_ID, utcb(1)));
      codes.scheduler = errorOf(yield* threadControl(env, tid(142), ROOT_ID, tid(999), ROOT_ID, utcb(1)));
      codes.unaligned = errorOf(yield* threadControl(env, tid(143), ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000100));
      codes.outside = errorOf(yield* threadControl(env, tid(144), ROOT_ID, ROOT_ID, ROOT_ID, 0x10000000));
      codes.taken = errorOf(yield* threadControl(env, tid(145), ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000000));
      seen.leaked = b.kernel.kmem.used - used;
      // Activating a thread of a space that SpaceControl has not set up: invalid space.
      yield* threadControl(env, tid(146), tid(146), ROOT_ID, 0, 0xbf000000);
      codes.uninitialized = errorOf(yield* threadControl(env, tid(146), tid(146), ROOT_ID, ROOT_ID, 0xbf000000));
      seen.exist = [141, 142, 143, 144, 145].filter((n) => b.kernel.threadById(tid(n)) !== undefined).length;
      seen.rootAlive = b.kernel.threadById(ROOT_ID) ? 1 : 0;
    });
    finish(b);
    expect(codes).toEqual({
      deleteSelf: ErrorCode.InvalidThread,
      deleteSelfLocal: ErrorCode.InvalidThread,
      systemThread: ErrorCode.InvalidThread,
      deleteMissing: ErrorCode.InvalidThread,
      space: ErrorCode.InvalidSpace,
      scheduler: ErrorCode.InvalidScheduler,
      unaligned: ErrorCode.UtcbArea,
      outside: ErrorCode.UtcbArea,
      taken: ErrorCode.UtcbArea,
      uninitialized: ErrorCode.InvalidSpace,
    });
    expect(seen.exist).toBe(0);
    expect(seen.rootAlive).toBe(1);
    // The refused calls left no kernel memory behind.
    expect(seen.leaked).toBe(0);
  });

  it('a thread outside the privileged root space gets ErrorCode 1 (no privilege)', () => {
    const W = tid(150);
    const codes: Record<string, number> = {};
    const b = boot(function* (env) {
      yield* startInSpace(env, W, function* (e) {
        codes.threadControl = errorOf(yield* threadControl(e, tid(151), W, W, W, 0xbf000200));
        codes.deleteRoot = errorOf(yield* threadControl(e, ROOT_ID, 0, 0, 0, 0));
        codes.spaceControl = errorOf(yield* spaceControl(e, W, 0, fpage(KIP_AREA, 12), fpage(0xbf000000, 12), 0));
        const xr = yield* exchangeRegisters(e, ROOT_ID, 0, 0, 0, 0, 0, 0);
        codes.exchangeRoot = xr.result === 0 ? yield* readTcr(e, TCR_ERROR_CODE) : -1;
        yield* done(e);
      });
      yield* receive(env, W);
    });
    finish(b);
    expect(codes).toEqual({
      threadControl: ErrorCode.NoPrivilege,
      deleteRoot: ErrorCode.NoPrivilege,
      spaceControl: ErrorCode.NoPrivilege,
      exchangeRoot: ErrorCode.InvalidThread,
    });
    expect(b.kernel.threadById(tid(151))).toBeUndefined();
    expect(b.kernel.threadById(ROOT_ID)).toBeDefined();
  });

  it('runs out of kernel memory with ErrorCode 8, and creates threads again once some are deleted', () => {
    const codes: number[] = [];
    const seen: Record<string, number> = {};
    const b = boot(
      function* (env) {
        // Fill the root space with threads until kernel memory is out.
        let n = 0;
        for (;;) {
          const r = yield* threadControl(env, tid(200 + n), ROOT_ID, ROOT_ID, ROOT_ID, utcb(n + 1));
          if (!r.ok) {
            codes.push(r.errorCode);
            break;
          }
          n++;
          if (n > 100) break;
        }
        seen.created = n;
        seen.free = b.kernel.kmem.available;
        // Delete three, then three more fit where they were; the next does not.
        for (let i = 0; i < 3; i++) codes.push(errorOf(yield* threadControl(env, tid(200 + i), 0, 0, 0, 0)));
        for (let i = 0; i < 3; i++) codes.push(errorOf(yield* threadControl(env, tid(300 + i), ROOT_ID, ROOT_ID, ROOT_ID, utcb(i + 1))));
        const again = yield* threadControl(env, tid(303), ROOT_ID, ROOT_ID, ROOT_ID, utcb(n + 1));
        codes.push(errorOf(again));
        // The new threads work: start one and hear from it.
        yield* exchangeRegisters(env, tid(300), START, 0, env.codeAddress(function* (e) {
          yield* done(e, 0x99);
        }), 0, 0, 0);
        const r = yield* receive(env, tid(300));
        seen.label = r.tag.label;
      },
      { config: { kernelMemory: { base: 0x100000, size: 0x10000 } } },
    );
    finish(b);
    expect(seen.created).toBeGreaterThan(2);
    expect(seen.created).toBeLessThan(16);
    expect(seen.free).toBeLessThan(2);
    expect(codes).toEqual([ErrorCode.NoMemory, 0, 0, 0, 0, 0, 0, ErrorCode.NoMemory]);
    expect(seen.label).toBe(0x99);
    expect(b.kernel.kmem.refusals).toBeGreaterThanOrEqual(2);
  });
});

describe('UTCB location -1 (not set)', () => {
  it('creates inactive threads without a UTCB, lets SpaceControl set up their space, and activates them later', () => {
    const A = tid(170);
    const B = tid(171);
    const C = tid(172);
    const codes: Record<string, number> = {};
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      // A new space: its first thread with UTCB -1 (inactive), a second one there, also unset.
      codes.createNew = errorOf(yield* threadControl(env, A, A, ROOT_ID, 0, KEEP));
      codes.createSecond = errorOf(yield* threadControl(env, B, A, ROOT_ID, 0, KEEP));
      // An active thread needs its UTCB: a pager with UTCB -1 is refused, in a new space or not.
      codes.activeUnset = errorOf(yield* threadControl(env, C, ROOT_ID, ROOT_ID, ROOT_ID, KEEP));
      // Activating A before SpaceControl: invalid space.
      codes.activateEarly = errorOf(yield* threadControl(env, A, A, ROOT_ID, ROOT_ID, KEEP));
      // SpaceControl accepts the space: the unset threads have no UTCB to check.
      codes.spaceControl = errorOf(yield* spaceControl(env, A, 0, fpage(KIP_AREA, 12), fpage(0xbf000000, 14), 0));
      // Activating A while its location is still unset: UTCB area.
      codes.activateUnset = errorOf(yield* threadControl(env, A, A, ROOT_ID, ROOT_ID, KEEP));
      // A location outside the new area is still refused; a valid one activates A.
      codes.outside = errorOf(yield* threadControl(env, A, A, ROOT_ID, ROOT_ID, 0xbf100000));
      codes.activate = errorOf(yield* threadControl(env, A, A, ROOT_ID, ROOT_ID, 0xbf000400));
      // -1 on an active thread leaves its location as it is.
      codes.keep = errorOf(yield* threadControl(env, A, A, ROOT_ID, ROOT_ID, KEEP));
      // B gets its location in one call and its pager in another.
      codes.locateB = errorOf(yield* threadControl(env, B, A, ROOT_ID, 0, 0xbf000600));
      codes.activateB = errorOf(yield* threadControl(env, B, A, ROOT_ID, ROOT_ID, KEEP));
      seen.aUtcb = b.kernel.threadById(A)!.utcbAddress;
      seen.bUtcb = b.kernel.threadById(B)!.utcbAddress;
      seen.bActive = b.kernel.threadById(B)!.utcbPhysical >= 0 ? 1 : 0;
      seen.cExists = b.kernel.threadById(C) ? 1 : 0;
      // A runs on its start message and reports its local id.
      yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(function* (e) {
        yield* loadMessage(e, { label: 6, words: [e.utcb] });
        yield* send(e, ROOT_ID);
      }), 0]);
      yield* send(env, A);
      yield* receive(env, A);
      seen.aReports = (yield* storeMRs(env, 1, 1))[0]!;
      // Deleting with UTCB -1, as l4test's kill_thread does.
      codes.kill = errorOf(yield* threadControl(env, B, 0, 0, 0, KEEP));
    });
    finish(b);
    expect(codes).toEqual({
      createNew: 0,
      createSecond: 0,
      activeUnset: ErrorCode.UtcbArea,
      activateEarly: ErrorCode.InvalidSpace,
      spaceControl: 0,
      activateUnset: ErrorCode.UtcbArea,
      outside: ErrorCode.UtcbArea,
      activate: 0,
      keep: 0,
      locateB: 0,
      activateB: 0,
      kill: 0,
    });
    expect(seen).toEqual({ aUtcb: 0xbf000400, bUtcb: 0xbf000600, bActive: 1, cExists: 0, aReports: 0xbf000400 });
  });
});

describe('SpaceControl', () => {
  it('refuses a KIP area that overlaps the UTCB area or leaves user space (7) and bad UTCB areas (6)', () => {
    const X = tid(160);
    const codes: Record<string, number> = {};
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      yield* threadControl(env, X, X, ROOT_ID, 0, 0xbf000000);
      const sc = function* (kip: number, utcbArea: number): Op<number> {
        return errorOf(yield* spaceControl(env, X, 0, kip, utcbArea, 0));
      };
      codes.overlap = yield* sc(fpage(0xbf000000, 12), fpage(0xbf000000, 14));
      codes.kipInsideUtcb = yield* sc(fpage(0xbf002000, 12), fpage(0xbf000000, 14));
      codes.kipKernel = yield* sc(fpage(0xc0000000, 12), fpage(0xbf000000, 12));
      codes.kipNil = yield* sc(0, fpage(0xbf000000, 12));
      codes.utcbNil = yield* sc(fpage(KIP_AREA, 12), 0);
      codes.utcbKernel = yield* sc(fpage(KIP_AREA, 12), fpage(0xc0000000, 12));
      codes.utcbWithoutThread = yield* sc(fpage(KIP_AREA, 12), fpage(0x80000000, 12));
      codes.noSuchSpace = errorOf(yield* spaceControl(env, tid(999), 0, fpage(KIP_AREA, 12), fpage(0xbf000000, 12), 0));
      seen.initializedAfterErrors = b.kernel.threadById(X)!.space.initialized ? 1 : 0;
      codes.valid = yield* sc(fpage(0x80000000, 12), fpage(0xbf000000, 13));
      // The space works: activate X and let it read its KIP at the chosen area.
      yield* threadControl(env, X, X, ROOT_ID, ROOT_ID, 0xbf000000);
      yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(function* (e) {
        yield* loadMessage(e, { label: 5, words: [(yield* kernelInterface(e)).kip, yield* e.read32(0x80000000)] });
        yield* send(e, ROOT_ID);
      }), 0]);
      yield* send(env, X);
      yield* receive(env, X);
      const [kip, magic] = yield* storeMRs(env, 2, 1);
      seen.kip = kip!;
      seen.magic = magic!;
    });
    finish(b);
    expect(codes).toEqual({
      overlap: ErrorCode.KipArea,
      kipInsideUtcb: ErrorCode.KipArea,
      kipKernel: ErrorCode.KipArea,
      kipNil: ErrorCode.KipArea,
      utcbNil: ErrorCode.UtcbArea,
      utcbKernel: ErrorCode.UtcbArea,
      utcbWithoutThread: ErrorCode.UtcbArea,
      noSuchSpace: ErrorCode.InvalidSpace,
      valid: 0,
    });
    expect(seen.initializedAfterErrors).toBe(0);
    expect(seen.kip).toBe(0x80000000);
    expect(seen.magic).toBe(0x4be6344c);
  });
});

describe('Schedule and ThreadSwitch', () => {
  it('a higher-priority ready thread runs before a lower one, and before its creator when that is lower', () => {
    const T1 = tid(100);
    const T2 = tid(101);
    const T3 = tid(102);
    const order: string[] = [];
    const results: number[] = [];
    const b = boot(function* (env) {
      yield* threadControl(env, T1, ROOT_ID, ROOT_ID, ROOT_ID, utcb(1));
      yield* threadControl(env, T2, ROOT_ID, ROOT_ID, ROOT_ID, utcb(2));
      results.push((yield* schedule(env, T1, KEEP, KEEP, 50, KEEP)).result);
      results.push((yield* schedule(env, T2, KEEP, KEEP, 80, KEEP)).result);
      const body = (name: string) =>
        function* (e: ProgramEnv): Op<void> {
          yield* e.print(`${name} runs\n`);
          order.push(name);
          yield* done(e);
        };
      // T1 is started first but has the lower priority; both wait while the root task (100) runs.
      yield* exchangeRegisters(env, T1, START, 0, env.codeAddress(body('T1')), 0, 0, 0);
      yield* exchangeRegisters(env, T2, START, 0, env.codeAddress(body('T2')), 0, 0, 0);
      order.push('root');
      yield* collect(env, 2);
      // T3 at 90, then the root task lowers itself to 50: T3 runs as soon as it is started.
      yield* threadControl(env, T3, ROOT_ID, ROOT_ID, ROOT_ID, utcb(3));
      results.push((yield* schedule(env, T3, KEEP, KEEP, 90, KEEP)).result);
      results.push((yield* schedule(env, ROOT_ID, KEEP, KEEP, 50, KEEP)).result);
      yield* exchangeRegisters(env, T3, START, 0, env.codeAddress(body('T3')), 0, 0, 0);
      order.push('root again');
      yield* collect(env, 1);
    });
    finish(b);
    expect(order).toEqual(['root', 'T2', 'T1', 'T3', 'root again']);
    expect(b.output().indexOf('T2 runs')).toBeLessThan(b.output().indexOf('T1 runs'));
    expect(results.every((r) => r !== 0)).toBe(true);
    expect(b.kernel.threadById(T3)!.priority).toBe(90);
    expect(b.kernel.threadById(ROOT_ID)!.priority).toBe(50);
  });

  it('refuses a caller that is not the scheduler (1), a priority above the caller\'s (5), and a missing thread (2)', () => {
    const W = tid(170);
    const Z = tid(171);
    const T = tid(172);
    const codes: Record<string, number> = {};
    const seen: Record<string, number> = {};
    const b = boot(function* (env) {
      yield* threadControl(env, T, ROOT_ID, ROOT_ID, ROOT_ID, utcb(2));
      codes.aboveCaller = (yield* schedule(env, T, KEEP, KEEP, 101, KEEP)).errorCode;
      codes.aboveMax = (yield* schedule(env, T, KEEP, KEEP, 300, KEEP)).errorCode;
      codes.missing = (yield* schedule(env, tid(999), KEEP, KEEP, 10, KEEP)).errorCode;
      codes.equal = (yield* schedule(env, T, KEEP, KEEP, 100, KEEP)).errorCode;
      // W (another space, not privileged) becomes the scheduler of Z (in the root space).
      yield* startInSpace(env, W, function* (e) {
        yield* receive(e, ROOT_ID); // go
        codes.notScheduler = (yield* schedule(e, ROOT_ID, KEEP, KEEP, 10, KEEP)).errorCode;
        codes.notSchedulerOfT = (yield* schedule(e, T, KEEP, KEEP, 10, KEEP)).errorCode;
        const mine = yield* schedule(e, Z, KEEP, KEEP, 20, KEEP);
        codes.scheduler = mine.errorCode;
        seen.state = mine.result;
        codes.mineAbove = (yield* schedule(e, Z, KEEP, KEEP, 120, KEEP)).errorCode;
        yield* done(e);
      });
      yield* threadControl(env, Z, ROOT_ID, W, 0, utcb(1));
      yield* loadMessage(env, { label: 0 });
      yield* send(env, W);
      yield* receive(env, W);
    });
    finish(b);
    expect(codes).toEqual({
      aboveCaller: ErrorCode.InvalidParameter,
      aboveMax: ErrorCode.InvalidParameter,
      missing: ErrorCode.InvalidThread,
      equal: 0,
      notScheduler: ErrorCode.NoPrivilege,
      notSchedulerOfT: ErrorCode.NoPrivilege,
      scheduler: 0,
      mineAbove: ErrorCode.InvalidParameter,
    });
    expect(seen.state).toBe(2); // Z is inactive
    expect(b.kernel.threadById(Z)!.priority).toBe(20);
    expect(b.kernel.threadById(T)!.priority).toBe(100);
    expect(b.kernel.threadById(ROOT_ID)!.priority).toBe(100);
  });

  /** Two threads at the root task's priority each do 6 rounds of work and note each round. */
  function spinners(sliceUs: number | null): { order: string; b: Booted } {
    const order: string[] = [];
    const b = boot(function* (env) {
      const body = (name: string) =>
        function* (e: ProgramEnv): Op<void> {
          for (let i = 0; i < 6; i++) {
            yield* e.work(40_000);
            yield* e.print(`${name}${i} `);
            order.push(name);
          }
          yield* done(e);
        };
      for (const [n, name] of [[1, 'A'], [2, 'B']] as const) {
        const id = tid(100 + n);
        yield* threadControl(env, id, ROOT_ID, ROOT_ID, ROOT_ID, utcb(n));
        if (sliceUs !== null) yield* schedule(env, id, ((timeout(sliceUs) << 16) | 0) >>> 0, KEEP, KEEP, KEEP);
        yield* exchangeRegisters(env, id, START, 0, env.codeAddress(body(name)), 0, 0, 0);
      }
      yield* collect(env, 2);
    });
    finish(b);
    return { order: order.join(''), b };
  }

  it('without preemption (10 ms slices) threads at one priority run to completion in turn', () => {
    const { order, b } = spinners(null);
    expect(order).toBe('AAAAAABBBBBB');
    expect(b.output()).toContain('A0 A1 A2 A3 A4 A5 B0 B1 B2 B3 B4 B5 ');
    expect(b.kernel.counters.timerInterrupts).toBe(0);
  });

  it('with short time slices set by Schedule, threads at one priority are preempted and interleave', () => {
    // 100 µs = 73,300 cycles on the p3 profile: less than two rounds of 40,000.
    const { order, b } = spinners(100);
    expect(order.split('').sort().join('')).toBe('AAAAAABBBBBB');
    const switches = order.split('').filter((c, i) => i > 0 && c !== order[i - 1]).length;
    expect(switches).toBeGreaterThanOrEqual(4);
    expect(order.indexOf('B')).toBeLessThan(order.lastIndexOf('A'));
    expect(b.kernel.counters.timerInterrupts).toBeGreaterThanOrEqual(4);
    expect(b.kernel.threadById(tid(101))!.timeslice).toBe(73_300);
  });

  it('ThreadSwitch(nil) yields to another ready thread of the same priority; ThreadSwitch(dest) runs dest next', () => {
    const run = (yielding: boolean): string => {
      const order: string[] = [];
      const b = boot(function* (env) {
        const body = (name: string) =>
          function* (e: ProgramEnv): Op<void> {
            for (let i = 0; i < 3; i++) {
              order.push(name);
              if (yielding) yield* threadSwitch(e);
            }
            yield* done(e);
          };
        yield* startLocal(env, tid(101), 1, body('A'));
        yield* startLocal(env, tid(102), 2, body('B'));
        yield* collect(env, 2);
      });
      finish(b);
      return order.join('');
    };
    expect(run(false)).toBe('AAABBB');
    expect(run(true)).toBe('ABABAB');

    const donate = (target: boolean): string => {
      const order: string[] = [];
      const b = boot(function* (env) {
        yield* startLocal(env, tid(101), 1, function* (e) {
          order.push('A1');
          yield* threadSwitch(e, target ? tid(103) : 0);
          order.push('A2');
          yield* done(e);
        });
        for (const [n, name] of [[2, 'B'], [3, 'C']] as const) {
          yield* startLocal(env, tid(100 + n), n, function* (e) {
            order.push(name);
            yield* done(e);
          });
        }
        yield* collect(env, 3);
      });
      finish(b);
      return order.join(' ');
    };
    expect(donate(false)).toBe('A1 B C A2');
    expect(donate(true)).toBe('A1 C B A2');
  });
});

describe('SystemClock', () => {
  it('advances with the cycle count: work, an idle wait with a timeout, and the final count', () => {
    const T = tid(100);
    const clock: number[] = [];
    const cycles: number[] = [];
    let monotonic = true;
    let timeoutError = 0;
    const b = boot(function* (env) {
      const read = function* (): Op<void> {
        clock.push(yield* systemClock(env));
        cycles.push(b.machine.cpu.cycles);
      };
      yield* read();
      yield* env.work(7_330_000); // 10 ms at 733 MHz
      yield* read();
      // Nobody sends: the receive times out after 5 ms, with the machine idle meanwhile.
      yield* threadControl(env, T, ROOT_ID, ROOT_ID, ROOT_ID, utcb(1));
      timeoutError = (yield* receive(env, T, timeout(5000))).errorCode;
      yield* read();
      let last = clock[clock.length - 1]!;
      for (let i = 0; i < 100; i++) {
        const now = yield* systemClock(env);
        if (now < last) monotonic = false;
        last = now;
      }
      yield* read();
    });
    finish(b);
    const hz = b.machine.profile.clockHz;
    expect(hz).toBe(733_000_000);
    expect(clock[1]! - clock[0]!).toBeGreaterThanOrEqual(10_000);
    expect(clock[1]! - clock[0]!).toBeLessThanOrEqual(10_002);
    expect(decodeIpcError(timeoutError)).toMatchObject({ phase: 'receive', code: 1 });
    expect(clock[2]! - clock[1]!).toBeGreaterThanOrEqual(5_000);
    expect(clock[2]! - clock[1]!).toBeLessThanOrEqual(5_010);
    expect(monotonic).toBe(true);
    expect(clock[3]!).toBeGreaterThan(clock[2]!);
    // Each reading is the cycle count in microseconds (read right after the call returned).
    clock.forEach((us, i) => {
      expect(Math.abs(us - (cycles[i]! * 1e6) / hz)).toBeLessThan(1);
    });
    expect(b.kernel.clockMicroseconds()).toBeGreaterThanOrEqual(clock[3]!);
  });
});
