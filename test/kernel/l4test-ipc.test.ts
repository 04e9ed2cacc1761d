// l4test's IPC group (user/apps/l4test/ipc.cc), re-expressed: two threads made by create_thread,
// within the root task's space (as l4test's local variant) and each in a new space made with UTCB
// location -1 (its inter-space variant, here running every check that applies across spaces).
// Each check is a named result, as l4test prints them.

import { describe, expect, it } from 'vitest';
import { IpcError, NILTHREAD, UTCB_SIZE, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { USER_BASE } from '../../kernel/ia32/kip.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, storeMRs } from '../../libl4/registers.ts';
import { call, exchangeRegisters, receive, replyWait, send, unmapFpages, wait, type IpcResult } from '../../libl4/syscalls.ts';
import { timeout } from '../../libl4/timeout.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { CANCEL_IPC, L4Test, UTCB_BASE, clearMRs, getKilled, sleep } from './l4test.ts';
import { boot } from './support.ts';

const SECOND = 1_000_000;
/** The page l4test's "Pagefault cancelled" faults on (in the root task's memory). */
const FAULT_PAGE = 0x01800000;

function isError(r: IpcResult, phase: 'send' | 'receive', code: number): boolean {
  const info = decodeIpcError(r.errorCode);
  return r.tag.error && info.phase === phase && info.code === code;
}

/** Where create_thread put a thread's UTCB (its local id in its space). */
function utcbLocation(tid: number): number {
  return UTCB_BASE + UTCB_SIZE * ((tid >>> 14) - USER_BASE + 1);
}

function words(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The threads of the IPC group; `sameSpace` chooses l4test's local variant. */
function ipcGroup(lt: L4Test, sameSpace: boolean) {
  function* t1(env: ProgramEnv): Op<void> {
    // Send message transfer: 0..63 words with label 0xf00f, each word its index.
    let ok = true;
    let detail = '';
    for (let n = 0; n <= 63 && ok; n++) {
      yield* clearMRs(env);
      const r = yield* receive(env, lt.t2);
      const got = yield* storeMRs(env, n, 1);
      if (r.tag.error) [ok, detail] = [false, `${n} words: error ${r.errorCode}`];
      else if (r.tag.label !== 0xf00f) [ok, detail] = [false, `${n} words: label ${r.tag.label}`];
      else if (got.join() !== words(n).join()) [ok, detail] = [false, `${n} words: ${got.join()}`];
    }
    lt.result('Send Message transfer', ok, detail);

    // ReplyWait message transfer.
    ok = true;
    detail = '';
    let r = yield* call(env, lt.t2);
    for (let n = 0; n <= 63; n++) {
      const got = yield* storeMRs(env, n, 1);
      if (r.tag.error || r.tag.label !== 0xf00d || got.join() !== words(n).join()) {
        [ok, detail] = [false, `${n} words: label ${r.tag.label} error ${r.errorCode}`];
        break;
      }
      if (n === 63) break;
      yield* clearMRs(env);
      r = yield* replyWait(env, lt.t2);
    }
    lt.result('ReplyWait Message transfer', ok, detail);

    // Send timeout: the partner sends too, so nobody receives.
    yield* loadMRs(env, [0]);
    r = yield* send(env, lt.t2, timeout(SECOND));
    lt.result('Send timeout', isError(r, 'send', IpcError.Timeout), `error ${r.errorCode}`);
    yield* receive(env, lt.t2);

    // Receive timeout: the partner receives too.
    r = yield* receive(env, lt.t2, timeout(SECOND));
    lt.result('Receive timeout', isError(r, 'receive', IpcError.Timeout), `error ${r.errorCode}`);
    yield* loadMRs(env, [0]);
    yield* send(env, lt.t2);

    // Local destination id: within a space the partner reaches us by our local id; across
    // spaces a local id names no thread of ours.
    r = yield* receive(env, lt.t2, timeout(5 * SECOND));
    if (sameSpace) lt.result('Local destination Id', !r.tag.error, `error ${r.errorCode}`);
    else lt.result('Local destination Id (from another space: no such partner)', isError(r, 'receive', IpcError.Timeout), `error ${r.errorCode}`);
    yield* loadMRs(env, [0]);
    yield* send(env, lt.t2);

    if (sameSpace) {
      // Send cancelled by the partner's ExchangeRegisters.
      yield* loadMRs(env, [0]);
      r = yield* send(env, lt.t2);
      lt.result('Send cancelled', isError(r, 'send', IpcError.Canceled), `error ${r.errorCode}`);
      yield* receive(env, lt.t2);

      // Receive cancelled: the call's send phase completes, its receive is cancelled.
      r = yield* call(env, lt.t2);
      lt.result('Receive cancelled', isError(r, 'receive', IpcError.Canceled), `error ${r.errorCode}`);
      yield* loadMRs(env, [0]);
      yield* send(env, lt.t2);
    }

    // Pagefault cancelled: the pager cancels our fault IPC once; MR0..MR63 survive it.
    yield* unmapFpages(env, [fpage(FAULT_PAGE, 12, Rights.Full)], true);
    lt.abortAddress = FAULT_PAGE;
    yield* loadMRs(env, Array.from({ length: 64 }, (_, i) => i + 1));
    yield* env.write8(FAULT_PAGE, 0xff);
    const mrs = yield* storeMRs(env, 64);
    lt.result('Pagefault cancelled', mrs.join() === words(64).join() && lt.abortAddress === 0, `MRs ${mrs.slice(0, 4).join()}...`);

    // From parameter: local within a space, global across.
    r = yield* wait(env);
    const expected = sameSpace ? (yield* exchangeRegisters(env, lt.t2, 0, 0, 0, 0, 0, 0)).result : lt.t2;
    lt.result(sameSpace ? 'From parameter (local)' : 'From parameter (global)', r.from === expected && r.from !== NILTHREAD, `from ${r.from.toString(16)}`);
    yield* loadMRs(env, [0]);
    yield* send(env, lt.t2);

    yield* getKilled(env);
  }

  function* t2(env: ProgramEnv): Op<void> {
    for (let n = 0; n <= 63; n++) {
      yield* loadMRs(env, [msgTag(0xf00f, n), ...words(n)]);
      yield* send(env, lt.t1);
    }
    yield* receive(env, lt.t1);
    for (let n = 0; n <= 63; n++) {
      yield* loadMRs(env, [msgTag(0xf00d, n), ...words(n)]);
      if (n === 63) yield* send(env, lt.t1);
      else yield* replyWait(env, lt.t1);
    }
    // Send timeout.
    yield* loadMRs(env, [0]);
    yield* send(env, lt.t1);
    // Receive timeout.
    yield* receive(env, lt.t1);
    // Local destination id: t1's local id, as ExchangeRegisters converts it (in another space it
    // names no thread: ExchangeRegisters answers nil, and a send to a local id of ours fails).
    const local = (yield* exchangeRegisters(env, lt.t1, 0, 0, 0, 0, 0, 0)).result;
    yield* loadMRs(env, [0]);
    if (sameSpace) yield* send(env, local);
    else {
      lt.result('ExchangeRegisters on a thread of another space: nil', local === NILTHREAD, `result ${local.toString(16)}`);
      const r = yield* send(env, utcbLocation(lt.t1));
      lt.result('Send to a local id of another space: non-existing partner', isError(r, 'send', IpcError.NonExistingPartner), `error ${r.errorCode}`);
    }
    yield* receive(env, lt.t1);
    if (sameSpace) {
      // Send cancel.
      yield* sleep(env, SECOND);
      yield* exchangeRegisters(env, lt.t1, CANCEL_IPC, 0, 0, 0, 0, 0);
      yield* loadMRs(env, [0]);
      yield* send(env, lt.t1);
      // Receive cancel.
      yield* receive(env, lt.t1);
      yield* sleep(env, SECOND);
      yield* exchangeRegisters(env, lt.t1, CANCEL_IPC, 0, 0, 0, 0, 0);
      yield* receive(env, lt.t1);
    }
    // From parameter.
    yield* loadMRs(env, [0]);
    yield* send(env, lt.t1);
    yield* receive(env, lt.t1);
    yield* getKilled(env);
  }
  return { t1, t2 };
}

const EXPECTED_LOCAL = [
  'Send Message transfer',
  'ReplyWait Message transfer',
  'Send timeout',
  'Receive timeout',
  'Local destination Id',
  'Send cancelled',
  'Receive cancelled',
  'Pagefault cancelled',
  'From parameter (local)',
];
const EXPECTED_REMOTE = [
  'Send Message transfer',
  'ReplyWait Message transfer',
  'Send timeout',
  'Receive timeout',
  'ExchangeRegisters on a thread of another space: nil',
  'Send to a local id of another space: non-existing partner',
  'Local destination Id (from another space: no such partner)',
  'Pagefault cancelled',
  'From parameter (global)',
];

function run(sameSpace: boolean): L4Test {
  const lt = new L4Test();
  const group = ipcGroup(lt, sameSpace);
  const b = boot(
    function* root(env: ProgramEnv): Op<void> {
      yield* lt.setupIpcThreads(env, group.t1, group.t2, sameSpace, sameSpace);
    },
    { sigma0 },
  );
  const result = b.run(1e11);
  expect(b.output()).not.toContain('halted');
  expect(result.reason).toBe('idle');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  return lt;
}

describe('l4test IPC group', () => {
  it('within the root task\'s space (l4test\'s local variant)', () => {
    const lt = run(true);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(EXPECTED_LOCAL);
  });

  it('between spaces, each thread made by create_thread(new space) with UTCB location -1', () => {
    const lt = run(false);
    expect(lt.failures()).toEqual([]);
    expect(lt.names()).toEqual(EXPECTED_REMOTE);
    // The fault on the cancelled page was served after the cancel, by a map item.
    expect(lt.faultsServed).toBeGreaterThanOrEqual(1);
  });
});
