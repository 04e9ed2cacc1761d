// IPC hand-off and fairness: a thread woken by IPC runs next, but a pair of threads calling each
// other cannot keep a third thread of their priority off the processor once their slices run out.
import { describe, expect, it } from 'vitest';
import { ExchangeControl, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { call, exchangeRegisters, loadMRs, replyWait, schedule, threadControl, wait } from '../../libl4/syscalls.ts';
import { timeout } from '../../libl4/timeout.ts';
import { ROOT_ID, boot, tid } from './support.ts';

describe('IPC hand-off', () => {
  it('a ping-pong pair does not starve a third thread of its priority', () => {
    const events: string[] = [];
    const server = tid(110);
    const client = tid(111);
    const other = tid(112);
    let rounds = 0;
    function* serverBody(env: ProgramEnv): Op<void> {
      let request = yield* wait(env);
      for (;;) {
        yield* loadMRs(env, [0]);
        request = yield* replyWait(env, request.from);
      }
    }
    function* clientBody(env: ProgramEnv): Op<void> {
      for (;;) {
        yield* loadMRs(env, [0]);
        yield* call(env, server);
        rounds++;
      }
    }
    function* otherBody(env: ProgramEnv): Op<void> {
      events.push(`other ran after ${rounds} rounds`);
      yield* env.shutdown(0);
    }
    const b = boot(function* root(env: ProgramEnv): Op<void> {
      const start = ExchangeControl.SetIp | ExchangeControl.SetSp | ExchangeControl.HaltValid;
      const utcbs = [0xbf000200, 0xbf000400, 0xbf000600];
      const bodies = [serverBody, clientBody, otherBody];
      const ids = [server, client, other];
      for (let i = 0; i < 3; i++) {
        yield* threadControl(env, ids[i]!, ROOT_ID, ROOT_ID, ROOT_ID, utcbs[i]!);
        // Short slices: 200 us.
        yield* schedule(env, ids[i]!, (timeout(200) << 16) | 0xffff, 0xffffffff, 0xffffffff, 0xffffffff);
      }
      for (let i = 0; i < 3; i++) yield* exchangeRegisters(env, ids[i]!, start, 0, env.codeAddress(bodies[i]!), 0, 0, 0);
    });
    const result = b.run(1e9);
    expect(result.reason).toBe('shutdown');
    expect(events).toHaveLength(1);
    expect(rounds).toBeGreaterThan(0);
    expect(b.kernel.checkInvariants()).toEqual([]);
  });

  it('a thread that only makes system calls is still preempted, and the cycle limit stops it', () => {
    const b = boot(function* spin(env: ProgramEnv): Op<void> {
      for (;;) yield* env.syscall(6, [0, 0, 0]); // Ipc(nil, nil): returns at once
    });
    const result = b.run(2e7);
    expect(result.reason).toBe('max-cycles');
    expect(b.kernel.counters.timerInterrupts).toBeGreaterThan(0);
  });
});
