// The reply-wait server loop against scripted IPC results: what it receives with, what it
// replies with (checked in the MRs at the moment of the system call), how it recovers from IPC
// errors in either phase, null replies, the acceptor, and stopping.
import { describe, expect, it } from 'vitest';
import { ANYTHREAD, Syscall } from '../../libl4/abi.ts';
import { ipcErrorWord } from '../../libl4/error.ts';
import type { IpcErrorInfo } from '../../libl4/error.ts';
import { COMPLETE_FPAGE, fpage } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { serve } from '../../libl4/server.ts';
import type { ServerReply, ServerRequest } from '../../libl4/server.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { ZERO_TIME, timeout } from '../../libl4/timeout.ts';
import type { Op } from '../../libl4/abi.ts';
import { FakeEnv, delivers, fails, run } from './fake-env.ts';
import type { SyscallAnswer } from './fake-env.ts';

const alice = globalId(0x50, 1);
const bob = globalId(0x51, 1);
const carol = globalId(0x52, 1);
const WAIT = [0, ANYTHREAD, 0];
const replyWaitTo = (to: number): number[] => [to, ANYTHREAD, ZERO_TIME << 16];

/** Wraps an answer so the MRs (count words) as the kernel saw them are recorded. */
function seeing(log: number[][], count: number, answer: SyscallAnswer): SyscallAnswer {
  return (args, env) => {
    log.push(env.mrs(count));
    return typeof answer === 'function' ? answer(args, env) : answer;
  };
}

describe('serve', () => {
  it('waits, replies with replyWait, and stops', () => {
    const sent: number[][] = [];
    const env = new FakeEnv()
      .answer(Syscall.Ipc, delivers(alice, 0x10, [3, 4]))
      .answer(Syscall.Ipc, seeing(sent, 2, delivers(bob, 0x10, [5, 6])))
      .answer(Syscall.Ipc, seeing(sent, 3, []));
    const requests: ServerRequest[] = [];
    function* add(request: ServerRequest): Op<ServerReply> {
      requests.push(request);
      const [a = 0, b = 0] = request.words;
      if (request.from === bob) return { stop: true, reply: { label: 0, words: [a + b, 99] } };
      return { label: 0, words: [a + b] };
    }
    const summary = run(serve(env, add));
    expect(env.syscalls).toEqual([
      { number: Syscall.Ipc, args: WAIT },
      { number: Syscall.Ipc, args: replyWaitTo(alice) },
      { number: Syscall.Ipc, args: [bob, 0, ZERO_TIME << 16] }, // the last reply: Reply
    ]);
    expect(sent).toEqual([
      [msgTag(0, 1), 7],
      [msgTag(0, 2), 11, 99],
    ]);
    expect(requests.map((request) => [request.from, request.tag.label, request.words])).toEqual([
      [alice, 0x10, [3, 4]],
      [bob, 0x10, [5, 6]],
    ]);
    expect(summary).toEqual({ requests: 2, replies: 2, sendErrors: 0, receiveErrors: 0 });
    expect(env.pendingAnswers).toBe(0);
  });

  it('goes back to an open wait after a receive error, then after a send error', () => {
    const errors: IpcErrorInfo[] = [];
    const env = new FakeEnv()
      .answer(Syscall.Ipc, fails(ipcErrorWord('receive', 3))) // wait canceled
      .answer(Syscall.Ipc, delivers(alice, 1))
      .answer(Syscall.Ipc, fails(ipcErrorWord('send', 1))) // alice stopped waiting
      .answer(Syscall.Ipc, delivers(bob, 1))
      .answer(Syscall.Ipc, fails(ipcErrorWord('receive', 1))) // receive half timed out
      .answer(Syscall.Ipc, delivers(carol, 2));
    function* handler(request: ServerRequest): Op<ServerReply> {
      return request.tag.label === 2 ? { stop: true } : { label: 0 };
    }
    const summary = run(
      serve(env, handler, {
        *onError(error) {
          errors.push(error);
        },
      }),
    );
    expect(env.syscalls.map((s) => s.args)).toEqual([WAIT, WAIT, replyWaitTo(alice), WAIT, replyWaitTo(bob), WAIT]);
    expect(errors.map((error) => `${error.phase} ${error.name}`)).toEqual([
      'receive Canceled',
      'send Timeout',
      'receive Timeout',
    ]);
    expect(summary).toEqual({ requests: 3, replies: 2, sendErrors: 1, receiveErrors: 2 });
  });

  it('a null reply sends nothing and waits again', () => {
    const env = new FakeEnv()
      .answer(Syscall.Ipc, delivers(alice, 1))
      .answer(Syscall.Ipc, delivers(bob, 2));
    const seen: number[] = [];
    function* handler(request: ServerRequest): Op<ServerReply> {
      seen.push(request.from);
      return request.from === alice ? null : { stop: true };
    }
    expect(run(serve(env, handler))).toEqual({ requests: 2, replies: 0, sendErrors: 0, receiveErrors: 0 });
    expect(env.syscalls.map((s) => s.args)).toEqual([WAIT, WAIT]);
    expect(seen).toEqual([alice, bob]);
    expect(env.writes()).toEqual([]); // nothing loaded, no acceptor
  });

  it('hands typed items to the handler and replies with items', () => {
    const item = mapItem(0x5000, fpage(0x5000, 12, 7));
    const sent: number[][] = [];
    const env = new FakeEnv()
      .answer(Syscall.Ipc, delivers(alice, 0xffe2, [0x5004, 0x8000]))
      .answer(Syscall.Ipc, seeing(sent, 3, delivers(bob, 9, [1], item)));
    let received: ServerRequest | undefined;
    function* pager(request: ServerRequest): Op<ServerReply> {
      if (request.tag.label === 9) {
        received = request;
        return { stop: true };
      }
      const page = request.words[0]! & ~0xfff;
      return { label: 0, items: mapItem(page, fpage(page, 12, 7)) };
    }
    run(serve(env, pager));
    expect(sent).toEqual([[msgTag(0, 0, 2), 0x5008, 0x50c7]]);
    expect(received?.words).toEqual([1]);
    expect(received?.items).toEqual([0x5008, 0x50c7]);
  });

  it('writes the acceptor before every receive and uses the receive timeout', () => {
    const acceptorsSeen: number[] = [];
    const acceptorCheck = (answer: SyscallAnswer): SyscallAnswer => (args, env) => {
      acceptorsSeen.push(env.br(0));
      env.poke32(env.utcb + 0x40, 0); // clobber BR0, as other code of the thread might
      return typeof answer === 'function' ? answer(args, env) : answer;
    };
    const env = new FakeEnv()
      .answer(Syscall.Ipc, acceptorCheck(delivers(alice, 1)))
      .answer(Syscall.Ipc, acceptorCheck(fails(ipcErrorWord('receive', 1))))
      .answer(Syscall.Ipc, acceptorCheck(delivers(alice, 2)));
    function* handler(request: ServerRequest): Op<ServerReply> {
      return request.tag.label === 2 ? { stop: true } : { label: 0 };
    }
    run(serve(env, handler, { acceptor: COMPLETE_FPAGE, receiveTimeout: timeout(1000) }));
    expect(acceptorsSeen).toEqual([COMPLETE_FPAGE, COMPLETE_FPAGE, COMPLETE_FPAGE]);
    expect(env.syscalls.map((s) => s.args)).toEqual([
      [0, ANYTHREAD, 0x0c7d],
      [alice, ANYTHREAD, (ZERO_TIME << 16) | 0x0c7d],
      [0, ANYTHREAD, 0x0c7d],
    ]);
  });

  it('counts a failed final reply', () => {
    const env = new FakeEnv()
      .answer(Syscall.Ipc, delivers(alice, 1))
      .answer(Syscall.Ipc, fails(ipcErrorWord('send', 2)));
    function* handler(): Op<ServerReply> {
      return { stop: true, reply: { label: 1 } };
    }
    expect(run(serve(env, handler))).toEqual({ requests: 1, replies: 1, sendErrors: 1, receiveErrors: 0 });
  });

  it('refuses a reply of more than 63 words', () => {
    const env = new FakeEnv().answer(Syscall.Ipc, delivers(alice, 1));
    function* handler(): Op<ServerReply> {
      return { label: 0, words: new Array(64).fill(0) };
    }
    expect(() => run(serve(env, handler))).toThrow(RangeError);
  });
});
