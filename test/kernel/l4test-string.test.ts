// l4test's string IPC groups, re-expressed: ipc-string.cc (simple, substring, compound, multiple,
// scatter, gather and complex strings, and cut messages with the exact byte offset, between two
// threads in new spaces) and ipc-pf.cc (8 KiB strings with page faults in the sender's and the
// receiver's buffers served by the pagers, transfer timeouts of both sides and of zero, and
// aborts by ExchangeRegisters from the pager, in both placements of the threads).

import { describe, expect, it } from 'vitest';
import { IpcError, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, setAcceptor, storeMRs } from '../../libl4/registers.ts';
import { compoundString, loadBufferStrings, setXferTimeouts, type StringPart } from '../../libl4/string-item.ts';
import { receive, send, unmapFpages, type IpcResult } from '../../libl4/syscalls.ts';
import { NEVER, ZERO_TIME, timeout } from '../../libl4/timeout.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { L4Test, getKilled } from './l4test.ts';
import { boot, type Booted } from './support.ts';

const PAGE = 4096;
const SECOND = 1_000_000;

/** Parts of a logical string: [length, offsets...] relative to a buffer's base. */
type Part = readonly [number, ...number[]];
const parts = (base: number, list: readonly Part[]): StringPart[] => list.map(([length, ...offsets]) => ({ length, addresses: offsets.map((o) => base + o) }));

function* sendStrings(env: ProgramEnv, to: number, base: number, strings: readonly (readonly Part[])[]): Op<IpcResult> {
  const items = strings.flatMap((s) => compoundString(parts(base, s)));
  yield* loadMRs(env, [msgTag(0, 0, items.length), ...items]);
  return yield* send(env, to);
}

/** What a side of a cut or failed transfer must report: the phase, the code, the offset. */
function reported(r: IpcResult, phase: 'send' | 'receive', code: number, offset: number): string {
  const info = decodeIpcError(r.errorCode);
  const ok = r.tag.error && info.phase === phase && info.code === code && info.offset === offset;
  return ok ? '' : `${info.phase} ${info.name} at byte ${info.offset} (error ${r.tag.error})`;
}

function finish(b: Booted): void {
  const result = b.run(2e11);
  expect(result.reason).toBe('idle');
  expect(b.output()).not.toContain('halted');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

// ---- ipc-string.cc ------------------------------------------------------------------------------

interface StringCase {
  readonly name: string;
  /** The receiver's buffer strings (null: it accepts no strings). */
  readonly buffers: readonly (readonly Part[])[] | null;
  readonly strings: readonly (readonly Part[])[];
  readonly cutpoint: number;
  readonly cut: boolean;
}

const A = [32, 0, 32, 64, 96] as const;
const COMPLEX_BUFFER: readonly Part[] = [
  [16, 0, 16, 32],
  [32, 48, 80, 112, 144],
  [16, 176],
  [64, 192],
];
const CASES: readonly StringCase[] = [
  { name: 'Simple string transfer', buffers: [[[256, 0]]], strings: [[[256, 0]]], cutpoint: 256, cut: false },
  { name: 'Simple substring transfer', buffers: [[[64, 0, 64, 128, 192]]], strings: [[[64, 0, 64, 128, 192]]], cutpoint: 256, cut: false },
  { name: 'Compound substring transfer', buffers: [[A, [64, 128, 192]]], strings: [[A, [64, 128, 192]]], cutpoint: 256, cut: false },
  {
    name: 'Multiple complex strings transfer',
    buffers: [[A], [[32, 128, 160], [64, 192]]],
    strings: [[A], [[32, 128, 160], [64, 192]]],
    cutpoint: 256,
    cut: false,
  },
  { name: 'Scatter', buffers: [[A, [32, 128, 160], [64, 192]]], strings: [[[256, 0]]], cutpoint: 256, cut: false },
  { name: 'Gather', buffers: [[[256, 0]]], strings: [[A, [32, 128, 160], [64, 192]]], cutpoint: 256, cut: false },
  { name: 'Complex Scatter/Gather', buffers: [COMPLEX_BUFFER], strings: [[[32, 0, 32, 64], [64, 96, 160], [16, 224, 240]]], cutpoint: 256, cut: false },
  { name: 'Too long receive buffer', buffers: [COMPLEX_BUFFER], strings: [[[252, 0]]], cutpoint: 252, cut: false },
  { name: 'No receive buffer', buffers: null, strings: [[[256, 0]]], cutpoint: 0, cut: true },
  { name: 'Missing receive buffer', buffers: [[[256, 0]]], strings: [[[128, 0]], [[128, 128]]], cutpoint: 128, cut: true },
  { name: 'Too short receive buffer', buffers: [[[252, 0]]], strings: [[[256, 0]]], cutpoint: 252, cut: true },
  {
    name: 'Complex cut message',
    buffers: [
      [
        [16, 0, 16, 32, 48],
        [32, 64],
      ],
      [
        [32, 96, 128, 160],
        [60, 192],
      ],
    ],
    strings: [[[32, 0, 32, 64]], [[64, 96, 160], [16, 224, 240]]],
    cutpoint: 252,
    cut: true,
  },
];

describe('l4test string IPC (ipc-string.cc, between two new spaces)', () => {
  it('every case transfers the bytes it should, and cut messages report error 4 with the offset on both sides', () => {
    const lt = new L4Test();
    const T1_BUF = 0x01000000;
    const T2_BUF = 0x01000100;
    const senderReports: string[] = [];
    let senderItem = '';

    function* setupBuffers(env: ProgramEnv): Op<void> {
      for (let i = 0; i < 256; i++) {
        yield* env.write8(T1_BUF + i, 0xff);
        yield* env.write8(T2_BUF + i, i);
      }
    }

    function* t1(env: ProgramEnv): Op<void> {
      for (const c of CASES) {
        yield* setupBuffers(env);
        if (c.buffers) {
          yield* loadBufferStrings(env, c.buffers.map((b) => parts(T1_BUF, b)));
          yield* setAcceptor(env, acceptor(0, true));
        } else yield* setAcceptor(env, acceptor(0, false));
        const r = yield* receive(env, lt.t2);
        const [word0, word1] = yield* storeMRs(env, 2, 1);
        yield* loadMRs(env, [0]);
        yield* send(env, lt.t2);
        const problems: string[] = [];
        if (c.cut) {
          const p = reported(r, 'receive', IpcError.MessageOverflow, c.cutpoint);
          if (p) problems.push(`RCV: ${p}`);
        } else if (r.tag.error) problems.push(`RCV: IPC error ${r.errorCode}`);
        // MR1 holds a string item (the sender's, as it sent it).
        if ((word0! & 0x8) !== 0 || word1 === undefined) problems.push('RCV: did not receive a string item');
        const bytes = yield* env.readBytes(T1_BUF, 256);
        const wrong = bytes.findIndex((b, i) => b !== (i >= c.cutpoint ? 0xff : i));
        if (wrong >= 0) problems.push(`RCV: wrong contents in buf[${wrong}]: ${bytes[wrong]}`);
        const sent = senderReports.shift()!;
        if (sent) problems.push(sent);
        lt.result(c.name, problems.length === 0, problems.join('; '));
      }
      yield* getKilled(env);
    }

    function* t2(env: ProgramEnv): Op<void> {
      yield* env.readBytes(T2_BUF, 256); // its buffer mapped beforehand: no faults in this group
      for (const c of CASES) {
        const r = yield* sendStrings(env, lt.t1, T2_BUF, c.strings);
        if (c.cut) {
          const p = reported(r, 'send', IpcError.MessageOverflow, c.cutpoint);
          senderReports.push(p ? `SND: ${p}` : '');
        } else senderReports.push(r.tag.error ? `SND: IPC error ${r.errorCode}` : '');
        yield* receive(env, lt.t1);
      }
      senderItem = 'done';
      yield* getKilled(env);
    }

    const b = boot(
      function* root(env: ProgramEnv): Op<void> {
        yield* lt.setupIpcThreads(env, t1, t2, false, false);
      },
      { sigma0 },
    );
    finish(b);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(CASES.map((c) => c.name));
    expect(senderItem).toBe('done');
    expect(b.kernel.counters.stringFaults).toBe(0);
    // 9 transfers of 256 bytes or 252, and the cut ones up to their cut points.
    expect(b.kernel.counters.stringBytes).toBe(256 * 7 + 252 + 0 + 128 + 252 + 252);
  });
});

// ---- ipc-pf.cc ----------------------------------------------------------------------------------

type Access = 'none' | 'read' | 'rw';
type Fault = 'nofault' | 'xferToSnd' | 'xferToRcv' | 'aborted';

/** Revokes rights on one page of the caller's own space (l4test's revoke_rights: L4_Flush). */
function* revokeRights(env: ProgramEnv, page: number, access: Access): Op<void> {
  if (access === 'rw') return;
  yield* unmapFpages(env, [fpage(page, 12, access === 'none' ? Rights.Full : Rights.Write)], true);
}

interface PfStep {
  readonly name: string;
  readonly t1: readonly [Access, Access];
  readonly t2: readonly [Access, Access];
  /** Transfer timeouts (send, receive) of t1 and t2. */
  readonly xfer1: readonly [number, number];
  readonly xfer2: readonly [number, number];
  readonly cutpoint: number;
  readonly fault: Fault;
  /** Which buffer's second page the pager does not serve, or cancels. */
  readonly block?: 't1' | 't2';
  readonly abort?: 't1' | 't2';
}

const NOT = timeout(Infinity);
const STEPS_1: readonly PfStep[] = [
  { name: 'Simple string transfer (no page faults)', t1: ['rw', 'rw'], t2: ['rw', 'rw'], xfer1: [NOT, NOT], xfer2: [NOT, NOT], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Single sender pagefault', t1: ['rw', 'rw'], t2: ['none', 'rw'], xfer1: [NOT, NOT], xfer2: [NOT, NOT], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Single receiver pagefault', t1: ['none', 'rw'], t2: ['rw', 'rw'], xfer1: [NOT, NOT], xfer2: [NOT, NOT], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Multiple sender and receiver pagefaults', t1: ['none', 'none'], t2: ['none', 'none'], xfer1: [NOT, NOT], xfer2: [NOT, NOT], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Read-only receive buffer', t1: ['read', 'rw'], t2: ['rw', 'rw'], xfer1: [NOT, NOT], xfer2: [NOT, NOT], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Xfer timeouts (no timeout)', t1: ['rw', 'rw'], t2: ['rw', 'none'], xfer1: [NEVER, timeout(30 * SECOND)], xfer2: [timeout(25 * SECOND), NEVER], cutpoint: 2 * PAGE, fault: 'nofault' },
  { name: 'Zero xfer timeouts', t1: ['rw', 'none'], t2: ['rw', 'rw'], xfer1: [NEVER, ZERO_TIME], xfer2: [ZERO_TIME, NEVER], cutpoint: PAGE, fault: 'xferToSnd', block: 't1' },
  { name: 'Sender xfer timeout', t1: ['rw', 'rw'], t2: ['rw', 'none'], xfer1: [NEVER, timeout(30 * SECOND)], xfer2: [timeout(SECOND), NEVER], cutpoint: PAGE, fault: 'xferToSnd', block: 't2' },
  { name: 'Receiver xfer timeout', t1: ['rw', 'rw'], t2: ['rw', 'none'], xfer1: [NEVER, timeout(SECOND)], xfer2: [timeout(30 * SECOND), NEVER], cutpoint: PAGE, fault: 'xferToRcv', block: 't2' },
  { name: 'Sender abort', t1: ['rw', 'rw'], t2: ['rw', 'none'], xfer1: [NEVER, NEVER], xfer2: [NEVER, NEVER], cutpoint: PAGE, fault: 'aborted', abort: 't2' },
];
const STEPS_2: readonly PfStep[] = [
  { name: 'Receiver abort', t1: ['rw', 'none'], t2: ['rw', 'rw'], xfer1: [NEVER, NEVER], xfer2: [NEVER, NEVER], cutpoint: PAGE, fault: 'aborted', abort: 't1' },
];

/** The receiver's and the sender's expected error codes for a failure kind. */
function codes(fault: Fault): { rcv: number; snd: number } {
  switch (fault) {
    case 'xferToSnd':
      return { rcv: IpcError.XferTimeoutPartner, snd: IpcError.XferTimeoutInvoker };
    case 'xferToRcv':
      return { rcv: IpcError.XferTimeoutInvoker, snd: IpcError.XferTimeoutPartner };
    default:
      return { rcv: IpcError.Aborted, snd: IpcError.Aborted };
  }
}

function runPf(steps: readonly PfStep[], rcvSameSpace: boolean, sndSameSpace: boolean): { lt: L4Test; b: Booted } {
  const lt = new L4Test();
  const T1_BUF = 0x01200000;
  const T2_BUF = 0x01300000;
  const senderReports: string[] = [];

  function* t1(env: ProgramEnv): Op<void> {
    for (const s of steps) {
      yield* setXferTimeouts(env, s.xfer1[0], s.xfer1[1]);
      // setup_t1_mappings: fill with 0xff, then revoke rights page by page.
      yield* env.fill(T1_BUF, 2 * PAGE, 0xff);
      yield* revokeRights(env, T1_BUF, s.t1[0]);
      yield* revokeRights(env, T1_BUF + PAGE, s.t1[1]);
      if (s.block === 't1') lt.blockAddress = T1_BUF + PAGE;
      if (s.abort === 't1') lt.abortAddress = T1_BUF + PAGE;
      yield* loadBufferStrings(env, [parts(T1_BUF, [[2 * PAGE, 0]])]);
      yield* setAcceptor(env, acceptor(0, true));
      const r = yield* receive(env, lt.t2);
      const [word0] = yield* storeMRs(env, 1, 1);
      lt.blockAddress = 0;
      yield* loadMRs(env, [0]);
      yield* send(env, lt.t2);
      const problems: string[] = [];
      if (s.fault !== 'nofault') {
        const p = reported(r, 'receive', codes(s.fault).rcv, s.cutpoint);
        if (p) problems.push(`RCV: ${p}`);
      } else if (r.tag.error) problems.push(`RCV: IPC error ${r.errorCode.toString(16)}`);
      if ((word0! & 0x8) !== 0) problems.push('RCV: did not receive a string item');
      const bytes = yield* env.readBytes(T1_BUF, 2 * PAGE);
      const wrong = bytes.findIndex((b, i) => b !== (i >= s.cutpoint ? 0xff : i & 0xff));
      if (wrong >= 0) problems.push(`RCV: wrong contents in buf[${wrong}]: ${bytes[wrong]}`);
      const sent = senderReports.shift();
      if (sent) problems.push(sent);
      lt.result(s.name, problems.length === 0, problems.join('; '));
    }
    yield* setXferTimeouts(env, NEVER, NEVER);
    yield* getKilled(env);
  }

  function* t2(env: ProgramEnv): Op<void> {
    for (const s of steps) {
      yield* setXferTimeouts(env, s.xfer2[0], s.xfer2[1]);
      // setup_t2_mappings: fill with i, then revoke rights page by page.
      for (let i = 0; i < 2 * PAGE; i += 4) yield* env.write32(T2_BUF + i, ((i & 0xff) | (((i + 1) & 0xff) << 8) | (((i + 2) & 0xff) << 16) | (((i + 3) & 0xff) << 24)) >>> 0);
      yield* revokeRights(env, T2_BUF, s.t2[0]);
      yield* revokeRights(env, T2_BUF + PAGE, s.t2[1]);
      if (s.block === 't2') lt.blockAddress = T2_BUF + PAGE;
      if (s.abort === 't2') lt.abortAddress = T2_BUF + PAGE;
      const r = yield* sendStrings(env, lt.t1, T2_BUF, [[[2 * PAGE, 0]]]);
      lt.blockAddress = 0;
      if (s.fault !== 'nofault') {
        const p = reported(r, 'send', codes(s.fault).snd, s.cutpoint);
        senderReports.push(p ? `SND: ${p}` : '');
      } else senderReports.push(r.tag.error ? `SND: IPC error ${r.errorCode.toString(16)}` : '');
      yield* receive(env, lt.t1);
    }
    yield* setXferTimeouts(env, NEVER, NEVER);
    yield* getKilled(env);
  }

  const b = boot(
    function* root(env: ProgramEnv): Op<void> {
      yield* lt.setupIpcThreads(env, t1, t2, rcvSameSpace, sndSameSpace);
    },
    { sigma0 },
  );
  finish(b);
  return { lt, b };
}

describe('l4test string IPC with page faults (ipc-pf.cc)', () => {
  it('receiver in the root task\'s space, sender in a new space: faults on both sides, transfer timeouts and a sender abort', () => {
    const { lt, b } = runPf(STEPS_1, true, false);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(STEPS_1.map((s) => s.name));
    expect(b.kernel.counters.stringFaults).toBeGreaterThanOrEqual(8);
  });

  it('receiver in a new space, sender in the root task\'s: a receiver abort (the fault comes from the receiver)', () => {
    const { lt } = runPf(STEPS_2, false, true);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(STEPS_2.map((s) => s.name));
  });

  it('both in new spaces: every step of both groups', () => {
    const { lt } = runPf([...STEPS_1, ...STEPS_2], false, false);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual([...STEPS_1, ...STEPS_2].map((s) => s.name));
  });
});
