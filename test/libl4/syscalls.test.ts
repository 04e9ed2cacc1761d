// System-call wrappers against the fake environment: the exact system-call number and argument
// words, the UTCB words read and written (at their abi.ts offsets), and the decoded results.
import { describe, expect, it } from 'vitest';
import { ANYTHREAD, NILTHREAD, Syscall, TCR_ERROR_CODE } from '../../libl4/abi.ts';
import { decodeIpcError, ipcErrorWord } from '../../libl4/error.ts';
import { fpage } from '../../libl4/fpage.ts';
import { decodeMsgTag, msgTag } from '../../libl4/msg-tag.ts';
import { loadMessage } from '../../libl4/registers.ts';
import {
  call,
  exchangeRegisters,
  ipc,
  kernelInterface,
  lipc,
  memoryControl,
  processorControl,
  receive,
  reply,
  replyWait,
  schedule,
  send,
  spaceControl,
  systemClock,
  threadControl,
  threadSwitch,
  unmap,
  unmapFpages,
  wait,
} from '../../libl4/syscalls.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { NEVER, ZERO_TIME, timeout, timeouts } from '../../libl4/timeout.ts';
import { FakeEnv, TEST_UTCB, delivers, fails, run, runCollecting } from './fake-env.ts';

const server = globalId(0x40, 1);
const client = globalId(0x41, 1);

describe('KernelInterface, SystemClock, ThreadSwitch', () => {
  it('kernelInterface passes no arguments and names the four results', () => {
    const env = new FakeEnv().answer(Syscall.KernelInterface, [0xbff00000, 0x84050000, 0, 0x04000000]);
    expect(run(kernelInterface(env))).toEqual({
      kip: 0xbff00000,
      apiVersion: 0x84050000,
      apiFlags: 0,
      kernelId: 0x04000000,
    });
    expect(env.syscalls).toEqual([{ number: 0, args: [] }]);
  });

  it('kernelInterface makes signed result words unsigned', () => {
    const env = new FakeEnv().answer(Syscall.KernelInterface, [-1048576, 1]);
    expect(run(kernelInterface(env))).toEqual({ kip: 0xfff00000, apiVersion: 1, apiFlags: 0, kernelId: 0 });
  });

  it('systemClock joins low and high words', () => {
    const env = new FakeEnv().answer(Syscall.SystemClock, [0x89abcdef, 0x12]).answer(Syscall.SystemClock, [5, 0]);
    expect(run(systemClock(env))).toBe(0x12 * 2 ** 32 + 0x89abcdef);
    expect(run(systemClock(env))).toBe(5);
    expect(env.syscalls).toEqual([
      { number: 3, args: [] },
      { number: 3, args: [] },
    ]);
  });

  it('threadSwitch passes dest (nil by default)', () => {
    const env = new FakeEnv().answer(Syscall.ThreadSwitch, []).answer(Syscall.ThreadSwitch, []);
    run(threadSwitch(env, server));
    run(threadSwitch(env));
    expect(env.syscalls).toEqual([
      { number: 4, args: [server] },
      { number: 4, args: [0] },
    ]);
  });
});

describe('ExchangeRegisters, ThreadControl, SpaceControl, Schedule', () => {
  it('exchangeRegisters passes the seven words and names the seven results', () => {
    const env = new FakeEnv().answer(Syscall.ExchangeRegisters, [client, 0x3, 0x1000, 0x2000, 0x202, 0x55, server]);
    const result = run(exchangeRegisters(env, client, 0x1f8, 0x7000, 0x8000, 0, 0x99, -1));
    expect(env.syscalls).toEqual([{ number: 1, args: [client, 0x1f8, 0x7000, 0x8000, 0, 0x99, 0xffffffff] }]);
    expect(result).toEqual({
      result: client,
      control: 3,
      sp: 0x1000,
      ip: 0x2000,
      flags: 0x202,
      userHandle: 0x55,
      pager: server,
    });
    expect(env.accesses).toEqual([]);
  });

  it('threadControl succeeds without reading the ErrorCode TCR', () => {
    const env = new FakeEnv().answer(Syscall.ThreadControl, [1]);
    env.setTcr(TCR_ERROR_CODE, 5);
    expect(run(threadControl(env, client, client, server, server, 0xbf000400))).toEqual({ ok: true, errorCode: 0 });
    expect(env.syscalls).toEqual([{ number: 2, args: [client, client, server, server, 0xbf000400] }]);
    expect(env.accesses).toEqual([]);
  });

  it('threadControl failure reads the ErrorCode TCR', () => {
    const env = new FakeEnv().answer(Syscall.ThreadControl, [0]);
    env.setTcr(TCR_ERROR_CODE, 2);
    expect(run(threadControl(env, client, NILTHREAD, 0, 0, 0))).toEqual({ ok: false, errorCode: 2 });
    expect(env.reads()).toEqual([{ kind: 'read', address: TEST_UTCB + 0x18, size: 4 }]);
  });

  it('spaceControl passes five words and returns ok, control and the error code', () => {
    const env = new FakeEnv().answer(Syscall.SpaceControl, [1, 0x80000000]).answer(Syscall.SpaceControl, [0, 0]);
    const kipArea = fpage(0xbff00000, 12);
    const utcbArea = fpage(0xbf000000, 14);
    expect(run(spaceControl(env, client, 0, kipArea, utcbArea, NILTHREAD))).toEqual({
      ok: true,
      control: 0x80000000,
      errorCode: 0,
    });
    env.setTcr(TCR_ERROR_CODE, 7);
    expect(run(spaceControl(env, client, 0, kipArea, kipArea, NILTHREAD))).toEqual({ ok: false, control: 0, errorCode: 7 });
    expect(env.syscalls[0]).toEqual({ number: 9, args: [client, 0, kipArea, utcbArea, 0] });
  });

  it('schedule passes five words; result 0 reads the error code', () => {
    const env = new FakeEnv().answer(Syscall.Schedule, [3, 0x12345678]).answer(Syscall.Schedule, [0, 0]);
    expect(run(schedule(env, client, 0xffffffff, 0xffffffff, 100, 0xffffffff))).toEqual({
      result: 3,
      timeControl: 0x12345678,
      errorCode: 0,
    });
    expect(env.syscalls[0]).toEqual({ number: 5, args: [client, 0xffffffff, 0xffffffff, 100, 0xffffffff] });
    env.setTcr(TCR_ERROR_CODE, 4);
    expect(run(schedule(env, client, 0, 0, 300, 0))).toEqual({ result: 0, timeControl: 0, errorCode: 4 });
  });

  it('processorControl and memoryControl pass their words', () => {
    const env = new FakeEnv()
      .answer(Syscall.ProcessorControl, [1])
      .answer(Syscall.MemoryControl, [0])
      .answer(Syscall.MemoryControl, [1]);
    expect(run(processorControl(env, 0, 1000, 100, 0))).toEqual({ ok: true, errorCode: 0 });
    env.setTcr(TCR_ERROR_CODE, 1);
    expect(run(memoryControl(env, 1, [2, 3]))).toEqual({ ok: false, errorCode: 1 });
    expect(run(memoryControl(env, 0, [1, 2, 3, 4]))).toEqual({ ok: true, errorCode: 0 });
    expect(env.syscalls).toEqual([
      { number: 10, args: [0, 1000, 100, 0] },
      { number: 11, args: [1, 2, 3] },
      { number: 11, args: [0, 1, 2, 3, 4] },
    ]);
    expect(() => run(memoryControl(env, 0, [1, 2, 3, 4, 5]))).toThrow(RangeError);
  });
});

describe('Unmap', () => {
  it('unmap passes the control word only', () => {
    const env = new FakeEnv().answer(Syscall.Unmap, []);
    run(unmap(env, 0x42));
    expect(env.syscalls).toEqual([{ number: 8, args: [0x42] }]);
    expect(env.accesses).toEqual([]);
  });

  it('unmapFpages loads MR0.., sets count - 1 and flush, and returns the rewritten MRs', () => {
    const pages = [fpage(0x1000, 12, 7), fpage(0x400000, 22, 2), fpage(0x8000, 15, 7)];
    let seenByKernel: number[] = [];
    const env = new FakeEnv().answer(Syscall.Unmap, (_args, kernel) => {
      seenByKernel = kernel.mrs(3);
      kernel.setMr(0, (pages[0]! & ~7) | 6); // status bits in place of the rights
      kernel.setMr(1, pages[1]! & ~7);
      kernel.setMr(2, (pages[2]! & ~7) | 5);
      return [];
    });
    const status = run(unmapFpages(env, pages, true));
    expect(seenByKernel).toEqual(pages);
    expect(env.syscalls).toEqual([{ number: 8, args: [0x40 | 2] }]);
    expect(status).toEqual([0x10c6, 0x400160, 0x80f5]);
    expect(env.accesses).toEqual([
      { kind: 'write', address: TEST_UTCB + 0x100, size: 12 },
      { kind: 'read', address: TEST_UTCB + 0x100, size: 12 },
    ]);
  });

  it('unmapFpages without flush, one fpage: control 0', () => {
    const env = new FakeEnv().answer(Syscall.Unmap, []);
    expect(run(unmapFpages(env, [fpage(0x2000, 12, 2)], false))).toEqual([0x20c2]);
    expect(env.syscalls).toEqual([{ number: 8, args: [0] }]);
  });

  it('unmapFpages takes 1 to 64 fpages', () => {
    const env = new FakeEnv().answer(Syscall.Unmap, []);
    expect(() => run(unmapFpages(env, [], false))).toThrow(RangeError);
    expect(() => run(unmapFpages(env, new Array(65).fill(0x10c7), false))).toThrow(RangeError);
    run(unmapFpages(env, new Array(64).fill(0x10c7), false));
    expect(env.syscalls).toEqual([{ number: 8, args: [63] }]);
  });
});

describe('Ipc and its forms', () => {
  it('ipc passes to, from and timeouts, and decodes MR0 as read back', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(client, 0x1234, [7, 8]));
    const result = run(ipc(env, server, ANYTHREAD, timeouts(NEVER, timeout(1000))));
    expect(env.syscalls).toEqual([{ number: 6, args: [server, 0xffffffff, 0x00000c7d] }]);
    expect(result).toEqual({ from: client, tag: decodeMsgTag(0x12340002), errorCode: 0 });
    // Only MR0 is read: the words stay in the MRs for the caller.
    expect(env.reads()).toEqual([{ kind: 'read', address: TEST_UTCB + 0x100, size: 4 }]);
  });

  it('ipc reads the ErrorCode TCR when MR0 has E set', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, fails(ipcErrorWord('receive', 1)));
    run(loadMessage(env, { label: 5, words: [1] }));
    const result = run(ipc(env, server, server, 0));
    expect(result.tag).toMatchObject({ error: true, label: 5, untyped: 1 });
    expect(result.errorCode).toBe(3);
    expect(decodeIpcError(result.errorCode)).toMatchObject({ phase: 'receive', name: 'Timeout' });
    expect(env.reads().map((access) => access.address)).toEqual([TEST_UTCB + 0x100, TEST_UTCB + 0x18]);
  });

  it('lipc uses the Lipc number', () => {
    const env = new FakeEnv().answer(Syscall.Lipc, delivers(0xbf000400, 1));
    expect(run(lipc(env, 0xbf000400, 0xbf000400, 0)).from).toBe(0xbf000400);
    expect(env.syscalls).toEqual([{ number: 7, args: [0xbf000400, 0xbf000400, 0] }]);
  });

  it('call is Ipc(to, to) with never/never unless told', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(server, 0)).answer(Syscall.Ipc, delivers(server, 0));
    run(call(env, server));
    run(call(env, server, timeouts(ZERO_TIME, timeout(2))));
    expect(env.syscalls).toEqual([
      { number: 6, args: [server, server, 0] },
      { number: 6, args: [server, server, 0x04000401] },
    ]);
  });

  it('send is Ipc(to, nil) with the send timeout in the high half', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, [0]).answer(Syscall.Ipc, [0]);
    run(loadMessage(env, { label: 9 }));
    const result = run(send(env, server));
    run(send(env, server, timeout(1024)));
    expect(result).toEqual({ from: 0, tag: decodeMsgTag(0x00090000), errorCode: 0 });
    expect(env.syscalls).toEqual([
      { number: 6, args: [server, 0, 0] },
      { number: 6, args: [server, 0, 0x28010000] },
    ]);
  });

  it('reply is a send with zero timeout', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, fails(ipcErrorWord('send', 1)));
    const result = run(reply(env, client));
    expect(env.syscalls).toEqual([{ number: 6, args: [client, 0, 0x04000000] }]);
    expect(decodeIpcError(result.errorCode)).toMatchObject({ phase: 'send', name: 'Timeout' });
  });

  it('receive is Ipc(nil, from) with the receive timeout in the low half', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(server, 1)).answer(Syscall.Ipc, delivers(server, 1));
    run(receive(env, server));
    run(receive(env, server, ZERO_TIME));
    expect(env.syscalls).toEqual([
      { number: 6, args: [0, server, 0] },
      { number: 6, args: [0, server, 0x0400] },
    ]);
  });

  it('wait is an open receive from anythread', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(client, 2, [1, 2, 3]));
    const result = run(wait(env, timeout(5)));
    expect(env.syscalls).toEqual([{ number: 6, args: [0, ANYTHREAD, 5] }]);
    expect(result.from).toBe(client);
    expect(result.tag.untyped).toBe(3);
  });

  it('replyWait sends with zero timeout, then receives from anythread', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(server, 2)).answer(Syscall.Ipc, delivers(server, 2));
    run(replyWait(env, client));
    run(replyWait(env, client, timeout(1)));
    expect(env.syscalls).toEqual([
      { number: 6, args: [client, ANYTHREAD, 0x04000000] },
      { number: 6, args: [client, ANYTHREAD, 0x04000001] },
    ]);
  });

  it('a call sends what loadMessage put in the MRs and returns the answer there', () => {
    let sent: number[] = [];
    const env = new FakeEnv().answer(Syscall.Ipc, (_args, kernel) => {
      sent = kernel.mrs(3);
      return delivers(server, 0x77, [42])(_args, kernel);
    });
    run(loadMessage(env, { label: 0x10, words: [1, 2] }));
    const result = run(call(env, server));
    expect(sent).toEqual([msgTag(0x10, 2), 1, 2]);
    expect(result.tag).toMatchObject({ label: 0x77, untyped: 1, error: false });
    expect(env.mr(1)).toBe(42);
  });
});

describe('yields', () => {
  it('wrappers pass the environment’s yields through', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(client, 1)).answer(Syscall.SystemClock, [1, 0]);
    env.yieldOnSyscall = true;
    const first = runCollecting(call(env, client));
    expect(first.yielded).toEqual([{ syscall: Syscall.Ipc }]);
    expect(first.value.from).toBe(client);
    expect(runCollecting(systemClock(env))).toEqual({ value: 1, yielded: [{ syscall: Syscall.SystemClock }] });
  });
});
