// Interrupts: association by ThreadControl, priority by Schedule (l4test's schedule group:
// "Change priority unassociated" and "Change priority associated", on IRQ 3), and delivery as
// interrupt IPC from a raised line of the machine's interrupt controller to the handler, masked
// until the handler's acknowledgement, in priority order, preempting lower priorities.

import { describe, expect, it } from 'vitest';
import { ErrorCode, IpcError, Label, NILTHREAD, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { associateInterrupt, dissociateInterrupt, interruptThread, isInterruptMessage } from '../../libl4/interrupt.ts';
import { loadMRs, readTcr } from '../../libl4/registers.ts';
import { exchangeRegisters, receive, reply, replyWait, schedule, send, threadControl, wait } from '../../libl4/syscalls.ts';
import { timeout } from '../../libl4/timeout.ts';
import { ExchangeControl } from '../../libl4/abi.ts';
import { L4Test } from './l4test.ts';
import { ROOT_ID, boot, tid, type Booted } from './support.ts';

const KEEP = 0xffffffff;
const IRQ_NUMBER = 3;

function* setPriority(env: ProgramEnv, thread: number, priority: number): Op<number> {
  return (yield* schedule(env, thread, KEEP, KEEP, priority, KEEP)).result;
}

function finish(b: Booted, maxCycles = 1e9): void {
  const result = b.run(maxCycles);
  expect(result.reason).toBe('idle');
  expect(b.output()).not.toContain('halted');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

/** A handler thread in the root space (UTCB slot `n`), started at `body`. */
function* startHandler(env: ProgramEnv, id: number, n: number, body: (env: ProgramEnv) => Op<void>): Op<void> {
  yield* threadControl(env, id, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000000 + 0x200 * n);
  yield* exchangeRegisters(env, id, ExchangeControl.SetIp | ExchangeControl.HaltValid, 0, env.codeAddress(body), 0, 0, 0);
}

describe('interrupts (l4test schedule group)', () => {
  it('Change priority unassociated (ok=change failed); Change priority associated (ok=change succeeded)', () => {
    const lt = new L4Test();
    const irq = interruptThread(IRQ_NUMBER);
    const b = boot(function* (env) {
      lt.result('Change priority unassociated (ok=change failed)', (yield* setPriority(env, irq, 12)) === 0);
      const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
      const associated = yield* associateInterrupt(env, irq, me);
      if (!associated.ok) lt.result('Change priority associated: associate failed', false, `error ${associated.errorCode}`);
      else lt.result('Change priority associated (ok=change succeeded)', (yield* setPriority(env, irq, 13)) !== 0);
      // Dissociated again, it has no priority to change.
      yield* dissociateInterrupt(env, irq);
      lt.result('Change priority dissociated (ok=change failed)', (yield* setPriority(env, irq, 14)) === 0);
    });
    finish(b);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(['Change priority unassociated (ok=change failed)', 'Change priority associated (ok=change succeeded)', 'Change priority dissociated (ok=change failed)']);
    expect(b.kernel.threadById(irq)!.priority).toBe(13);
  });

  it('association is checked: privilege, the interrupt id, the timer line, the space and the handler', () => {
    const codes: Record<string, number> = {};
    const errorOf = (r: { ok: boolean; errorCode: number }): number => (r.ok ? 0 : r.errorCode);
    const b = boot(function* (env) {
      const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
      codes.timerLine = errorOf(yield* associateInterrupt(env, interruptThread(0), me));
      codes.badVersion = errorOf(yield* threadControl(env, (5 << 14) | 2, (5 << 14) | 2, 0, me, KEEP));
      codes.otherSpace = errorOf(yield* threadControl(env, interruptThread(5), me, 0, me, KEEP));
      codes.noHandler = errorOf(yield* associateInterrupt(env, interruptThread(5), tid(400)));
      yield* threadControl(env, tid(401), ROOT_ID, ROOT_ID, 0, 0xbf000400); // inactive: no UTCB
      codes.inactiveHandler = errorOf(yield* associateInterrupt(env, interruptThread(5), tid(401)));
      codes.irqAsHandler = errorOf(yield* associateInterrupt(env, interruptThread(5), interruptThread(6)));
      codes.ok = errorOf(yield* associateInterrupt(env, interruptThread(31), me));
      codes.again = errorOf(yield* associateInterrupt(env, interruptThread(31), me));
      // An unprivileged thread may not: NoPrivilege.
      const worker = tid(402);
      yield* threadControl(env, worker, worker, ROOT_ID, 0, 0xbf000000);
      yield* threadControl(env, worker, worker, ROOT_ID, ROOT_ID, KEEP);
    });
    finish(b);
    expect(codes).toEqual({
      timerLine: ErrorCode.InvalidThread,
      badVersion: ErrorCode.InvalidThread,
      otherSpace: ErrorCode.InvalidSpace,
      noHandler: ErrorCode.InvalidThread,
      inactiveHandler: ErrorCode.InvalidThread,
      irqAsHandler: ErrorCode.InvalidThread,
      ok: 0,
      again: 0,
    });
    expect(b.machine.interrupts.isMasked(31)).toBe(false);
    expect(b.machine.interrupts.isMasked(5)).toBe(true);

    // A thread outside the privileged spaces may not associate: NoPrivilege.
    const refused: number[] = [];
    const c = boot(function* (env) {
      const lt = new L4Test();
      const worker = yield* lt.createThread(env, true);
      yield* lt.startThread(env, worker, function* (e: ProgramEnv): Op<void> {
        const r = yield* associateInterrupt(e, interruptThread(4), yield* readTcr(e, TCR_MY_GLOBAL_ID));
        refused.push(r.ok ? 0 : r.errorCode);
      });
    });
    finish(c);
    expect(refused).toEqual([ErrorCode.NoPrivilege]);
    expect(c.machine.interrupts.isMasked(4)).toBe(true);
  });

  it('a raised line arrives as IPC from its interrupt thread, stays masked until the reply, and a request meanwhile comes after it', () => {
    const irq = interruptThread(9);
    const seen: Array<{ from: number; label: number; untyped: number; isInterrupt: boolean; masked: boolean }> = [];
    let b: Booted;
    const handler = function* (env: ProgramEnv): Op<void> {
      let r = yield* wait(env);
      for (let n = 0; n < 2; n++) {
        seen.push({ from: r.from, label: r.tag.label, untyped: r.tag.untyped, isInterrupt: isInterruptMessage(r.tag), masked: b.machine.interrupts.isMasked(9) });
        // A device raises the line again while it is masked: the request is latched.
        if (n === 0) b.machine.interrupts.raise(9);
        yield* loadMRs(env, [0]);
        r = n === 0 ? yield* replyWait(env, irq) : yield* reply(env, irq);
      }
    };
    b = boot(function* (env) {
      yield* startHandler(env, tid(420), 1, handler);
      const r = yield* associateInterrupt(env, irq, tid(420));
      expect(r.ok).toBe(true);
      b.machine.interrupts.raise(9);
    });
    finish(b);
    expect(seen).toEqual([
      { from: irq, label: Label.Interrupt, untyped: 0, isInterrupt: true, masked: true },
      { from: irq, label: Label.Interrupt, untyped: 0, isInterrupt: true, masked: true },
    ]);
    expect(b.kernel.counters.interrupts).toBe(2);
    expect(b.machine.interrupts.acknowledged[9]).toBe(2);
    // The last reply acknowledged it: unmasked, nothing latched.
    expect(b.machine.interrupts.isMasked(9)).toBe(false);
    expect(b.machine.interrupts.isRequested(9)).toBe(false);
  });

  it('lines raised at the same time are delivered by their threads\' priority, then by line', () => {
    const orders: number[][] = [];
    for (const [low, high] of [
      [20, 30],
      [30, 20],
    ] as const) {
      const order: number[] = [];
      const handler = function* (env: ProgramEnv): Op<void> {
        for (let n = 0; n < 3; n++) {
          const r = yield* wait(env);
          order.push(r.from >>> 14);
          yield* loadMRs(env, [0]);
          yield* send(env, r.from, 0x0400);
        }
      };
      const b = boot(function* (env) {
        yield* startHandler(env, tid(430), 1, handler);
        for (const line of [5, 7, 8]) yield* associateInterrupt(env, interruptThread(line), tid(430));
        yield* setPriority(env, interruptThread(5), high);
        yield* setPriority(env, interruptThread(7), low);
        yield* setPriority(env, interruptThread(8), low);
        // All three at the same cycle, while the handler has not run yet.
        for (const line of [8, 7, 5]) b.machine.interrupts.raise(line);
      });
      finish(b);
      orders.push(order);
    }
    // Priorities 30 (line 5) over 20 (7, 8): 5, 7, 8; swapped: 7 and 8 (30) by line, then 5.
    expect(orders).toEqual([
      [5, 7, 8],
      [7, 8, 5],
    ]);
  });

  it('an interrupt for a handler of higher priority preempts the running thread; for a lower one it waits', () => {
    const results: Array<{ raisedAt: number; handledAt: number; busyDoneAt: number }> = [];
    for (const handlerPriority of [100, 50]) {
      let handledAt = 0;
      let busyDoneAt = 0;
      let raisedAt = 0;
      let b: Booted;
      const handler = function* (env: ProgramEnv): Op<void> {
        yield* wait(env);
        handledAt = b.machine.cpu.cycles;
        yield* loadMRs(env, [0]);
        yield* reply(env, interruptThread(12));
      };
      const busy = function* (env: ProgramEnv): Op<void> {
        for (let i = 0; i < 100; i++) yield* env.work(1000);
        busyDoneAt = b.machine.cpu.cycles;
      };
      b = boot(function* (env) {
        yield* startHandler(env, tid(440), 1, handler);
        yield* setPriority(env, tid(440), handlerPriority);
        yield* associateInterrupt(env, interruptThread(12), tid(440));
        yield* startHandler(env, tid(441), 2, busy);
        yield* setPriority(env, tid(441), 90);
        // The device's request comes in the middle of the busy loop; the root task then stops.
        raisedAt = b.machine.cpu.cycles + 30_000;
        b.machine.interrupts.raiseAt(12, raisedAt);
      });
      finish(b);
      results.push({ raisedAt, handledAt, busyDoneAt });
    }
    const [high, low] = results;
    expect(high!.handledAt).toBeGreaterThanOrEqual(high!.raisedAt);
    expect(high!.handledAt).toBeLessThan(high!.raisedAt + 2_000);
    expect(high!.handledAt).toBeLessThan(high!.busyDoneAt);
    expect(low!.handledAt).toBeGreaterThan(low!.busyDoneAt);
  });

  it('the kernel idles until a scheduled interrupt; a dissociated line delivers nothing, and its latched request comes on association', () => {
    const irq = interruptThread(14);
    const handled: number[] = [];
    const checks: Record<string, boolean | number> = {};
    let b: Booted;
    const handler = function* (env: ProgramEnv): Op<void> {
      for (;;) {
        yield* wait(env);
        handled.push(b.machine.cpu.cycles);
        yield* loadMRs(env, [0]);
        yield* reply(env, irq);
      }
    };
    const sleep = function* (env: ProgramEnv, us: number): Op<void> {
      yield* receive(env, yield* readTcr(env, TCR_MY_GLOBAL_ID), timeout(us));
    };
    b = boot(function* (env) {
      yield* startHandler(env, tid(450), 1, handler);
      yield* associateInterrupt(env, irq, tid(450));
      b.machine.interrupts.raiseAt(14, 5_000_000);
      yield* sleep(env, 20_000); // 14.66 million cycles: the interrupt comes in between
      checks.afterFirst = handled.length;
      yield* dissociateInterrupt(env, irq);
      b.machine.interrupts.raise(14);
      yield* sleep(env, 20_000);
      checks.whileDissociated = handled.length;
      checks.latched = b.machine.interrupts.isRequested(14) && b.machine.interrupts.isMasked(14);
      // Schedule refuses a dissociated interrupt thread; a send to it finds no handler's interrupt.
      checks.schedule = yield* setPriority(env, irq, 10);
      yield* associateInterrupt(env, irq, tid(450));
      yield* sleep(env, 1_000);
      checks.afterAssociation = handled.length;
    });
    finish(b);
    expect(checks).toEqual({ afterFirst: 1, whileDissociated: 1, latched: true, schedule: 0, afterAssociation: 2 });
    expect(handled[0]).toBeGreaterThanOrEqual(5_000_000);
    expect(handled[0]).toBeLessThan(5_010_000);
    expect(b.kernel.counters.idleCycles).toBeGreaterThan(4_000_000);
  });

  it('a handler that is deleted dissociates its interrupts; a reply with no interrupt outstanding times out', () => {
    const irq = interruptThread(20);
    const errors: Record<string, string> = {};
    let b: Booted;
    b = boot(function* (env) {
      // A handler that never receives: the interrupt queues at it; deleting it dissociates.
      yield* startHandler(env, tid(460), 1, function* (e: ProgramEnv): Op<void> {
        yield* receive(e, yield* readTcr(e, TCR_MY_GLOBAL_ID), timeout(1000));
      });
      yield* associateInterrupt(env, irq, tid(460));
      b.machine.interrupts.raise(20);
      yield* receive(env, yield* readTcr(env, TCR_MY_GLOBAL_ID), timeout(100));
      yield* threadControl(env, tid(460), 0, 0, 0, KEEP);
      errors.schedule = String(yield* setPriority(env, irq, 10));
      // With no interrupt outstanding, the handler's reply to the interrupt thread finds it not
      // waiting for one: it times out at once, as any reply to a thread that is not waiting.
      yield* associateInterrupt(env, irq, ROOT_ID);
      yield* loadMRs(env, [0]);
      const r = yield* reply(env, irq);
      const info = decodeIpcError(r.errorCode);
      errors.reply = `${info.phase} ${info.code}`;
    });
    finish(b);
    expect(errors.schedule).toBe('0');
    expect(errors.reply).toBe(`send ${IpcError.Timeout}`);
    expect(b.kernel.counters.interrupts).toBe(1);
  });
});
