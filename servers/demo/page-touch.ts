// Page touch, after l4test's "Page touch": a task writes `pages` consecutive pages; each fault
// goes to a pager thread, which gets a fresh page from sigma0 and maps it to the faulting
// address with a map item.
//
// Threads: the root task creates the pager (in its own space, paged by sigma0) and starts it
// with ExchangeRegisters; the pager creates nothing: the root task creates the toucher in a new
// space with the pager as its pager, and the pager sends the toucher its start message.

import { ANYTHREAD, ExchangeControl, Label, Syscall, mrOffset, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor, fpage, mapItem, msgTag, Rights } from '../../libl4/message.ts';
import { call, exchangeRegisters, loadMRs, send, setAcceptor, spaceControl, threadControl } from '../../libl4/syscalls.ts';
import { globalId } from '../../libl4/thread-id.ts';

export interface PageTouchOptions {
  /** Pages to write. */
  readonly pages: number;
  /** First page's address in the toucher's space. */
  readonly base?: number;
  /** Thread numbers to use for the pager and the toucher. */
  readonly pagerNumber?: number;
  readonly toucherNumber?: number;
  /** Print a line when done. */
  readonly report?: boolean;
  /**
   * Get all pages from sigma0 in one request before the touching starts, so that each fault is
   * served from the pager's own pool with one map item (a trivial pager, for benchmarks). `pages`
   * is then rounded up to a power of two for the request.
   */
  readonly pool?: boolean;
}

export const PAGE_TOUCH_START = 'page touch: start\n';
export const PAGE_TOUCH_END = 'page touch: end\n';

const SIGMA0 = globalId(64, 1);
const ANY_PAGE = 0xfffffc00;
/** Where the pager receives pages from sigma0 (in its own space). */
const PAGER_BUFFER = 0x40000000;

export function pageTouch(options: PageTouchOptions): (env: ProgramEnv) => Op<void> {
  const pages = options.pages;
  const base = options.base ?? 0x10000000;
  const pagerId = globalId(options.pagerNumber ?? 200, 1);
  const toucherId = globalId(options.toucherNumber ?? 201, 1);

  function* toucher(env: ProgramEnv): Op<void> {
    if (options.pool) yield* env.print(PAGE_TOUCH_START);
    for (let i = 0; i < pages; i++) yield* env.write32(base + i * 4096, i);
    if (options.pool) yield* env.print(PAGE_TOUCH_END);
    let sum = 0;
    for (let i = 0; i < pages; i++) sum += yield* env.read32(base + i * 4096);
    if (options.report) yield* env.print(`page touch: ${pages} pages written and read back, sum ${sum}\n`);
    // Tell the pager we are done (a page-fault label never looks like this).
    yield* loadMRs(env, [msgTag(1, 0, 0)]);
    yield* send(env, pagerId);
  }

  function* pager(env: ProgramEnv): Op<void> {
    let pool = -1;
    if (options.pool) {
      // One sigma0 request for the whole pool, received at PAGER_BUFFER.
      const log2 = Math.max(12, Math.ceil(Math.log2(pages * 4096)));
      yield* setAcceptor(env, acceptor(fpage(PAGER_BUFFER, log2)));
      yield* loadMRs(env, [msgTag(Label.Sigma0, 2, 0), (ANY_PAGE | (log2 << 4)) >>> 0, 0]);
      yield* call(env, SIGMA0);
      pool = PAGER_BUFFER;
    }
    // Start the toucher: MR1 = IP, MR2 = SP.
    yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(toucher), 0]);
    yield* send(env, toucherId);
    // The fault loop uses the raw system call and one read and one write of the MRs per fault,
    // so that a fault costs the kernel's path and little more (a trivial pager).
    const mr0 = env.utcb + mrOffset(0);
    let next = PAGER_BUFFER;
    let [from] = yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    for (;;) {
      const [tag, address] = yield* env.readWords(mr0, 2);
      if (tag! >>> 16 === 1) return;
      if (tag! >>> 20 !== Label.PageFault >>> 4) {
        [from] = yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
        continue;
      }
      if (pool < 0) {
        // A fresh page from sigma0, received at `next` in our own space.
        yield* setAcceptor(env, acceptor(fpage(next, 12)));
        yield* loadMRs(env, [msgTag(Label.Sigma0, 2, 0), ANY_PAGE | (12 << 4), 0]);
        yield* call(env, SIGMA0);
      }
      // Map it to the faulting page, reply and wait for the next fault.
      const [item0, item1] = mapItem(Math.floor(address! / 4096) * 4096, fpage(next, 12, Rights.Full));
      yield* env.writeWords(mr0, [2 << 6, item0, item1]);
      next += 4096;
      [from] = yield* env.syscall(Syscall.Ipc, [from!, ANYTHREAD, 0x04000000]);
    }
  }

  return function* root(env: ProgramEnv): Op<void> {
    const self = (yield* env.readWords(env.utcb, 1))[0]!;
    // The pager: in our space, paged by sigma0, started by ExchangeRegisters.
    yield* threadControl(env, pagerId, self, self, SIGMA0, 0xbf000200);
    const control = ExchangeControl.SetIp | ExchangeControl.SetSp | ExchangeControl.HaltValid;
    yield* exchangeRegisters(env, pagerId, control, 0, env.codeAddress(pager), 0, 0, 0);
    // The toucher: a new space whose pager is the pager thread.
    yield* threadControl(env, toucherId, toucherId, self, 0, 0xbf000000);
    yield* spaceControl(env, toucherId, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0);
    yield* threadControl(env, toucherId, toucherId, self, pagerId, 0xbf000000);
  };
}
