// IPC acceptance tests, after L4Ka::Pistachio's l4test IPC group (reference/l4-x2.md): message
// transfer of 0..63 words, call and reply-wait, from ids, send and receive timeouts, non-existing
// partners, cancelling with ExchangeRegisters (also of a page fault, which must keep MR0..MR63),
// the order in which queued senders are taken, anylocalthread receives, message overflow and the
// IPC counter.
//
// Each test boots its own machine. The root task (thread UserBase + 2, privileged, UTCB area
// 0xBF000000) makes the threads: threads in its own space get UTCBs at 0xBF000200, 0xBF000400,
// ... and are started with ExchangeRegisters; threads in a new space get the UTCB at 0xBF000000
// and are started by a start message from their pager (the root task). Programs record what they
// see into arrays the test owns, and the test checks them after the run.

import { describe, expect, it } from 'vitest';
import { ANYLOCALTHREAD, ExchangeControl, Label, NILTHREAD, Syscall, brOffset, type Op, type ProgramBody, type ProgramEnv } from '../../libl4/abi.ts';
import { ipcErrorWord } from '../../libl4/error.ts';
import { NEVER, ZERO_TIME, acceptor, fpage, mapItem, msgTag, Rights, timeout, timeouts } from '../../libl4/message.ts';
import {
  call,
  exchangeRegisters,
  lipc,
  loadMessage,
  loadMRs,
  receive,
  reply,
  replyWait,
  send,
  setAcceptor,
  spaceControl,
  storeMessage,
  storeMRs,
  systemClock,
  threadControl,
  threadSwitch,
  wait,
  type IpcResult,
} from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { ROOT_ID, SIGMA0_ID, boot, tid, type Booted } from './support.ts';

// ---- Helpers -----------------------------------------------------------------------------------

/** The root task's local id: its UTCB address. */
const ROOT_LOCAL = 0xbf000000;
/** UTCB location of the n-th extra thread in the root space (n >= 1). */
const rootUtcb = (n: number): number => ROOT_LOCAL + 0x200 * n;
/** UTCB location of the n-th thread (n >= 0) of a space made by createSpace. */
const spaceUtcb = (n: number): number => 0xbf000000 + 0x200 * n;
const KIP_AREA = fpage(0xbff00000, 12);
const UTCB_AREA = fpage(0xbf000000, 14);
const START = ExchangeControl.SetIp | ExchangeControl.SetSp | ExchangeControl.HaltValid;
const CANCEL_BOTH = ExchangeControl.CancelSend | ExchangeControl.CancelReceive;
/** ExchangeRegisters' returned control bits (X.2): receiving, sending (bit 0 is halted). */
const XR_RECEIVING = 2;
const XR_SENDING = 4;
const MSG_TAG_ERROR = 0x8000;

const sendError = (code: number): number => ipcErrorWord('send', code);
const receiveError = (code: number): number => ipcErrorWord('receive', code);

const TIMEOUT = 1;
const NON_EXISTING_PARTNER = 2;
const CANCELED = 3;
const MESSAGE_OVERFLOW = 4;

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

/** A thread in the root space at `utcb`, activated with `pager`, not started. */
function* createLocal(env: ProgramEnv, id: number, utcb: number, pager: number = ROOT_ID): Op<void> {
  const r = yield* threadControl(env, id, ROOT_ID, ROOT_ID, pager, utcb);
  check(r.ok, `ThreadControl(${id.toString(16)}) failed: error ${r.errorCode}`);
}

/** Starts a thread of the caller's space at `body` with ExchangeRegisters. */
function* startByExchange(env: ProgramEnv, id: number, body: ProgramBody): Op<void> {
  const r = yield* exchangeRegisters(env, id, START, 0, env.codeAddress(body), 0, 0, 0);
  check(r.result !== NILTHREAD, `ExchangeRegisters start of ${id.toString(16)} failed`);
}

/** A thread in the root space, started at `body`. */
function* startLocal(env: ProgramEnv, id: number, utcb: number, body: ProgramBody, pager: number = ROOT_ID): Op<void> {
  yield* createLocal(env, id, utcb, pager);
  yield* startByExchange(env, id, body);
}

/** A new space whose first thread is `id` (UTCB 0xBF000000), activated with `pager`, not started. */
function* createSpace(env: ProgramEnv, id: number, pager: number = ROOT_ID): Op<void> {
  const made = yield* threadControl(env, id, id, ROOT_ID, NILTHREAD, spaceUtcb(0));
  check(made.ok, `ThreadControl(${id.toString(16)}) failed: error ${made.errorCode}`);
  const space = yield* spaceControl(env, id, 0, KIP_AREA, UTCB_AREA, NILTHREAD);
  check(space.ok, `SpaceControl failed: error ${space.errorCode}`);
  const active = yield* threadControl(env, id, id, ROOT_ID, pager, spaceUtcb(0));
  check(active.ok, `ThreadControl activate failed: error ${active.errorCode}`);
}

/** Another thread in the space of `spaceOf`, activated with `pager`, not started. */
function* createIn(env: ProgramEnv, id: number, spaceOf: number, utcb: number, pager: number = ROOT_ID): Op<void> {
  const r = yield* threadControl(env, id, spaceOf, ROOT_ID, pager, utcb);
  check(r.ok, `ThreadControl(${id.toString(16)}) failed: error ${r.errorCode}`);
}

/** The start message (MR1 IP, MR2 SP), sent by the thread's pager. */
function* startMessage(env: ProgramEnv, id: number, body: ProgramBody): Op<void> {
  yield* loadMRs(env, [msgTag(0, 2), env.codeAddress(body), 0]);
  const r = yield* send(env, id);
  check(!r.tag.error, `start message to ${id.toString(16)} failed: error ${r.errorCode}`);
}

/** A thread in a new space, started at `body`. */
function* startRemote(env: ProgramEnv, id: number, body: ProgramBody): Op<void> {
  yield* createSpace(env, id);
  yield* startMessage(env, id, body);
}

/** The fields of an IPC result a test compares. */
interface Outcome {
  from: number;
  errorCode: number;
  error: boolean;
  label: number;
}

function outcome(r: IpcResult): Outcome {
  return { from: r.from, errorCode: r.errorCode, error: r.tag.error, label: r.tag.label };
}

/** What every run must end with: no program failed, the kernel is consistent, the TLBs were not stale. */
function finish(b: Booted): void {
  const result = b.run();
  expect(b.output()).not.toContain('halted');
  expect(result.reason).toBe('idle');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

/** A page of memory from sigma0 at `address` in the caller's space (the caller's pager is sigma0). */
function* sigma0Page(env: ProgramEnv, address: number): Op<void> {
  yield* setAcceptor(env, acceptor(fpage(address, 12)));
  yield* loadMRs(env, [msgTag(Label.Sigma0, 2), 0xfffffc00 | (12 << 4), 0]);
  const r = yield* call(env, SIGMA0_ID);
  check(!r.tag.error && r.tag.typed === 2, 'sigma0 gave no page');
}

const WHERE = ['within a space', 'between spaces'] as const;
type Where = (typeof WHERE)[number];

// ---- Tests -------------------------------------------------------------------------------------

describe('IPC (l4test)', () => {
  // Message words: distinct for every length and position.
  const pattern = (n: number): number[] => Array.from({ length: n }, (_, i) => (Math.imul(n + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
  const sentinel = (i: number): number => (0xdead0000 | i) >>> 0;

  for (const where of WHERE) {
    it(`sends 0..63 untyped words with a label ${where}; each arrives intact`, () => {
      const local = where === 'within a space';
      const receiverId = tid(101);
      const received: Array<{ from: number; errorCode: number; mrs: number[] }> = [];
      const sendErrors: number[] = [];
      const receiver = function* (env: ProgramEnv): Op<void> {
        // A closed receive from the root task, named by its local id within the space.
        const from = local ? ROOT_LOCAL : ROOT_ID;
        for (let n = 0; n <= 63; n++) {
          yield* loadMRs(env, Array.from({ length: 63 }, (_, i) => sentinel(i + 1)), 1);
          const r = yield* receive(env, from);
          received.push({ from: r.from, errorCode: r.errorCode, mrs: yield* storeMRs(env, 64) });
        }
      };
      const b = boot(function* (env) {
        if (local) yield* startLocal(env, receiverId, rootUtcb(1), receiver);
        else yield* startRemote(env, receiverId, receiver);
        for (let n = 0; n <= 63; n++) {
          yield* loadMessage(env, { label: 0x4c00 + n, words: pattern(n) });
          sendErrors.push((yield* send(env, receiverId)).errorCode);
        }
      });
      finish(b);
      expect(sendErrors).toEqual(Array(64).fill(0));
      const expected = Array.from({ length: 64 }, (_, n) => ({
        from: local ? ROOT_LOCAL : ROOT_ID,
        errorCode: 0,
        // The tag as sent, the n words, and the receiver's registers past them untouched.
        mrs: [msgTag(0x4c00 + n, n), ...pattern(n), ...Array.from({ length: 63 - n }, (_, i) => sentinel(n + 1 + i))],
      }));
      expect(received).toEqual(expected);
    });
  }

  it('call and reply-wait: a server answers several calls; from ids are local within a space and global across', () => {
    const SERVER = tid(101);
    const SERVER_LOCAL = rootUtcb(1);
    const C1 = tid(102);
    const C1_LOCAL = rootUtcb(2);
    const C2 = tid(103);
    const CALLS = 5;
    const CLIENTS = 3;
    const served: Array<{ from: number; label: number; words: number[]; errorCode: number }> = [];
    const answers: Array<Array<{ from: number; label: number; words: number[]; errorCode: number }>> = [[], [], []];
    const server = function* (env: ProgramEnv): Op<void> {
      let r = yield* wait(env);
      for (let k = 0; k < CALLS * CLIENTS; k++) {
        const m = yield* storeMessage(env);
        served.push({ from: r.from, label: m.tag.label, words: m.words, errorCode: r.errorCode });
        yield* loadMessage(env, { label: m.tag.label + 1, words: [m.words[1]! * 2 + 1, m.words[0]!] });
        // Reply to the id the request came from (local or global).
        r = k + 1 < CALLS * CLIENTS ? yield* replyWait(env, r.from) : yield* reply(env, r.from);
        check(!r.tag.error, `server: reply failed: ${r.errorCode}`);
      }
    };
    const client = (index: number, to: number, local: boolean): ProgramBody =>
      function* (env: ProgramEnv): Op<void> {
        for (let i = 0; i < CALLS; i++) {
          yield* loadMessage(env, { label: 0x100 + index, words: [index, i * 10 + index] });
          // Within a space by Lipc to the server's local id, across by Ipc to its global id.
          const r = local ? yield* lipc(env, to, to, timeouts(NEVER, NEVER)) : yield* call(env, to);
          const m = yield* storeMessage(env);
          answers[index]!.push({ from: r.from, label: m.tag.label, words: m.words, errorCode: r.errorCode });
        }
      };
    const rootClient = client(0, SERVER, false);
    const localClient = client(1, SERVER_LOCAL, true);
    const remoteClient = client(2, SERVER, false);
    const b = boot(function* (env) {
      yield* startLocal(env, SERVER, SERVER_LOCAL, server);
      yield* startLocal(env, C1, C1_LOCAL, localClient);
      yield* startRemote(env, C2, remoteClient);
      yield* rootClient(env);
    });
    finish(b);
    // The server saw each client under the id valid in its own space.
    const clientIds = [ROOT_LOCAL, C1_LOCAL, C2];
    expect(served).toHaveLength(CALLS * CLIENTS);
    for (let index = 0; index < CLIENTS; index++) {
      expect(served.filter((s) => s.label === 0x100 + index)).toEqual(
        Array.from({ length: CALLS }, (_, i) => ({ from: clientIds[index], label: 0x100 + index, words: [index, i * 10 + index], errorCode: 0 })),
      );
    }
    // Each client saw the server's local id within the root space and its global id from outside.
    const serverIds = [SERVER_LOCAL, SERVER_LOCAL, SERVER];
    for (let index = 0; index < CLIENTS; index++) {
      expect(answers[index]).toEqual(
        Array.from({ length: CALLS }, (_, i) => ({ from: serverIds[index], label: 0x101 + index, words: [2 * (i * 10 + index) + 1, index], errorCode: 0 })),
      );
    }
  });

  for (const where of WHERE) {
    it(`send timeout ${where}: error 1 in the send phase after the timeout, or at once with zero time`, () => {
      const local = where === 'within a space';
      const TARGET = tid(101);
      const PEER = tid(102);
      const results: Array<{ timeoutUs: number; errorCode: number; mr0: number; elapsed: number }> = [];
      // The target and its peer each wait for the other: neither ever receives from the root.
      const target = function* (env: ProgramEnv): Op<void> {
        yield* receive(env, PEER);
      };
      const peer = function* (env: ProgramEnv): Op<void> {
        yield* receive(env, TARGET);
      };
      const b = boot(function* (env) {
        yield* startLocal(env, PEER, rootUtcb(2), peer);
        if (local) yield* startLocal(env, TARGET, rootUtcb(1), target);
        else yield* startRemote(env, TARGET, target);
        yield* threadSwitch(env, TARGET);
        for (const us of [1000, 25_000, 0]) {
          yield* loadMessage(env, { label: 0x5e00, words: [us] });
          const before = yield* systemClock(env);
          const r = yield* send(env, TARGET, us === 0 ? ZERO_TIME : timeout(us));
          const after = yield* systemClock(env);
          const [mr0] = yield* storeMRs(env, 1);
          results.push({ timeoutUs: us, errorCode: r.errorCode, mr0: mr0!, elapsed: after - before });
        }
      });
      finish(b);
      expect(results).toHaveLength(3);
      for (const r of results) {
        expect(r.errorCode).toBe((TIMEOUT << 1) | 0);
        expect(r.mr0).toBe((msgTag(0x5e00, 1) | MSG_TAG_ERROR) >>> 0);
        if (r.timeoutUs > 0) {
          expect(r.elapsed).toBeGreaterThanOrEqual(r.timeoutUs);
          expect(r.elapsed).toBeLessThan(r.timeoutUs + 100);
        } else expect(r.elapsed).toBeLessThan(10);
      }
    });
  }

  for (const where of WHERE) {
    it(`receive timeout ${where}: error 1 in the receive phase after the timeout, or at once with zero time`, () => {
      const local = where === 'within a space';
      const PARTNER = tid(101);
      const results: Array<{ what: string; timeoutUs: number; errorCode: number; error: boolean; elapsed: number }> = [];
      const partnerSaw: Outcome[] = [];
      // Takes one message and never answers, nor sends anything.
      const partner = function* (env: ProgramEnv): Op<void> {
        partnerSaw.push(outcome(yield* wait(env)));
        yield* wait(env);
      };
      const b = boot(function* (env) {
        if (local) yield* startLocal(env, PARTNER, rootUtcb(1), partner);
        else yield* startRemote(env, PARTNER, partner);
        const probe = function* (what: string, timeoutUs: number, ipcOp: (t: number) => Op<IpcResult>): Op<void> {
          const before = yield* systemClock(env);
          const r = yield* ipcOp(timeoutUs === 0 ? ZERO_TIME : timeout(timeoutUs));
          const after = yield* systemClock(env);
          results.push({ what, timeoutUs, errorCode: r.errorCode, error: r.tag.error, elapsed: after - before });
        };
        yield* probe('closed', 1500, (t) => receive(env, PARTNER, t));
        yield* probe('open', 3000, (t) => wait(env, t));
        yield* probe('closed', 0, (t) => receive(env, PARTNER, t));
        yield* probe('open', 0, (t) => wait(env, t));
        // A call whose send phase succeeds and whose answer never comes.
        yield* loadMessage(env, { label: 0x7e00, words: [] });
        yield* probe('call', 2000, (t) => call(env, PARTNER, timeouts(NEVER, t)));
      });
      finish(b);
      expect(results.map((r) => [r.what, r.timeoutUs, r.errorCode, r.error])).toEqual([
        ['closed', 1500, (TIMEOUT << 1) | 1, true],
        ['open', 3000, (TIMEOUT << 1) | 1, true],
        ['closed', 0, (TIMEOUT << 1) | 1, true],
        ['open', 0, (TIMEOUT << 1) | 1, true],
        ['call', 2000, (TIMEOUT << 1) | 1, true],
      ]);
      for (const r of results) {
        if (r.timeoutUs > 0) {
          expect(r.elapsed).toBeGreaterThanOrEqual(r.timeoutUs);
          expect(r.elapsed).toBeLessThan(r.timeoutUs + 100);
        } else expect(r.elapsed).toBeLessThan(10);
      }
      expect(partnerSaw).toEqual([{ from: local ? ROOT_LOCAL : ROOT_ID, errorCode: 0, error: false, label: 0x7e00 }]);
    });
  }

  it('non-existing partner: error 2 in the send phase, and in the receive phase for a closed receive', () => {
    const INACTIVE = tid(102);
    const REMOTE = tid(103);
    const DOOMED = tid(104);
    const SENDER = tid(105);
    const WAITER = tid(106);
    const LOCAL_WAITER = tid(107);
    const rootSaw: Array<[string, number, boolean]> = [];
    const remoteSaw: Array<[string, number, boolean]> = [];
    const blockedSaw: Array<[string, number, boolean]> = [];
    const record = (into: Array<[string, number, boolean]>, what: string, r: IpcResult): void => {
      into.push([what, r.errorCode, r.tag.error]);
    };
    const remote = function* (env: ProgramEnv): Op<void> {
      yield* loadMessage(env, { label: 1, words: [1] });
      record(remoteSaw, 'send to unknown global id', yield* send(env, tid(300)));
      yield* loadMessage(env, { label: 1, words: [1] });
      record(remoteSaw, 'call to unknown global id', yield* call(env, tid(300)));
      yield* loadMessage(env, { label: 1, words: [1] });
      record(remoteSaw, 'send to unused local id', yield* send(env, spaceUtcb(3)));
      record(remoteSaw, 'receive from unknown global id', yield* receive(env, tid(301)));
      record(remoteSaw, 'receive from unused local id', yield* receive(env, spaceUtcb(3)));
    };
    // DOOMED never receives; SENDER blocks sending to it, WAITER (another space) and LOCAL_WAITER
    // (its own space, naming it by its local id) receiving from it.
    const doomed = function* (_env: ProgramEnv): Op<void> {};
    const sender = function* (env: ProgramEnv): Op<void> {
      yield* loadMessage(env, { label: 2, words: [2] });
      record(blockedSaw, 'send to a thread deleted meanwhile', yield* send(env, DOOMED));
    };
    const waiter = function* (env: ProgramEnv): Op<void> {
      record(blockedSaw, 'receive from a thread deleted meanwhile', yield* receive(env, DOOMED));
    };
    const localWaiter = function* (env: ProgramEnv): Op<void> {
      record(blockedSaw, 'receive by local id from a thread deleted meanwhile', yield* receive(env, rootUtcb(3)));
    };
    const b = boot(function* (env) {
      yield* loadMessage(env, { label: 1, words: [1] });
      record(rootSaw, 'send to unknown global id', yield* send(env, tid(300)));
      yield* loadMessage(env, { label: 1, words: [1] });
      record(rootSaw, 'send to unused local id', yield* send(env, rootUtcb(30)));
      // A thread that exists but was never activated is no partner either.
      const made = yield* threadControl(env, INACTIVE, ROOT_ID, ROOT_ID, NILTHREAD, rootUtcb(2));
      check(made.ok, 'ThreadControl failed');
      yield* loadMessage(env, { label: 1, words: [1] });
      record(rootSaw, 'send to inactive thread', yield* send(env, INACTIVE));
      yield* loadMessage(env, { label: 1, words: [1] });
      record(rootSaw, 'send with zero timeout to unknown id', yield* send(env, tid(300), ZERO_TIME));
      record(rootSaw, 'receive from unknown global id', yield* receive(env, tid(300)));
      record(rootSaw, 'receive from unused local id', yield* receive(env, rootUtcb(30)));
      yield* startRemote(env, REMOTE, remote);
      // Partners that disappear while a thread waits for them.
      yield* startLocal(env, DOOMED, rootUtcb(3), doomed);
      yield* startLocal(env, SENDER, rootUtcb(4), sender);
      yield* startRemote(env, WAITER, waiter);
      yield* startLocal(env, LOCAL_WAITER, rootUtcb(5), localWaiter);
      for (const id of [DOOMED, SENDER, WAITER, LOCAL_WAITER]) yield* threadSwitch(env, id);
      const deleted = yield* threadControl(env, DOOMED, NILTHREAD, NILTHREAD, NILTHREAD, 0);
      check(deleted.ok, 'deleting the partner failed');
    });
    finish(b);
    const send2 = sendError(NON_EXISTING_PARTNER);
    const receive2 = receiveError(NON_EXISTING_PARTNER);
    expect(rootSaw).toEqual([
      ['send to unknown global id', send2, true],
      ['send to unused local id', send2, true],
      ['send to inactive thread', send2, true],
      ['send with zero timeout to unknown id', send2, true],
      ['receive from unknown global id', receive2, true],
      ['receive from unused local id', receive2, true],
    ]);
    expect(remoteSaw).toEqual([
      ['send to unknown global id', send2, true],
      ['call to unknown global id', send2, true],
      ['send to unused local id', send2, true],
      ['receive from unknown global id', receive2, true],
      ['receive from unused local id', receive2, true],
    ]);
    expect(blockedSaw).toEqual([
      ['send to a thread deleted meanwhile', send2, true],
      ['receive from a thread deleted meanwhile', receive2, true],
      ['receive by local id from a thread deleted meanwhile', receive2, true],
    ]);
  });

  for (const where of WHERE) {
    it(`ExchangeRegisters cancels a blocked receive and a blocked send (partners ${where}): error 3 with the phase`, () => {
      // The victims and the canceller share a space; their IPC partners are in the root space.
      const partnersLocal = where === 'within a space';
      const SILENT = tid(101); // receives once, never answers
      const DEAF = tid(102); // never receives
      const RECEIVER = tid(110); // calls SILENT: blocked in the receive phase
      const SENDER = tid(111); // sends to DEAF: blocked in the send phase
      const CANCELLER = tid(112);
      const victims: Record<string, Outcome> = {};
      const controls: Record<string, number> = {};
      const rootTry: Array<{ result: number }> = [];
      const silent = function* (env: ProgramEnv): Op<void> {
        yield* wait(env);
        yield* wait(env); // nobody else sends to it
      };
      const deaf = function* (_env: ProgramEnv): Op<void> {};
      const receiver = function* (env: ProgramEnv): Op<void> {
        yield* loadMessage(env, { label: 0x31, words: [] });
        victims.receiver = outcome(yield* call(env, SILENT));
      };
      const sender = function* (env: ProgramEnv): Op<void> {
        yield* loadMessage(env, { label: 0x32, words: [] });
        victims.sender = outcome(yield* send(env, DEAF));
      };
      const canceller = function* (env: ProgramEnv): Op<void> {
        // The wrong kind of cancel leaves each IPC alone; the returned control shows its phase.
        const xr = (dest: number, control: number) => exchangeRegisters(env, dest, control, 0, 0, 0, 0, 0);
        controls.receiverWrongCancel = (yield* xr(RECEIVER, ExchangeControl.CancelSend)).control;
        controls.receiverCancel = (yield* xr(RECEIVER, ExchangeControl.CancelReceive)).control;
        controls.senderWrongCancel = (yield* xr(SENDER, ExchangeControl.CancelReceive)).control;
        controls.senderCancel = (yield* xr(SENDER, ExchangeControl.CancelSend)).control;
        controls.receiverAfter = (yield* xr(RECEIVER, 0)).control;
      };
      const b = boot(function* (env) {
        yield* startLocal(env, SILENT, rootUtcb(1), silent);
        yield* startLocal(env, DEAF, rootUtcb(2), deaf);
        yield* threadSwitch(env, SILENT);
        yield* threadSwitch(env, DEAF);
        if (partnersLocal) {
          yield* createLocal(env, RECEIVER, rootUtcb(3));
          yield* createLocal(env, SENDER, rootUtcb(4));
          yield* createLocal(env, CANCELLER, rootUtcb(5));
          yield* startByExchange(env, RECEIVER, receiver);
          yield* startByExchange(env, SENDER, sender);
        } else {
          yield* createSpace(env, RECEIVER);
          yield* createIn(env, SENDER, RECEIVER, spaceUtcb(1));
          yield* createIn(env, CANCELLER, RECEIVER, spaceUtcb(2));
          yield* startMessage(env, RECEIVER, receiver);
          yield* startMessage(env, SENDER, sender);
        }
        yield* threadSwitch(env, RECEIVER);
        yield* threadSwitch(env, SENDER);
        if (!partnersLocal) {
          // ExchangeRegisters reaches a thread of another space as its pager: it reads the
          // receiver's registers (its local id comes back) and leaves its IPC alone.
          const r = yield* exchangeRegisters(env, RECEIVER, 0, 0, 0, 0, 0, 0);
          rootTry.push({ result: r.result });
          yield* startMessage(env, CANCELLER, canceller);
        } else yield* startByExchange(env, CANCELLER, canceller);
      });
      finish(b);
      expect(victims.receiver).toEqual({ from: NILTHREAD, errorCode: receiveError(CANCELED), error: true, label: 0x31 });
      expect(victims.sender).toEqual({ from: NILTHREAD, errorCode: sendError(CANCELED), error: true, label: 0x32 });
      expect(controls.receiverWrongCancel! & 7).toBe(XR_RECEIVING);
      expect(controls.receiverCancel! & 7).toBe(XR_RECEIVING);
      expect(controls.senderWrongCancel! & 7).toBe(XR_SENDING);
      expect(controls.senderCancel! & 7).toBe(XR_SENDING);
      expect(controls.receiverAfter! & (XR_RECEIVING | XR_SENDING)).toBe(0);
      if (!partnersLocal) expect(rootTry).toEqual([{ result: spaceUtcb(0) }]);
    });
  }

  for (const where of WHERE) {
    for (const phase of ['receive', 'send'] as const) {
      it(`a page fault cancelled in its ${phase} phase keeps MR0..MR63 (${where})`, () => {
        const local = where === 'within a space';
        const FAULTER = tid(110);
        const CANCELLER = tid(111);
        const BUFFER = 0x40000000; // the root task's page from sigma0
        const TOUCHED = 0x10000000; // unmapped in the faulter's space
        const MARKER = 0x5a5aa5a5;
        const mrPattern = Array.from({ length: 64 }, (_, i) => (Math.imul(i + 7, 0x2545f491) ^ 0x13579bdf) >>> 0);
        const BR0 = 0xabc00000;
        const faults: Array<{ from: number; mrs: number[] }> = [];
        const after: { mrs?: number[]; br0?: number; value?: number } = {};
        const cancel: { result?: number; control?: number } = {};
        let faulterIp = 0;
        const faulter = function* (env: ProgramEnv): Op<void> {
          yield* loadMRs(env, mrPattern);
          yield* env.write32(env.utcb + brOffset(0), BR0);
          after.value = yield* env.read32(TOUCHED);
          after.mrs = yield* storeMRs(env, 64);
          after.br0 = yield* env.read32(env.utcb + brOffset(0));
        };
        const canceller = function* (env: ProgramEnv): Op<void> {
          const r = yield* exchangeRegisters(env, FAULTER, CANCEL_BOTH, 0, 0, 0, 0, 0);
          cancel.result = r.result;
          cancel.control = r.control;
        };
        const b = boot(
          function* (env) {
            faulterIp = env.codeAddress(faulter);
            yield* sigma0Page(env, BUFFER);
            yield* env.write32(BUFFER, MARKER);
            // The faulter and the canceller share a space; the root task is the faulter's pager.
            if (local) {
              yield* startLocal(env, FAULTER, rootUtcb(1), faulter);
              yield* createLocal(env, CANCELLER, rootUtcb(2));
            } else {
              yield* createSpace(env, FAULTER);
              yield* createIn(env, CANCELLER, FAULTER, spaceUtcb(1));
              yield* startMessage(env, FAULTER, faulter);
            }
            if (phase === 'receive') {
              // The fault arrives; the pager sits on it until the canceller has cancelled it.
              const first = yield* wait(env);
              faults.push({ from: first.from, mrs: yield* storeMRs(env, 3) });
            } else {
              // The pager is busy: the fault IPC waits in its send phase.
              yield* threadSwitch(env, FAULTER);
            }
            if (local) yield* startByExchange(env, CANCELLER, canceller);
            else yield* startMessage(env, CANCELLER, canceller);
            yield* threadSwitch(env, CANCELLER);
            // The kernel retries the access: the same fault again, which is now served.
            const second = yield* wait(env);
            faults.push({ from: second.from, mrs: yield* storeMRs(env, 3) });
            yield* loadMessage(env, { label: 0, items: mapItem(TOUCHED, fpage(BUFFER, 12, Rights.Full)) });
            const r = yield* reply(env, second.from);
            check(!r.tag.error, `fault reply failed: ${r.errorCode}`);
          },
          { sigma0 },
        );
        finish(b);
        const fault = { from: local ? rootUtcb(1) : FAULTER, mrs: [(((Label.PageFault | 4) << 16) | 2) >>> 0, TOUCHED, faulterIp] };
        expect(faults).toEqual(phase === 'receive' ? [fault, fault] : [fault]);
        expect(cancel).toEqual({ result: local ? rootUtcb(1) : spaceUtcb(0), control: phase === 'receive' ? XR_RECEIVING : XR_SENDING });
        expect(after).toEqual({ value: MARKER, mrs: mrPattern, br0: BR0 });
        expect(b.kernel.counters.pageFaults).toBe(2);
      });
    }
  }

  it('an open receive takes the queued senders in sending order; a closed receive picks its sender first', () => {
    const RECEIVER = tid(101);
    const S1 = tid(102);
    const S2 = tid(103);
    const S3 = tid(104);
    const S4 = tid(105);
    const OPEN = 0;
    const CLOSED = 1;
    const seen: Array<Array<{ from: number; label: number; word: number }>> = [[], []];
    const sender = (id: number): ProgramBody =>
      function* (env: ProgramEnv): Op<void> {
        yield* loadMessage(env, { label: 0x500 + (id >>> 14), words: [id] });
        const r = yield* send(env, RECEIVER);
        check(!r.tag.error, `sender ${id >>> 14}: error ${r.errorCode}`);
      };
    const senders = new Map([S1, S2, S3, S4].map((id) => [id, sender(id)]));
    const record = function* (env: ProgramEnv, run: number, r: IpcResult): Op<void> {
      const m = yield* storeMessage(env);
      seen[run]!.push({ from: r.from, label: m.tag.label, word: m.words[0]! });
    };
    const openReceiver = function* (env: ProgramEnv): Op<void> {
      for (let i = 0; i < 4; i++) yield* record(env, OPEN, yield* wait(env));
    };
    const closedReceiver = function* (env: ProgramEnv): Op<void> {
      yield* record(env, CLOSED, yield* receive(env, S4)); // a sender of another space, by global id
      yield* record(env, CLOSED, yield* receive(env, rootUtcb(2))); // S1, by local id
      for (let i = 0; i < 2; i++) yield* record(env, CLOSED, yield* wait(env));
    };
    const scenario = (receiverBody: ProgramBody) =>
      function* (env: ProgramEnv): Op<void> {
        // The receiver is activated but not started, so every sender queues at it.
        yield* createLocal(env, RECEIVER, rootUtcb(1));
        yield* createLocal(env, S1, rootUtcb(2));
        yield* createLocal(env, S3, rootUtcb(3));
        yield* createSpace(env, S2);
        yield* createSpace(env, S4);
        // Sending order: S3 (local), S2 (remote), S4 (remote), S1 (local).
        for (const id of [S3, S2, S4, S1]) {
          if (id === S1 || id === S3) yield* startByExchange(env, id, senders.get(id)!);
          else yield* startMessage(env, id, senders.get(id)!);
          yield* threadSwitch(env, id);
        }
        yield* startByExchange(env, RECEIVER, receiverBody);
      };
    const expected = (id: number): { from: number; label: number; word: number } => ({
      from: id === S1 ? rootUtcb(2) : id === S3 ? rootUtcb(3) : id,
      label: 0x500 + (id >>> 14),
      word: id,
    });
    for (const body of [openReceiver, closedReceiver]) {
      const b = boot(scenario(body));
      finish(b);
      expect(b.kernel.counters.ipcErrors).toBe(0);
    }
    expect(seen[OPEN]).toEqual([S3, S2, S4, S1].map(expected));
    expect(seen[CLOSED]).toEqual([S4, S1, S3, S2].map(expected));
  });

  it('an anylocalthread receive (Lipc) accepts only senders of its own space', () => {
    const RECEIVER = tid(101);
    const RECEIVER_LOCAL = rootUtcb(1);
    const REMOTE = tid(102);
    const LOCAL = tid(103);
    const LOCAL_LOCAL = rootUtcb(2);
    const got: Outcome[] = [];
    const senders: Record<string, Outcome> = {};
    const receiver = function* (env: ProgramEnv): Op<void> {
      // Waiting before anyone sends: the remote sender must queue even so.
      got.push(outcome(yield* lipc(env, NILTHREAD, ANYLOCALTHREAD, timeouts(NEVER, NEVER))));
      // The remote sender is still queued: an anylocalthread receive does not take it.
      got.push(outcome(yield* lipc(env, NILTHREAD, ANYLOCALTHREAD, timeouts(NEVER, timeout(1000)))));
      // An open receive does.
      got.push(outcome(yield* wait(env)));
    };
    const remote = function* (env: ProgramEnv): Op<void> {
      yield* loadMessage(env, { label: 0xaa01, words: [1] });
      senders.remote = outcome(yield* send(env, RECEIVER));
    };
    const local = function* (env: ProgramEnv): Op<void> {
      yield* loadMessage(env, { label: 0xaa02, words: [2] });
      senders.local = outcome(yield* lipc(env, RECEIVER_LOCAL, NILTHREAD, timeouts(NEVER, NEVER)));
    };
    const b = boot(function* (env) {
      yield* startLocal(env, RECEIVER, RECEIVER_LOCAL, receiver);
      yield* threadSwitch(env, RECEIVER);
      yield* startRemote(env, REMOTE, remote);
      yield* threadSwitch(env, REMOTE);
      yield* startLocal(env, LOCAL, LOCAL_LOCAL, local);
    });
    finish(b);
    expect(got).toEqual([
      { from: LOCAL_LOCAL, errorCode: 0, error: false, label: 0xaa02 },
      // MR0 is not a message after a failed receive: only its E bit counts.
      { from: NILTHREAD, errorCode: receiveError(TIMEOUT), error: true, label: expect.any(Number) },
      { from: REMOTE, errorCode: 0, error: false, label: 0xaa01 },
    ]);
    expect(senders).toEqual({
      remote: { from: NILTHREAD, errorCode: 0, error: false, label: 0xaa01 },
      local: { from: NILTHREAD, errorCode: 0, error: false, label: 0xaa02 },
    });
  });

  for (const where of WHERE) {
    it(`a map item to a receiver with a nil acceptor is a message overflow for both (${where})`, () => {
      const local = where === 'within a space';
      const RECEIVER = tid(101);
      const BUFFER = 0x40000000;
      const WINDOW = 0x30000000;
      const MARKER = 0x600dcafe;
      const sent: number[] = [];
      const got: Array<Outcome & { untyped: number; typed: number }> = [];
      let value = 0;
      const receiver = function* (env: ProgramEnv): Op<void> {
        const from = local ? ROOT_LOCAL : ROOT_ID;
        for (let i = 0; i < 2; i++) {
          yield* setAcceptor(env, 0);
          const r = yield* receive(env, from);
          got.push({ ...outcome(r), untyped: r.tag.untyped, typed: r.tag.typed });
        }
        // With a window the same message maps the page.
        yield* setAcceptor(env, acceptor(fpage(WINDOW, 12)));
        const r = yield* receive(env, from);
        got.push({ ...outcome(r), untyped: r.tag.untyped, typed: r.tag.typed });
        value = yield* env.read32(WINDOW);
      };
      const b = boot(
        function* (env) {
          yield* sigma0Page(env, BUFFER);
          yield* env.write32(BUFFER, MARKER);
          if (local) yield* startLocal(env, RECEIVER, rootUtcb(1), receiver);
          else yield* startRemote(env, RECEIVER, receiver);
          yield* threadSwitch(env, RECEIVER);
          // 1: the receiver waits already; 2: the sender is queued when the receiver comes; 3: accepted.
          for (let i = 0; i < 3; i++) {
            yield* loadMessage(env, { label: 0x77, words: [i], items: mapItem(0, fpage(BUFFER, 12, Rights.ReadWrite)) });
            sent.push((yield* send(env, RECEIVER)).errorCode);
          }
        },
        { sigma0 },
      );
      finish(b);
      expect(sent).toEqual([sendError(MESSAGE_OVERFLOW), sendError(MESSAGE_OVERFLOW), 0]);
      const from = local ? ROOT_LOCAL : ROOT_ID;
      const overflow = { from, errorCode: receiveError(MESSAGE_OVERFLOW), error: true, label: 0x77, untyped: 1, typed: 2 };
      expect(got).toEqual([overflow, overflow, { from, errorCode: 0, error: false, label: 0x77, untyped: 1, typed: 2 }]);
      expect(value).toBe(MARKER);
    });
  }

  it('kernel.counters.ipcs counts message transfers (not failed IPCs)', () => {
    const SERVER = tid(101);
    const REMOTE = tid(102);
    const DEAF = tid(103);
    const ROOT_CALLS = 10;
    const REMOTE_CALLS = 3;
    const TOTAL = ROOT_CALLS + REMOTE_CALLS;
    let answered = 0;
    const server = function* (env: ProgramEnv): Op<void> {
      let r = yield* wait(env);
      for (let k = 0; k < TOTAL; k++) {
        const [x] = yield* storeMRs(env, 1, 1);
        yield* loadMessage(env, { label: 2, words: [x! + 1] });
        answered++;
        r = k + 1 < TOTAL ? yield* replyWait(env, r.from) : yield* reply(env, r.from);
      }
    };
    const caller = (count: number): ProgramBody =>
      function* (env: ProgramEnv): Op<void> {
        for (let i = 0; i < count; i++) {
          yield* loadMessage(env, { label: 1, words: [i] });
          const r = yield* call(env, SERVER);
          const [y] = yield* storeMRs(env, 1, 1);
          check(!r.tag.error && y === i + 1, `call ${i}: error ${r.errorCode}, answer ${y}`);
        }
      };
    const deaf = function* (_env: ProgramEnv): Op<void> {};
    const remote = caller(REMOTE_CALLS);
    const rootCalls = caller(ROOT_CALLS);
    const b = boot(function* (env) {
      yield* startLocal(env, SERVER, rootUtcb(1), server); // no IPC: started by ExchangeRegisters
      yield* startRemote(env, REMOTE, remote); // one transfer: the start message
      yield* startLocal(env, DEAF, rootUtcb(2), deaf); // never receives, never sends
      yield* threadSwitch(env, DEAF);
      // Three failed IPCs: none transfers anything.
      yield* loadMessage(env, { label: 3, words: [] });
      check((yield* send(env, tid(300))).errorCode === sendError(NON_EXISTING_PARTNER), 'send to tid 300');
      yield* loadMessage(env, { label: 3, words: [] });
      check((yield* send(env, DEAF, ZERO_TIME)).errorCode === sendError(TIMEOUT), 'zero-timeout send');
      check((yield* receive(env, DEAF, ZERO_TIME)).errorCode === receiveError(TIMEOUT), 'zero-timeout receive');
      yield* rootCalls(env);
    });
    finish(b);
    expect(answered).toBe(TOTAL);
    expect(b.kernel.counters.ipcs).toBe(1 + 2 * TOTAL);
    expect(b.kernel.counters.ipcErrors).toBe(3);
    // Ipc system calls: root 1 start + 3 failed + 10 calls; remote 3; server 1 wait + 12 reply-waits + 1 reply.
    expect(b.kernel.syscallCounts[Syscall.Ipc]).toBe(1 + 3 + ROOT_CALLS + REMOTE_CALLS + 1 + (TOTAL - 1) + 1);
  });
});
