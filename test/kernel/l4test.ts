// L4Ka::Pistachio's l4test harness, re-expressed in the program model: the root task creates test
// threads the way l4test's create_thread does (a thread in a new space is created inactive with
// UTCB location -1, SpaceControl then sets up the space, and a second ThreadControl gives the UTCB
// and activates it), starts them with a start message, and serves their page faults in the loop
// of setup_ipc_threads: a fault is answered by touching the page in the root task's own space and
// mapping it (for a thread in another space), a fault at the "abort" address is cancelled with
// ExchangeRegisters, one at the "block" address is never answered, and a thread that sends
// anything but a fault is deleted. Results are recorded by name, as l4test's print_result prints
// them, and the test checks them after the run.
//
// Memory: the root task is paged by sigma0 (1:1), so a buffer at an address of conventional
// memory is the same physical page for the root task and, through its map items, for the test
// threads in other spaces.

import { ExchangeControl, TCR_MY_GLOBAL_ID, TCR_PAGER, UTCB_LOCATION_NOT_SET, UTCB_SIZE, type Op, type ProgramBody, type ProgramEnv } from '../../libl4/abi.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, readTcr, storeMRs } from '../../libl4/registers.ts';
import { call, exchangeRegisters, receive, replyWait, send, spaceControl, threadControl, wait } from '../../libl4/syscalls.ts';
import { timeout } from '../../libl4/timeout.ts';
import { ROOT_THREAD, USER_BASE } from '../../kernel/ia32/kip.ts';

/** Where l4test puts the KIP and the UTCBs in every space it makes (the root task's places). */
export const KIP_AREA = fpage(0xbff00000, 12);
export const UTCB_BASE = 0xbf000000;
/** l4test's UTCB area: room for 1000 threads (512 KiB as an fpage). */
export const UTCB_AREA = fpage(UTCB_BASE, 19);

export interface TestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export class L4Test {
  readonly results: TestResult[] = [];
  /** The two threads of the current setupIpcThreads. */
  t1 = 0;
  t2 = 0;
  /** A fault at this address is cancelled by ExchangeRegisters (then the address is cleared). */
  abortAddress = 0;
  /** A fault at this address is never answered. */
  blockAddress = 0;
  /** Faults served by the pager loop. */
  faultsServed = 0;
  /** The page of our own space a fault at `address` is answered with (the same page by default). */
  pageSource: (address: number) => number = (address) => (address & ~0xfff) >>> 0;
  private nextNumber = ROOT_THREAD + 1;
  private readonly locals = new Map<number, number>();

  /** Records a named result, as l4test's print_result. */
  result(name: string, ok: boolean, detail = ''): void {
    this.results.push({ name, ok, detail });
  }

  /** The results that failed, as "name: detail" lines (empty when all passed). */
  failures(): string[] {
    return this.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);
  }

  names(): string[] {
    return this.results.map((r) => r.name);
  }

  /** create_thread: a thread in a new space (UTCB -1, SpaceControl, activate) or in the root task's space. */
  *createThread(env: ProgramEnv, newSpace: boolean): Op<number> {
    const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
    const number = this.nextNumber++;
    const tid = ((number << 14) | 1) >>> 0;
    const location = UTCB_BASE + UTCB_SIZE * (number - USER_BASE + 1);
    if (newSpace) {
      const inactive = yield* threadControl(env, tid, tid, me, 0, UTCB_LOCATION_NOT_SET);
      if (!inactive.ok) this.result(`create_thread ${number}: ThreadControl`, false, `error ${inactive.errorCode}`);
      const space = yield* spaceControl(env, tid, 0, KIP_AREA, UTCB_AREA, 0);
      if (!space.ok) this.result(`create_thread ${number}: SpaceControl`, false, `error ${space.errorCode}`);
      const active = yield* threadControl(env, tid, tid, me, me, location);
      if (!active.ok) this.result(`create_thread ${number}: ThreadControl activate`, false, `error ${active.errorCode}`);
    } else {
      const active = yield* threadControl(env, tid, me, me, me, location);
      if (!active.ok) this.result(`create_thread ${number}: ThreadControl`, false, `error ${active.errorCode}`);
      this.locals.set(location, tid);
    }
    return tid;
  }

  /** start_thread: the start message (IP, SP) from the thread's pager. */
  *startThread(env: ProgramEnv, tid: number, body: ProgramBody): Op<void> {
    yield* loadMRs(env, [msgTag(0, 2), env.codeAddress(body), 0]);
    yield* send(env, tid);
  }

  /** kill_thread: ThreadControl with space nil (and UTCB -1). */
  *killThread(env: ProgramEnv, tid: number): Op<boolean> {
    return (yield* threadControl(env, tid, 0, 0, 0, UTCB_LOCATION_NOT_SET)).ok;
  }

  /**
   * setup_ipc_threads: t1 and t2 in new spaces or in the root task's, both started, then the pager
   * loop until both have asked to be killed.
   */
  *setupIpcThreads(env: ProgramEnv, f1: ProgramBody, f2: ProgramBody, rcvSameSpace: boolean, sndSameSpace: boolean): Op<void> {
    this.blockAddress = 0;
    this.t1 = yield* this.createThread(env, !rcvSameSpace);
    this.t2 = yield* this.createThread(env, !sndSameSpace);
    yield* this.startThread(env, this.t1, f1);
    yield* this.startThread(env, this.t2, f2);
    let toKill = 2;
    for (;;) {
      let r = yield* wait(env);
      for (;;) {
        const tid = this.global(r.from);
        if (r.tag.untyped !== 2 || r.tag.typed !== 0 || r.tag.error) {
          yield* this.killThread(env, tid);
          if (--toKill === 0) return;
          break;
        }
        const [address] = yield* storeMRs(env, 1, 1);
        if (address === this.abortAddress && address !== 0) {
          yield* exchangeRegisters(env, tid, ExchangeControl.CancelSend | ExchangeControl.CancelReceive, 0, 0, 0, 0, 0);
          this.abortAddress = 0;
          break;
        }
        if (address === this.blockAddress && address !== 0) break;
        // Touch the page in our own space, then map it to a thread of another space.
        const source = this.pageSource(address!);
        const word = (source + (address! & 0xffc)) >>> 0;
        yield* env.write32(word, yield* env.read32(word));
        this.faultsServed++;
        const remote = (tid === this.t1 && !rcvSameSpace) || (tid === this.t2 && !sndSameSpace);
        if (remote) yield* loadMRs(env, [msgTag(0, 0, 2), ...mapItem((address! & ~0xfff) >>> 0, fpage(source, 12, Rights.Full))]);
        else yield* loadMRs(env, [msgTag(0, 0, 0)]);
        r = yield* replyWait(env, tid);
      }
    }
  }

  /** A local id of a root-space thread as its global id (IPC reports local ids within a space). */
  private global(from: number): number {
    return from & 0x3f ? from : (this.locals.get(from) ?? from);
  }
}

/** "Get oneself killed": a call to one's pager with an empty message. */
export function* getKilled(env: ProgramEnv): Op<void> {
  yield* loadMRs(env, [0]);
  yield* call(env, yield* readTcr(env, TCR_PAGER));
}

/** L4_Sleep: a receive from oneself that can only time out. */
export function* sleep(env: ProgramEnv, microseconds: number): Op<void> {
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  yield* receive(env, me, timeout(microseconds));
}

/** Raw ExchangeRegisters control 0x6 (cancel send and receive), as l4test passes it. */
export const CANCEL_IPC = ExchangeControl.CancelSend | ExchangeControl.CancelReceive;

/** Loads MR1..MR63 with `value` (l4test clears them before a receive). */
export function* clearMRs(env: ProgramEnv, value = 0): Op<void> {
  yield* loadMRs(env, Array.from({ length: 63 }, () => value), 1);
}

