// String items beyond l4test's cases: the order in which the partners arrive (a queued sender
// taken by a receive, and one taken by a thread that is not running), map items between strings,
// large strings across spaces, strings that reach kernel memory, deletion during a transfer, and
// what ExchangeRegisters reports of a thread waiting for a copy.

import { describe, expect, it } from 'vitest';
import { ANYTHREAD, ExchangeControl, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, readTcr, setAcceptor } from '../../libl4/registers.ts';
import { loadBufferStrings, stringItem } from '../../libl4/string-item.ts';
import { call, exchangeRegisters, ipc, receive, send, threadControl, threadSwitch, type IpcResult } from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { L4Test } from './l4test.ts';
import { ROOT_ID, boot, tid, type Booted } from './support.ts';

function finish(b: Booted): void {
  const result = b.run(1e10);
  expect(result.reason).toBe('idle');
  expect(b.output()).not.toContain('halted');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

function error(r: IpcResult): string {
  if (!r.tag.error) return 'ok';
  const info = decodeIpcError(r.errorCode);
  return `${info.phase} ${info.name} at ${info.offset}`;
}

/** A receiver's buffer of `length` bytes at `address`, strings accepted. */
function* bufferAt(env: ProgramEnv, address: number, length: number, window = 0): Op<void> {
  yield* loadBufferStrings(env, [[{ length, addresses: [address] }]]);
  yield* setAcceptor(env, acceptor(window, true));
}

function pattern(i: number): number {
  return (i * 7 + (i >>> 8)) & 0xff;
}

describe('string items', () => {
  it('a sender already queued is taken by the receive; 1 MiB crosses spaces intact, both buffers faulted in on the way', () => {
    const lt = new L4Test();
    const SRC = 0x01000000;
    const DST = 0x01400000;
    const SIZE = 1 << 20;
    const seen: Record<string, string | number> = {};
    function* t1(env: ProgramEnv): Op<void> {
      // Let the sender queue first.
      yield* threadSwitch(env, lt.t2);
      yield* bufferAt(env, DST, SIZE);
      seen.receive = error(yield* receive(env, lt.t2));
      const bytes = yield* env.readBytes(DST, SIZE);
      seen.wrong = bytes.findIndex((b, i) => b !== pattern(i));
      yield* loadMRs(env, [0]);
      yield* send(env, lt.t2);
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    function* t2(env: ProgramEnv): Op<void> {
      const data = new Uint8Array(SIZE).map((_, i) => pattern(i));
      yield* env.writeBytes(SRC, data);
      yield* loadMRs(env, [msgTag(0, 0, 2), ...stringItem(SIZE, SRC)]);
      seen.send = error(yield* send(env, lt.t1));
      yield* receive(env, lt.t1);
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    const b = boot(function* (env) {
      yield* lt.setupIpcThreads(env, t1, t2, false, false);
    }, { sigma0 });
    finish(b);
    expect(seen).toEqual({ receive: 'ok', send: 'ok', wrong: -1 });
    expect(b.kernel.counters.stringBytes).toBe(SIZE);
    // The receiver's 256 pages were not mapped: each was a fault from the receiver's side.
    expect(b.kernel.counters.stringFaults).toBeGreaterThanOrEqual(256);
  });

  it('a queued sender taken by a thread that is not running copies when it next runs', () => {
    // S calls R, queued; Q sends a string to S, queued at S; R's receive takes S, whose receive
    // phase takes Q while R runs: Q copies later, in its own turn.
    const R = tid(200);
    const S = tid(201);
    const Q = tid(202);
    const BUF_Q = 0x01000000;
    const BUF_S = 0x01100000;
    const log: string[] = [];
    const b = boot(
      function* root(env: ProgramEnv): Op<void> {
        for (let i = 0; i < 64; i++) yield* env.write32(BUF_Q + 4 * i, 0xa0000000 + i);
        yield* env.write32(BUF_S, 0);
        const create = function* (id: number, n: number): Op<void> {
          yield* threadControl(env, id, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000000 + 0x200 * n);
        };
        const start = function* (id: number, body: (e: ProgramEnv) => Op<void>): Op<void> {
          yield* exchangeRegisters(env, id, ExchangeControl.SetIp | ExchangeControl.HaltValid, 0, env.codeAddress(body), 0, 0, 0);
        };
        const make = function* (id: number, n: number, body: (e: ProgramEnv) => Op<void>): Op<void> {
          yield* create(id, n);
          yield* start(id, body);
        };
        yield* create(R, 3); // exists, not started: S's call queues at it
        yield* make(S, 1, function* (e) {
          yield* bufferAt(e, BUF_S, 256);
          yield* loadMRs(e, [0]);
          // Send to R (queued: R is not receiving yet), then an open receive, which takes Q's string.
          const r = yield* ipc(e, R, ANYTHREAD, 0);
          log.push(`S got ${error(r)} from ${r.from === 0xbf000400 ? 'Q' : r.from.toString(16)} word ${(yield* e.read32(BUF_S + 4 * 63)).toString(16)}`);
        });
        yield* threadSwitch(env, S);
        yield* make(Q, 2, function* (e) {
          yield* loadMRs(e, [msgTag(0, 0, 2), ...stringItem(256, BUF_Q)]);
          log.push(`Q sent ${error(yield* send(e, S))}`);
        });
        yield* threadSwitch(env, Q);
        yield* start(R, function* (e) {
          const r = yield* receive(e, S);
          log.push(`R got ${error(r)}`);
        });
        yield* threadSwitch(env, R);
      },
      { sigma0 },
    );
    finish(b);
    expect(log).toEqual(['R got ok', 'Q sent ok', 'S got ok from Q word a000003f']);
  });

  it('map items before and after strings in one message are performed in order', () => {
    const lt = new L4Test();
    const SRC = 0x01000000;
    const DST = 0x01800000;
    const MAPPED = 0x01200000;
    const seen: Record<string, string | number> = {};
    function* t1(env: ProgramEnv): Op<void> {
      yield* bufferAt(env, DST, 64, fpage(0x20000000, 24));
      seen.receive = error(yield* receive(env, lt.t2));
      seen.first = yield* env.read32(0x20000000);
      seen.string = yield* env.read32(DST + 60);
      seen.second = yield* env.read32(0x20001000);
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    function* t2(env: ProgramEnv): Op<void> {
      yield* env.write32(MAPPED, 0x11111111);
      yield* env.write32(MAPPED + 0x1000, 0x22222222);
      yield* env.write32(SRC + 60, 0x33333333);
      const items = [
        ...mapItem(0, fpage(MAPPED, 12, Rights.Full)),
        ...stringItem(64, SRC),
        ...mapItem(0x1000, fpage(MAPPED + 0x1000, 12, Rights.Full)),
      ];
      yield* loadMRs(env, [msgTag(0, 0, items.length), ...items]);
      seen.send = error(yield* send(env, lt.t1));
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    const b = boot(function* (env) {
      yield* lt.setupIpcThreads(env, t1, t2, false, false);
    }, { sigma0 });
    finish(b);
    expect(seen).toEqual({ receive: 'ok', send: 'ok', first: 0x11111111, string: 0x33333333, second: 0x22222222 });
  });

  it('a string that reaches kernel memory is cut there: error 4 at the bytes copied before it', () => {
    const lt = new L4Test();
    const seen: Record<string, string> = {};
    function* t1(env: ProgramEnv): Op<void> {
      yield* bufferAt(env, 0x01000000, 0x3000);
      seen.receive = error(yield* receive(env, lt.t2));
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    // The sender's page at 0xBFFFF000 is our page at 0x01F00000 (sigma0 has no memory up there).
    lt.pageSource = (address) => (address >= 0xbf000000 ? 0x01f00000 : (address & ~0xfff) >>> 0);
    function* t2(env: ProgramEnv): Op<void> {
      // 0xBFFFF000..0xC0001000: one user page, then the kernel's.
      yield* loadMRs(env, [msgTag(0, 0, 2), ...stringItem(0x2000, 0xbffff000)]);
      seen.send = error(yield* send(env, lt.t1));
      yield* loadMRs(env, [0]);
      yield* call(env, yield* readTcr(env, 0x0c));
    }
    const b = boot(function* (env) {
      yield* lt.setupIpcThreads(env, t1, t2, false, false);
    }, { sigma0 });
    finish(b);
    expect(seen).toEqual({ receive: 'receive MessageOverflow at 4096', send: 'send MessageOverflow at 4096' });
  });

  it('a thread waiting for a copy shows its side in ExchangeRegisters; deleting its partner aborts it with error 7', () => {
    const lt = new L4Test();
    const seen: Record<string, string | number> = {};
    const SRC = 0x01000000;
    const DST = 0x01100000;
    function* t1(env: ProgramEnv): Op<void> {
      yield* env.write32(DST, 0);
      // The receiver's second page is never served: the copy stops there.
      lt.blockAddress = DST + 0x1000;
      yield* bufferAt(env, DST, 0x2000);
      seen.receive = error(yield* receive(env, lt.t2));
    }
    function* t2(env: ProgramEnv): Op<void> {
      yield* env.write32(SRC, 0x5a5a5a5a);
      yield* env.write32(SRC + 0x1000, 0x5a5a5a5a);
      yield* loadMRs(env, [msgTag(0, 0, 2), ...stringItem(0x2000, SRC)]);
      seen.send = error(yield* send(env, lt.t1));
    }
    // A thread of the root space that looks at the stuck transfer, then deletes the receiver.
    function* watcher(env: ProgramEnv): Op<void> {
      yield* receive(env, yield* readTcr(env, TCR_MY_GLOBAL_ID), 0x0400 | (10 << 10) | 0x3ff); // about 1 s
      seen.senderControl = (yield* exchangeRegisters(env, lt.t2, 0, 0, 0, 0, 0, 0)).control & 6;
      seen.kill = (yield* threadControl(env, lt.t1, 0, 0, 0, 0xffffffff)).ok ? 'deleted' : 'refused';
    }
    const b = boot(function* (env) {
      const w = tid(300);
      yield* threadControl(env, w, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf00f000);
      yield* exchangeRegisters(env, w, ExchangeControl.SetIp | ExchangeControl.HaltValid, 0, env.codeAddress(watcher), 0, 0, 0);
      yield* lt.setupIpcThreads(env, t1, t2, false, false);
    }, { sigma0 });
    const result = b.run(1e11);
    expect(result.reason).toBe('idle');
    expect(seen).toEqual({ senderControl: 4, kill: 'deleted', send: 'send Aborted at 4096' });
    expect(b.output()).not.toContain('halted');
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});
