// libhurd-mm: the memory manager linked into every self-paging task. A program becomes
// self-paging with one call:
//
//   yield* mm.startPager(env, { guarantee: 256, extra: 64, policy: 'clock' });
//   const table = yield* mm.mmap(env, { size: 1 << 20, policy: 'mru' });
//   const cache = yield* mm.mmap(env, { size: 1 << 20, kind: 'discardable' });
//   yield* mm.madvise(env, table, 1 << 20, 'sequential');
//   const s = yield* mm.stats(env);
//
// From then on the task's pager thread (pager.ts) serves the task's page faults from frames
// the task pays for (its guarantee, negotiated with the policy server, plus at most `extra`
// frames while physmem grants them), evicts by the task's policy, pages to the store and
// answers physmem's reclaim requests. There is no catch-all region: an address no mmap gave
// (other than the task's startup and module pages) is a segmentation fault, which ends the task
// with exit status 139 after a console line. In an image that holds a central pager, the same
// calls make the task a client of it instead (central.ts): nothing else in the program changes.
//
// Every call is made from one of the task's threads with its own env; errors throw an MmError
// whose `code` is a POSIX name (README.md lists which call gives which).

import { mrOffset, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { Rights } from '../libl4/fpage.ts';
import { readTcr } from '../libl4/registers.ts';
import { call } from '../libl4/syscalls.ts';
import * as physmem from '../servers/physmem/client.ts';
import * as policyServer from '../servers/policy/client.ts';
import { startupOf } from '../servers/startup.ts';
import * as storeClient from '../servers/store/client.ts';
import * as task from '../servers/task/client.ts';
import { CentralClient } from './central.ts';
import { Frames } from './frames.ts';
import { Pager, REQUEST_TAG, unmapRange, usePager } from './pager.ts';
import { publish, snapshot } from './introspect.ts';
import { isPolicy } from './policies.ts';
import type { Request } from './protocol.ts';
import { ADVICE, MMAP_BASE, MMAP_TOP, MmError, PAGE, type Advice, type MmapOptions, type MmStats, type PagerOptions } from './types.ts';

export type { Advice, Candidate, Kind, MmapOptions, MmStats, PagerOptions, Policy, PolicyFunction, PolicyName } from './types.ts';
export type { MmSnapshot, RegionSnapshot, TaskMemorySnapshot } from './introspect.ts';
export { MEMORY_FAILURE_STATUS, MMAP_BASE, MMAP_TOP, MmError, SEGFAULT_STATUS } from './types.ts';

/** What startPager set up. */
export interface PagerInfo {
  /** 'self': the task pages itself; 'central': the image's central pager pages it. */
  readonly mode: 'self' | 'central';
  /** Frames guaranteed (self), or the central pager's frames (central). */
  readonly frames: number;
}

/** The module names libhurd-mm looks for. */
export const STORE_NAME = 'store';
export const CENTRAL_PAGER_NAME = 'central-pager';

/**
 * Each task's pager, by task id. A program module's state is shared by all its threads, and by
 * every task made from the same module, so the task id is the key.
 */
const pagers = new Map<number, Pager | CentralClient>();

// The debugger's view of these pagers (`regions TASK`; introspect.ts).
publish(() => snapshot(pagers));

function* taskOf(env: ProgramEnv): Op<number> {
  return (yield* readTcr(env, TCR_MY_GLOBAL_ID)) & 0x3fff;
}

function* pagerOf(env: ProgramEnv): Op<Pager | CentralClient> {
  const pager = pagers.get(yield* taskOf(env));
  if (!pager) throw new MmError('ENOSYS', 'this task has not called startPager');
  return pager;
}

/**
 * Makes the calling task self-paging (or a client of the image's central pager). Call it from
 * the task's main thread before creating other threads: the calling thread's pager becomes
 * the new pager, and threads created afterwards inherit it.
 */
export function* startPager(env: ProgramEnv, options: PagerOptions): Op<PagerInfo> {
  const guarantee = options.guarantee;
  const extra = options.extra ?? 0;
  const policy = options.policy ?? 'clock';
  if (!Number.isSafeInteger(guarantee) || guarantee < 0) throw new MmError('EINVAL', `a guarantee of ${String(guarantee)} frames`);
  if (!Number.isSafeInteger(extra) || extra < 0) throw new MmError('EINVAL', `${String(extra)} extra frames`);
  if (!isPolicy(policy)) throw new MmError('EINVAL', `no policy ${String(policy)}`);
  const id = yield* taskOf(env);
  if (pagers.has(id)) throw new MmError('EBUSY', 'startPager was called already');
  const startup = yield* startupOf(env);
  if (!startup.physmem || !startup.taskServer) throw new MmError('ENOSYS', 'self-paging needs physmem and the task server');
  yield* forgetDead(env);

  const central = yield* storeClient.find(env, CENTRAL_PAGER_NAME);
  if (central) {
    const client = new CentralClient(startup, central);
    pagers.set(id, client);
    return { mode: 'central', frames: yield* client.start(env) };
  }

  const granted = guarantee > 0 ? yield* policyServer.negotiate(env, guarantee) : 0;
  const container = yield* physmem.create(env);
  const frames = new Frames(container, granted, extra);
  yield* frames.start(env);
  const store = yield* storeClient.find(env, STORE_NAME);
  if (store) yield* storeClient.attach(env, store, yield* physmem.share(env, container, store & 0x3fff));
  const pager = new Pager(startup, frames, store, policy);
  pagers.set(id, pager);
  // The default pager may have mapped memory where regions will go: clear it, so a region never
  // shows what was there before.
  yield* unmapRange(env, MMAP_BASE, MMAP_TOP);
  pager.thread = yield* task.createThread(env, (penv) => pager.run(penv));
  yield* physmem.onReclaim(env, pager.thread);
  yield* usePager(env, pager.thread);
  return { mode: 'self', frames: granted };
}

/**
 * Forgets the pagers of tasks made from this module that have died (a parent that starts
 * self-paging children would keep them all otherwise): their threads are gone.
 */
function* forgetDead(env: ProgramEnv): Op<void> {
  for (const [id, pager] of [...pagers]) {
    const thread = pager instanceof CentralClient ? pager.helper : pager.thread;
    try {
      if (thread) yield* task.taskOf(env, thread);
    } catch (error) {
      if (error instanceof task.TaskError && error.code === 'ESRCH') pagers.delete(id);
      else throw error;
    }
  }
}

/** Asks the task's pager thread to carry out `request`; resolves to its result. */
function* ask(env: ProgramEnv, pager: Pager, request: Request): Op<number | undefined> {
  if (env.utcb === pager.local) throw new MmError('EBUSY', 'libhurd-mm was called from its own pager thread');
  pager.inbox.set(env.utcb, request);
  yield* env.write32(env.utcb + mrOffset(0), REQUEST_TAG);
  const result = yield* call(env, pager.thread);
  if (result.tag.error) {
    pager.inbox.delete(env.utcb);
    throw new MmError('EIO', 'the pager thread did not answer');
  }
  if (request.error !== undefined) throw request.error;
  return request.result;
}

function checkRange(address: number, size: number): [number, number] {
  if (!Number.isSafeInteger(address) || address < 0 || address % PAGE !== 0) throw new MmError('EINVAL', `address ${String(address)} is not page aligned`);
  if (!Number.isSafeInteger(size) || size <= 0) throw new MmError('EINVAL', `a size of ${String(size)} bytes`);
  const end = address + Math.ceil(size / PAGE) * PAGE;
  if (end > MMAP_TOP) throw new MmError('EINVAL', `0x${address.toString(16)} + ${size} runs into the UTCB area`);
  return [address, end];
}

function checkRights(rights: number): void {
  if (!Number.isInteger(rights) || rights < 0 || rights > Rights.Full || (rights !== 0 && !(rights & Rights.Read))) {
    throw new MmError('EINVAL', `rights ${String(rights)}: read is needed (IA-32 has no write-only pages), or 0 for none`);
  }
}

/**
 * A new region of `size` bytes (whole pages), at `address` or where the pager finds room (from
 * MMAP_BASE up), with `rights` (default read and write), of `kind` (default anonymous), with
 * its own eviction `policy` (default: the task's). Resolves to its address. Nothing is
 * allocated until a page is touched.
 */
export function* mmap(env: ProgramEnv, options: MmapOptions): Op<number> {
  const pager = yield* pagerOf(env);
  const rights = options.rights ?? Rights.ReadWrite;
  const kind = options.kind ?? 'anonymous';
  checkRights(rights);
  if (kind !== 'anonymous' && kind !== 'discardable') throw new MmError('EINVAL', `no kind ${String(kind)}: anonymous or discardable`);
  if (options.policy !== undefined && !isPolicy(options.policy)) throw new MmError('EINVAL', `no policy ${String(options.policy)}`);
  if (!Number.isSafeInteger(options.size) || options.size <= 0 || options.size > MMAP_TOP) throw new MmError('EINVAL', `a size of ${String(options.size)} bytes`);
  if (options.address !== undefined) checkRange(options.address, options.size);
  if (options.file !== undefined) {
    if (rights !== Rights.Read) throw new MmError('EINVAL', 'a file is mapped read-only (rights: Rights.Read)');
    if (options.kind !== undefined && options.kind !== 'anonymous') throw new MmError('EINVAL', `a file region has no kind ${String(options.kind)}`);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % PAGE !== 0) throw new MmError('EINVAL', `a file offset of ${String(offset)} (a multiple of ${PAGE})`);
    if (pager instanceof CentralClient) throw new MmError('ENOSYS', 'the central pager maps no files');
    return (yield* ask(env, pager, { op: 'mmap', size: options.size, rights, kind, policy: options.policy, address: options.address, file: options.file >>> 0, offset }))!;
  }
  if (pager instanceof CentralClient) return yield* pager.mmap(env, Math.ceil(options.size / PAGE) * PAGE, rights, kind, options.address);
  return (yield* ask(env, pager, { op: 'mmap', size: options.size, rights, kind, policy: options.policy, address: options.address }))!;
}

/** Removes the regions of [address, address + size): their pages and store copies go. */
export function* munmap(env: ProgramEnv, address: number, size: number): Op<void> {
  const pager = yield* pagerOf(env);
  const [start, end] = checkRange(address, size);
  if (pager instanceof CentralClient) return yield* pager.munmap(env, start, end);
  yield* ask(env, pager, { op: 'munmap', address: start, size: end - start });
}

/** Sets the rights of [address, address + size), which must be mapped (ENOMEM otherwise). */
export function* mprotect(env: ProgramEnv, address: number, size: number, rights: number): Op<void> {
  const pager = yield* pagerOf(env);
  const [start, end] = checkRange(address, size);
  checkRights(rights);
  if (pager instanceof CentralClient) return yield* pager.mprotect(env, start, end, rights);
  yield* ask(env, pager, { op: 'mprotect', address: start, size: end - start, rights });
}

/** A hint for [address, address + size), which must be mapped (ENOMEM otherwise); see Advice. */
export function* madvise(env: ProgramEnv, address: number, size: number, advice: Advice): Op<void> {
  const pager = yield* pagerOf(env);
  const [start, end] = checkRange(address, size);
  if (!ADVICE.includes(advice)) throw new MmError('EINVAL', `no advice ${String(advice)}: ${ADVICE.join(', ')}`);
  if (pager instanceof CentralClient) return yield* pager.madvise(env, start, end, advice);
  yield* ask(env, pager, { op: 'madvise', address: start, size: end - start, advice });
}

/** The task's paging counters and frames (MmStats). */
export function* stats(env: ProgramEnv): Op<MmStats> {
  const pager = yield* pagerOf(env);
  if (pager instanceof CentralClient) return yield* pager.stats(env);
  return pager.stats();
}

/**
 * How many pages of [address, address + size) lost their contents since the last call (a
 * discardable page dropped under pressure; it reads as zeros), forgetting them. Under the
 * central pager nothing is ever discarded (0).
 */
export function* discarded(env: ProgramEnv, address: number, size: number): Op<number> {
  const pager = yield* pagerOf(env);
  const [start, end] = checkRange(address, size);
  return pager instanceof CentralClient ? 0 : pager.takeDiscarded(start, end - start);
}

/** How many pages of [address, address + size) are resident now (self-paging; 0 under the central pager). */
export function* resident(env: ProgramEnv, address: number, size: number): Op<number> {
  const pager = yield* pagerOf(env);
  const [start, end] = checkRange(address, size);
  return pager instanceof CentralClient ? 0 : pager.resident(start, end - start);
}
