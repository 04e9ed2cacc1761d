// Trace events: what the kernel reports to a trace sink, and that tracing changes nothing.
import { describe, expect, it } from 'vitest';
import { ExchangeControl, NILTHREAD, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { call, exchangeRegisters, loadMRs, reply, threadControl, wait } from '../../libl4/syscalls.ts';
import type { TraceEvent } from '../../kernel/kernel.ts';
import { ROOT_ID, boot, tid } from './support.ts';

const name = (id: number): string => `${id >>> 14}.${id & 0x3fff}`;

function pingPong(trace?: (event: TraceEvent) => void) {
  const server = tid(120);
  function* serverBody(env: ProgramEnv): Op<void> {
    const request = yield* wait(env);
    yield* loadMRs(env, [0]);
    yield* reply(env, request.from);
  }
  return boot(
    function* root(env: ProgramEnv): Op<void> {
      yield* threadControl(env, server, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000200);
      yield* exchangeRegisters(env, server, ExchangeControl.SetIp | ExchangeControl.HaltValid, 0, env.codeAddress(serverBody), 0, 0, 0);
      yield* loadMRs(env, [0]);
      yield* call(env, server);
    },
    { config: trace ? { trace } : {} },
  );
}

describe('trace', () => {
  it('a switch event names the thread switched from, its text the thread switched to', () => {
    const events: TraceEvent[] = [];
    const b = pingPong((event) => events.push(event));
    b.run();
    const switches = events.filter((e) => e.kind === 'switch');
    expect(switches.length).toBeGreaterThanOrEqual(3);
    expect(switches[0]!.thread).toBe(NILTHREAD);
    for (let i = 0; i < switches.length; i++) {
      const to = /^to (\d+\.\d+)$/.exec(switches[i]!.text)![1]!;
      expect(name(switches[i]!.thread)).not.toBe(to);
      // Each switch leaves the thread the one before switched to.
      if (i > 0) expect(name(switches[i]!.thread)).toBe(/^to (\d+\.\d+)$/.exec(switches[i - 1]!.text)![1]);
    }
    expect(switches.map((e) => e.text)).toContain(`to ${name(tid(120))}`);
    expect(switches.length).toBe(b.kernel.counters.contextSwitches);
  });

  it('tracing observes: the counters and cycles are the same without it', () => {
    const traced = pingPong(() => {});
    const plain = pingPong();
    traced.run();
    plain.run();
    expect(traced.kernel.counters).toEqual(plain.kernel.counters);
    expect(traced.machine.cpu.cycles).toBe(plain.machine.cpu.cycles);
  });
});
