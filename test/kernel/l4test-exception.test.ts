// Exception IPC, after l4test's exception test (ia32/tests.cc: a thread makes its pager its
// exception handler, divides by zero, and the pager receives the exception message): each kind of
// exception a program thread can raise, the message the handler gets, what the reply does
// (resume after the operation, or start afresh at another IP), deletion by the handler, and the
// halt and console report of a thread without a handler.

import { describe, expect, it } from 'vitest';
import { ExceptionNumber, Label, NILTHREAD, TCR_MY_GLOBAL_ID, TCR_PAGER, type Op, type ProgramBody, type ProgramEnv } from '../../libl4/abi.ts';
import { decodeExceptionMessage, exceptionReply, isExceptionMessage, setExceptionHandler, type ExceptionMessage } from '../../libl4/exception.ts';
import { loadMRs, readTcr, storeMRs } from '../../libl4/registers.ts';
import { receive, reply, send, threadControl, threadSwitch } from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { L4Test } from './l4test.ts';
import { boot, type Booted } from './support.ts';

interface Received {
  tagLabel: number;
  untyped: number;
  isException: boolean;
  message: ExceptionMessage;
}

function* receiveException(env: ProgramEnv, from: number): Op<Received> {
  const r = yield* receive(env, from);
  const words = yield* storeMRs(env, 12, 1);
  return { tagLabel: r.tag.label, untyped: r.tag.untyped, isException: isExceptionMessage(r.tag), message: decodeExceptionMessage(words) };
}

/** Boots a root task that makes one test thread (in a new space or its own) and runs `handler` as its exception handler. */
function scenario(newSpace: boolean, body: ProgramBody, handler: (env: ProgramEnv, tid: number, lt: L4Test) => Op<void>): { b: Booted; lt: L4Test } {
  const lt = new L4Test();
  const b = boot(
    function* root(env: ProgramEnv): Op<void> {
      const tid = yield* lt.createThread(env, newSpace);
      yield* lt.startThread(env, tid, body);
      yield* handler(env, tid, lt);
    },
    { sigma0 },
  );
  const result = b.run(1e10);
  expect(result.reason).toBe('idle');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  return { b, lt };
}

/** Makes the thread's pager its exception handler, as l4test's exc() does. */
function* handlerIsPager(env: ProgramEnv): Op<void> {
  yield* setExceptionHandler(env, yield* readTcr(env, TCR_PAGER));
}

describe('exception IPC (l4test)', () => {
  for (const newSpace of [true, false]) {
    const where = newSpace ? 'a thread in a new space' : 'a thread of the root space';
    it(`${where} raising a host exception is reported to its handler, which deletes it (IA32 exception IPC handling)`, () => {
      let got: Received | undefined;
      let sp = -1;
      let ip = -1;
      const { b, lt } = scenario(
        newSpace,
        function* exc(env) {
          sp = env.sp;
          ip = env.ip;
          yield* handlerIsPager(env);
          throw new RangeError('division by zero');
        },
        function* (env, tid, lt) {
          got = yield* receiveException(env, tid);
          lt.result('IA32 exception IPC handling', (yield* lt.killThread(env, tid)) && got.isException);
        },
      );
      expect(lt.failures()).toEqual([]);
      expect(got!.tagLabel).toBe(Label.Exception);
      expect(got!.untyped).toBe(12);
      expect(got!.message).toEqual({ ip, flags: 0, exception: ExceptionNumber.HostException, errorCode: 0, sp, eax: 0 });
      expect(ip).toBeGreaterThan(0);
      expect(b.kernel.counters.exceptionIpcs).toBe(1);
      expect(b.output()).not.toContain('halted');
      expect(b.kernel.counters.threadsHalted).toBe(0);
    });
  }

  it('an invalid system call is #GP with the number in EAX; the reply resumes it with EAX as the result, its MRs intact', () => {
    const seen: { results?: number[]; mrs?: number[]; messages: ExceptionMessage[] } = { messages: [] };
    const { b } = scenario(
      true,
      function* body(env) {
        yield* handlerIsPager(env);
        yield* loadMRs(env, Array.from({ length: 13 }, (_, i) => 0x100 + i));
        seen.results = yield* env.syscall(99, [1, 2, 3]);
        seen.mrs = yield* storeMRs(env, 13);
        yield* loadMRs(env, [0]);
        yield* send(env, yield* readTcr(env, TCR_PAGER));
      },
      function* (env, tid) {
        const got = yield* receiveException(env, tid);
        seen.messages.push(got.message);
        yield* loadMRs(env, exceptionReply({ ip: got.message.ip, sp: got.message.sp, eax: 0x1234 }));
        yield* reply(env, tid);
        yield* receive(env, tid);
      },
    );
    expect(seen.messages).toHaveLength(1);
    expect(seen.messages[0]).toMatchObject({ exception: ExceptionNumber.GeneralProtection, eax: 99, errorCode: 0 });
    expect(seen.results).toEqual([0x1234]);
    expect(seen.mrs).toEqual(Array.from({ length: 13 }, (_, i) => 0x100 + i));
    expect(b.output()).not.toContain('halted');
  });

  it('a reply with another IP starts the thread there with the reply\'s SP; after a host exception the same IP starts the body afresh', () => {
    const entries: string[] = [];
    let secondSp = 0;
    function* second(env: ProgramEnv): Op<void> {
      entries.push('second');
      secondSp = env.sp;
      yield* loadMRs(env, [0]);
      yield* send(env, yield* readTcr(env, TCR_PAGER));
    }
    let first: ProgramBody;
    first = function* (env: ProgramEnv): Op<void> {
      entries.push('first');
      yield* handlerIsPager(env);
      if (entries.length === 1) throw new Error('first time');
      yield* env.syscall(77, []); // #GP: the handler moves it on to `second`
    };
    const { b } = scenario(
      false,
      (env) => first(env),
      function* (env, tid) {
        // The host exception: the same IP restarts the body from its entry.
        const one = yield* receiveException(env, tid);
        yield* loadMRs(env, exceptionReply({ ip: one.message.ip, sp: 0x5000 }));
        yield* reply(env, tid);
        // The invalid system call: another IP starts `second`.
        const two = yield* receiveException(env, tid);
        yield* loadMRs(env, exceptionReply({ ip: env.codeAddress(second), sp: 0x6000 }));
        yield* reply(env, tid);
        yield* receive(env, tid);
        entries.push(`exceptions ${one.message.exception} ${two.message.exception}`);
      },
    );
    expect(entries).toEqual(['first', 'first', 'second', `exceptions ${ExceptionNumber.HostException} ${ExceptionNumber.GeneralProtection}`]);
    expect(secondSp).toBe(0x6000);
    expect(b.kernel.counters.exceptionIpcs).toBe(2);
  });

  it('a program that yields something else than an environment operation is #UD; the reply lets it go on', () => {
    const steps: string[] = [];
    const { b } = scenario(
      true,
      function* body(env) {
        yield* handlerIsPager(env);
        const back: unknown = yield 42;
        steps.push(`went on with ${String(back)}`);
        yield* loadMRs(env, [0]);
        yield* send(env, yield* readTcr(env, TCR_PAGER));
      },
      function* (env, tid) {
        const got = yield* receiveException(env, tid);
        steps.push(`exception ${got.message.exception}`);
        yield* loadMRs(env, exceptionReply({ ip: got.message.ip, sp: got.message.sp }));
        yield* reply(env, tid);
        yield* receive(env, tid);
      },
    );
    expect(steps).toEqual([`exception ${ExceptionNumber.InvalidOpcode}`, 'went on with undefined']);
    expect(b.output()).not.toContain('halted');
  });

  it('a shutdown by an unprivileged thread is #GP to its handler', () => {
    let exception = -1;
    const { b } = scenario(
      true,
      function* body(env) {
        yield* handlerIsPager(env);
        yield* env.shutdown(3);
      },
      function* (env, tid) {
        exception = (yield* receiveException(env, tid)).message.exception;
        yield* threadControl(env, tid, NILTHREAD, NILTHREAD, NILTHREAD, 0);
      },
    );
    expect(exception).toBe(ExceptionNumber.GeneralProtection);
    expect(b.kernel.exitStatus).toBeNull();
  });

  it('without a handler the thread is halted and reported; a handler that goes away halts it too', () => {
    const outputs: string[] = [];
    for (const raise of ['throw', 'syscall', 'garbage'] as const) {
      const { b } = scenario(
        true,
        function* body(env) {
          if (raise === 'throw') throw new TypeError('no handler here');
          if (raise === 'syscall') yield* env.syscall(1234, []);
          yield 'garbage';
        },
        function* () {},
      );
      outputs.push(b.output().trim().split('\n').pop()!);
      expect(b.kernel.counters.exceptionIpcs).toBe(0);
      expect(b.kernel.counters.threadsHalted).toBe(1);
    }
    expect(outputs[0]).toMatch(/^kernel: thread 67\.1 halted: program raised TypeError: no handler here$/);
    expect(outputs[1]).toMatch(/^kernel: thread 67\.1 halted: invalid system call 1234$/);
    expect(outputs[2]).toMatch(/^kernel: thread 67\.1 halted: program yielded outside the environment$/);

    // The handler is a thread that is deleted while the exception IPC waits for it.
    const { b } = scenario(
      false,
      function* body(env) {
        const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
        yield* setExceptionHandler(env, ((((me >>> 14) + 1) << 14) | 1) >>> 0); // a thread the root makes next
        yield* env.syscall(500, []);
      },
      function* (env, tid) {
        // The handler exists and waits for its own start message, so the exception IPC queues
        // at it; then it is deleted.
        const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
        const other = ((68 << 14) | 1) >>> 0;
        yield* threadControl(env, other, me, me, me, 0xbf000c00);
        yield* threadSwitch(env, tid);
        yield* threadControl(env, other, NILTHREAD, NILTHREAD, NILTHREAD, 0);
      },
    );
    expect(b.output()).toMatch(/kernel: thread 67\.1 halted: invalid system call 500; exception IPC to the handler failed \(error 2\)/);
  });
});
