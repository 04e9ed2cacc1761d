// The default pager every task of the task server starts with: a thread of the task itself,
// paging it from one container of its own, as hurd-l4's libhurd-mm did (anonymous memory
// from a default container, frames handed out in fault order).
//
// The program runtime starts it before main runs: it creates the container, creates the pager
// thread through the task server, and makes it the main thread's pager (ExchangeRegisters).
// Threads created later inherit it. On a fault at a page never seen before it allocates the
// container's next frame, asks physmem to map it at the faulting page (into this very space,
// because the pager thread lives here), and restarts the faulter with an empty reply. The
// startup page and module pages are the task server's to map (mapImage).
//
// It pages everything below the UTCB area. A page where the task mapped a container page
// itself (physmem's map, recorded in container-mappings.ts) is mapped again from there: physmem
// may have taken the mapping away, and L4 mappings are only a cache. Every other address is
// anonymous memory, zero on first touch. A page of a locked container (another task holds a
// lock with unmapOthers) is tried again every millisecond until the lock ends, which physmem
// makes sure it does. Nothing is ever evicted (the task's guarantee is 0, so all its frames are
// extra). A fault it cannot serve (physmem refuses a frame, or took it back,
// or the task's own mapping was read-only and it wrote) ends the task with exit status
// MEMORY_FAILURE_STATUS after a console line that says why.

import { ExchangeControl, Label, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { Rights } from '../libl4/fpage.ts';
import { loadMRs, readTcr, setAcceptor, storeMRs } from '../libl4/registers.ts';
import { exchangeRegisters, receive, replyWait, wait, type IpcResult } from '../libl4/syscalls.ts';
import { timeout } from '../libl4/timeout.ts';
import { print } from './console.ts';
import { mappingAt } from './container-mappings.ts';
import * as physmem from './physmem/client.ts';
import { MODULE_BASE, STARTUP_PAGE, type Startup } from './startup.ts';
import * as task from './task/client.ts';

/** The exit status of a task whose memory failed (like a shell's 128 + SIGKILL). */
export const MEMORY_FAILURE_STATUS = 137;
/** How long the pager waits before it tries again to map from a locked container. */
const LOCK_RETRY_US = 1000;
/** The default pager pages nothing at or above this address (the UTCB and KIP areas). */
const PAGED_TOP = 0xbf000000;

/** Starts the calling task's default pager and makes it the calling thread's pager. */
export function* startDefaultPager(env: ProgramEnv, startup: Startup): Op<void> {
  const container = yield* physmem.create(env);
  /** The container's frame index for each page the task touched. */
  const frames = new Map<number, number>();
  let next = 0;
  const name = startup.name || `task ${startup.task}`;

  function* serveFault(penv: ProgramEnv, address: number, write: boolean): Op<boolean> {
    const page = (address & ~0xfff) >>> 0;
    const mapped = mappingAt(startup.task, page);
    if (mapped) {
      if (write && !(mapped.rights & Rights.Write)) {
        yield* print(penv, `${name}: write at 0x${address.toString(16)}, where it mapped a container page read-only\n`);
        return false;
      }
      try {
        yield* whenUnlocked(penv, () => physmem.map(penv, mapped.container, mapped.index, 1, page, mapped.rights));
        return true;
      } catch (error) {
        yield* print(penv, `${name}: fault at 0x${address.toString(16)}: its container page is gone (${error instanceof physmem.PhysmemError ? error.code : String(error)})\n`);
        return false;
      }
    }
    if (page === STARTUP_PAGE || (page >= MODULE_BASE && page < MODULE_BASE + startup.moduleLength)) {
      yield* task.mapImage(penv, page);
      return true;
    }
    if (page >= PAGED_TOP) {
      yield* print(penv, `${name}: fault at 0x${address.toString(16)}: nothing is paged there\n`);
      return false;
    }
    try {
      let index = frames.get(page);
      if (index === undefined) {
        index = next++;
        yield* physmem.allocate(penv, container, index, 1);
        frames.set(page, index);
      }
      const frame = index;
      yield* whenUnlocked(penv, () => physmem.map(penv, container, frame, 1, page, Rights.Full));
      return true;
    } catch (error) {
      const code = error instanceof physmem.PhysmemError ? error.code : String(error);
      yield* print(penv, `${name}: no memory for 0x${address.toString(16)} (${code === 'EINVAL' ? 'physmem took the frame back' : code})\n`);
      return false;
    }
  }

  /** Maps, and again every LOCK_RETRY_US while the container is locked (a lock has a time limit). */
  function* whenUnlocked(penv: ProgramEnv, map: () => Op<number>): Op<void> {
    for (;;) {
      try {
        yield* map();
        return;
      } catch (error) {
        if (!(error instanceof physmem.PhysmemError) || error.code !== 'EBUSY') throw error;
      }
      yield* receive(penv, yield* readTcr(penv, TCR_MY_GLOBAL_ID), timeout(LOCK_RETRY_US));
    }
  }

  const pager = function* defaultPager(penv: ProgramEnv): Op<void> {
    yield* setAcceptor(penv, 0);
    let received: IpcResult = yield* wait(penv);
    for (;;) {
      const tag = received.tag;
      // Only this task's threads: they are in this space, so the kernel names them by local id.
      const fault = !tag.error && (tag.label & 0xfff0) === Label.PageFault && tag.untyped === 2 && tag.typed === 0 && (received.from & 0x3f) === 0;
      if (!fault) {
        received = yield* wait(penv);
        continue;
      }
      const [address] = yield* storeMRs(penv, 1, 1);
      if (!(yield* serveFault(penv, address!, (tag.label & 2) !== 0))) yield* task.exit(penv, MEMORY_FAILURE_STATUS);
      yield* loadMRs(penv, [0]);
      received = yield* replyWait(penv, received.from);
    }
  };
  const thread = yield* task.createThread(env, pager);
  yield* exchangeRegisters(env, env.utcb, ExchangeControl.SetPager, 0, 0, 0, 0, thread);
}
