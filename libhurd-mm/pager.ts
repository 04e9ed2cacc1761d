// The pager thread of a self-paging task: it serves the task's page faults from frames the
// task pays for, decides every eviction by the task's own policy, pages anonymous memory out to
// the store and back, drops discardable memory, and answers physmem's reclaim requests.
//
// One thread does everything, in the order messages arrive, so no two operations on the
// task's memory ever overlap:
//   - a page fault of one of the task's threads (they are in this space, so the kernel names
//     them by local id): find the region, get a frame (a free one, an extra one while physmem
//     grants it, or one freed by evicting a victim), fill it (zeros, or the store's copy), have
//     physmem map it at the faulting page, and restart the faulter with an empty reply;
//   - a request of one of the task's threads (mmap, munmap, mprotect, madvise: index.ts): the
//     request itself is in the task's memory, shared by its threads (this.inbox);
//   - a reclaim request from physmem: give back that many frames before its deadline, free
//     ones first, then by evicting under the task's policy.
//
// A fault outside every region is the startup page or a module page (the task server maps
// them again), a page the task mapped from a container itself (mapped again from there, see
// servers/container-mappings.ts), or a segmentation fault. So is a fault against the region's
// rights. A segmentation fault prints `NAME: segmentation fault: ...` and ends the task with
// exit status 139 (SEGFAULT_STATUS); the kernel has no exception IPC to deliver it to the
// faulting thread yet. A fault that cannot be served (no frame can be freed, the store is
// missing or full, physmem took a frame back) ends the task with status 137 after a line that
// says why. The pager itself never stops on a bad request: refusals go back to the caller.
//
// Eviction: the victim's mapping is removed with Unmap (flush), which also reports its dirty
// bit; a dirty anonymous page (or one the store has no copy of that was ever written) goes to
// the store first. A discardable page is dropped, never written: the next access finds zeros,
// and discarded(env, address, size) tells the program (README.md).

import { brOffset, ExchangeControl, Label, mrOffset, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { acceptor } from '../libl4/acceptor.ts';
import { completeFpage, fpage, Rights } from '../libl4/fpage.ts';
import { msgTag } from '../libl4/msg-tag.ts';
import { readTcr, setAcceptor } from '../libl4/registers.ts';
import { call, exchangeRegisters, receive, replyWait, unmapFpages, wait, type IpcResult } from '../libl4/syscalls.ts';
import { timeout } from '../libl4/timeout.ts';
import { print } from '../servers/console.ts';
import { mappingAt } from '../servers/container-mappings.ts';
import { errorName, ServerError } from '../servers/errno.ts';
import * as fs from '../servers/ext2fs/client.ts';
import * as physmem from '../servers/physmem/client.ts';
import { PhysmemNotice, PhysmemOp } from '../servers/physmem/protocol.ts';
import { MODULE_BASE, STARTUP_PAGE, startupOf, type Startup } from '../servers/startup.ts';
import * as storeClient from '../servers/store/client.ts';
import * as task from '../servers/task/client.ts';
import { Frames } from './frames.ts';
import { Page } from './page.ts';
import { chooseVictim, isPolicy, makeScope, seededRandom, STATUS_BATCH, type ChoiceContext, type PolicyScope } from './policies.ts';
import { MM_REQUEST, type Request } from './protocol.ts';
import { Region, RegionMap, type FileBacking } from './regions.ts';
import { ADVICE, emptyStats, MEMORY_FAILURE_STATUS, MMAP_BASE, MMAP_TOP, MmError, PAGE, SEGFAULT_STATUS, type MmStats, type Policy } from './types.ts';

/** Pages a fault in a sequential region brings in after the faulting one. */
export const READ_AHEAD = 8;
/** The seed of the random policy's generator (each task's is this plus its id). */
export const RANDOM_SEED = 0x5eed;
/** How long the pager waits before it tries again to map from a locked container. */
const LOCK_RETRY_US = 1000;
/** The store's key object for a self-paging task's pages (the offset is the page number). */
const STORE_OBJECT = 0;

/** A fault the pager cannot serve: the task ends with MEMORY_FAILURE_STATUS. */
class MemoryFailure extends Error {}

export class Pager {
  readonly regions: RegionMap;
  readonly pages = new Map<number, Page>();
  readonly taskScope: PolicyScope;
  readonly counters: MmStats = emptyStats('self');
  /** Requests of the task's threads, by the caller's local id. */
  readonly inbox = new Map<number, Request>();
  /** The pager thread's global and local ids (set when it is created). */
  thread = 0;
  local = -1;
  /** Faults served: the pager's clock for ages. */
  private now = 0;
  /** The one-frame container file pages are read into (0: none yet). */
  private scratch = 0;
  private env!: ProgramEnv;
  private readonly random: (n: number) => number;
  private readonly context: ChoiceContext;
  private readonly name: string;
  private readonly imageTop: number;

  constructor(
    readonly startup: Startup,
    readonly frames: Frames,
    /** The store's thread (0: none in this image: nothing can be paged out). */
    readonly store: number,
    policy: Policy,
  ) {
    this.name = startup.name || `task ${startup.task}`;
    this.imageTop = MODULE_BASE + Math.ceil(startup.moduleLength / PAGE) * PAGE;
    this.taskScope = makeScope(policy, 0);
    this.random = seededRandom(RANDOM_SEED + startup.task);
    this.counters.guaranteed = frames.guarantee;
    this.regions = new RegionMap({
      onSplit: (left, right) => {
        if (!left.scope || left.policy === undefined) return;
        right.scope = makeScope(left.policy, 1);
        for (const page of left.scope.members()) {
          if (page.address < right.start) continue;
          left.scope.remove(page);
          right.scope.insert(page);
          page.own = right.scope;
        }
      },
      onJoin: (left, right) => {
        if (!left.scope || !right.scope) return;
        for (const page of right.scope.members()) {
          right.scope.remove(page);
          left.scope.insert(page);
          page.own = left.scope;
        }
      },
    });
    const self = this;
    this.context = {
      readStatus: (pages) => this.readStatus(pages),
      get now() {
        return self.now;
      },
      random: (n) => this.random(n),
      warn: (text) => print(this.env, `${this.name}: ${text}\n`),
    };
  }

  /** The snapshot stats(env) returns. */
  stats(): MmStats {
    return { ...this.counters, framesHeld: this.frames.committed, extra: this.frames.extra, resident: this.taskScope.size };
  }

  /** Pages of [address, address + size) that were discarded since last asked (and forgets them). */
  takeDiscarded(address: number, size: number): number {
    let count = 0;
    for (let at = address; at < address + size; at += PAGE) {
      const page = this.pages.get(at >>> 0);
      if (page && (page.lost || page.discarded)) {
        count++;
        page.lost = false;
        if (page.discarded) page.discarded = false;
        else if (page.index < 0 && !page.stored) this.pages.delete(page.address);
      }
    }
    return count;
  }

  /** Resident pages of [address, address + size). */
  resident(address: number, size: number): number {
    let count = 0;
    for (let at = address; at < address + size; at += PAGE) if ((this.pages.get(at >>> 0)?.index ?? -1) >= 0) count++;
    return count;
  }

  // ---- The thread --------------------------------------------------------------------------------

  /** The pager thread's body. */
  *run(env: ProgramEnv): Op<void> {
    this.env = env;
    this.local = env.utcb;
    yield* setAcceptor(env, 0);
    let received: IpcResult = yield* wait(env);
    for (;;) {
      const tag = received.tag;
      const from = received.from;
      if (tag.error) {
        received = yield* wait(env);
        continue;
      }
      const local = (from & 0x3f) === 0;
      if (local && (tag.label & 0xfff0) === Label.PageFault && tag.untyped === 2 && tag.typed === 0) {
        const address = (yield* env.read32(env.utcb + mrOffset(1))) >>> 0;
        yield* this.fault(from, address, (tag.label & 2) !== 0);
        yield* env.write32(env.utcb + mrOffset(0), 0);
        received = yield* replyWait(env, from);
        continue;
      }
      if (local && tag.label === MM_REQUEST) {
        const request = this.inbox.get(from);
        this.inbox.delete(from);
        if (request) {
          try {
            yield* this.serve(request);
          } catch (error) {
            request.error = error instanceof MemoryFailure ? new MmError('ENOMEM', error.message) : error;
          }
        }
        yield* env.write32(env.utcb + mrOffset(0), 0);
        received = yield* replyWait(env, from);
        continue;
      }
      if (from === this.startup.physmem && tag.label === PhysmemNotice.Reclaim && tag.untyped >= 3) {
        const frames = (yield* env.read32(env.utcb + mrOffset(1))) >>> 0;
        try {
          yield* this.reclaim(frames);
        } catch (error) {
          yield* this.fail(`cannot give frames back: ${describe(error)}`);
        }
      }
      // Anything else (a fault of a thread of another space, a stray message) gets no answer.
      received = yield* wait(env);
    }
  }

  /** Ends the task after a line saying why; the faulting thread (if any) is stopped first. */
  private *fail(why: string, faulter = 0): Op<never> {
    if (faulter) yield* stop(this.env, faulter);
    yield* print(this.env, `${this.name}: ${why}\n`);
    return yield* task.exit(this.env, MEMORY_FAILURE_STATUS);
  }

  /**
   * A segmentation fault: the faulting thread is stopped where it faulted (its fault IPC
   * cancelled, the thread halted), the line printed, the task ended with SEGFAULT_STATUS.
   */
  private *segfault(faulter: number, address: number, write: boolean, why: string): Op<never> {
    yield* stop(this.env, faulter);
    yield* print(this.env, `${this.name}: segmentation fault: ${write ? 'write' : 'read'} at 0x${address.toString(16).padStart(8, '0')} (${why})\n`);
    return yield* task.exit(this.env, SEGFAULT_STATUS);
  }

  // ---- Faults ------------------------------------------------------------------------------------

  private *fault(from: number, address: number, write: boolean): Op<void> {
    this.counters.faults++;
    this.now++;
    const at = (address & ~0xfff) >>> 0;
    const region = this.regions.find(at);
    if (!region) {
      if (yield* this.outside(at, write)) return;
      return yield* this.segfault(from, address, write, 'no region there');
    }
    if (region.rights === 0 || (write && !(region.rights & Rights.Write))) {
      return yield* this.segfault(from, address, write, `the region is ${rightsText(region.rights)}`);
    }
    try {
      yield* this.bringIn(at, region, false);
      if (region.sequential) yield* this.readAhead(at, region);
    } catch (error) {
      if (error instanceof MemoryFailure) return yield* this.fail(error.message, from);
      return yield* this.fail(`fault at 0x${address.toString(16)}: ${describe(error)}`, from);
    }
  }

  /** A fault outside every region: the image, or a container page the task mapped; false otherwise. */
  private *outside(at: number, write: boolean): Op<boolean> {
    if (at === STARTUP_PAGE || (at >= MODULE_BASE && at < this.imageTop)) {
      if (write) return false;
      yield* task.mapImage(this.env, at);
      return true;
    }
    const mapped = mappingAt(this.startup.task, at);
    if (!mapped || (write && !(mapped.rights & Rights.Write))) return false;
    for (;;) {
      try {
        yield* mapFrames(this.env, mapped.container, mapped.index, 1, at, mapped.rights);
        return true;
      } catch (error) {
        if (!(error instanceof physmem.PhysmemError) || error.code !== 'EBUSY') return false;
      }
      // Locked against mapping by another task: a lock has a time limit.
      yield* receive(this.env, yield* readTcr(this.env, TCR_MY_GLOBAL_ID), timeout(LOCK_RETRY_US));
    }
  }

  /**
   * Makes the page at `at` (in `region`) resident and mapped with the region's rights. A page
   * already resident is only mapped again. Prefetching does not count as a fault's fill.
   */
  private *bringIn(at: number, region: Region, prefetch: boolean): Op<void> {
    if (region.file) return yield* this.fileIn(at, region.file, region.start, prefetch);
    let page = this.pages.get(at);
    if (page && page.index >= 0) {
      if (page.mapped !== 0) {
        if (prefetch) return;
        // Mapping over the mapping would lose its dirty bit: read it first.
        yield* this.readStatus([page]);
      }
      yield* this.map(page, region.rights);
      this.counters.remaps++;
      return;
    }
    if (!page) {
      page = new Page(at);
      this.pages.set(at, page);
    }
    page.pins++;
    try {
      const fromStore = page.stored;
      page.index = yield* this.frameFor(!fromStore);
      if (fromStore) {
        yield* storeClient.read(this.env, this.store, page.index, STORE_OBJECT, at / PAGE);
        this.counters.pageIns++;
      } else {
        this.counters.zeroFills++;
        if (page.discarded) {
          page.discarded = false;
          page.lost = true;
        }
      }
      page.dirty = false;
      yield* this.map(page, region.rights);
      page.arrival = page.lastUse = this.now;
      page.refs = 0;
      this.taskScope.insert(page);
      if (region.scope) {
        region.scope.insert(page);
        page.own = region.scope;
      }
      if (prefetch) this.counters.prefetched++;
    } catch (error) {
      // The page did not come in: its frame (if it got one) is free again.
      if (page.index >= 0 && page.mapped === 0) {
        this.frames.reuse(page.index);
        page.index = -1;
      }
      throw error;
    } finally {
      page.pins--;
    }
  }

  /**
   * A page of a file region: read through the file server into the pager's scratch container
   * (002's flow, or a copy-on-write copy of the file server's cache frame when it holds the
   * page), copied copy-on-write into the region's container, and mapped read-only. So every
   * task that maps the file shares the cache's frames until someone writes the file. The
   * scratch container takes the driver's lock (which makes its frame its own) so the region's
   * frames keep their sharing.
   */
  private *fileIn(at: number, file: FileBacking, start: number, prefetch: boolean): Op<void> {
    const page = (at - start) / PAGE;
    const index = file.base + page;
    if (!file.resident.has(index)) {
      if (this.scratch === 0) this.scratch = yield* physmem.create(this.env, { frames: 1 });
      let got: number;
      try {
        got = yield* fs.read(this.env, file.file, file.offset + page * PAGE, PAGE, this.scratch);
      } catch (error) {
        throw new MemoryFailure(`cannot read page 0x${at.toString(16)} of file ${file.file}: ${describe(error)}`);
      }
      if (got === 0) throw new MemoryFailure(`0x${at.toString(16)} is past the end of file ${file.file}`);
      yield* physmem.copy(this.env, this.scratch, 0, file.container, index, 1);
      file.resident.add(index);
      this.counters.pageIns++;
      if (prefetch) this.counters.prefetched++;
    } else if (prefetch) return;
    else this.counters.remaps++;
    yield* mapFrames(this.env, file.container, index, 1, at, Rights.Read);
  }

  /** A file region goes: its pages are unmapped and their frames freed. */
  private *dropFile(region: Region): Op<void> {
    const file = region.file!;
    yield* unmapRange(this.env, region.start, region.end);
    const first = file.base;
    const last = file.base + region.pages;
    for (const index of [...file.resident].sort((a, b) => a - b)) {
      if (index < first || index >= last) continue;
      yield* physmem.deallocate(this.env, file.container, index, 1);
      file.resident.delete(index);
    }
  }

  /**
   * Read-ahead after a fault at `at` in a sequential region: the next pages of the region that
   * are not resident, READ_AHEAD at most and a quarter of the frame budget at most (so that
   * pages read ahead are not evicted before they are used). They may evict other pages, never
   * the faulting one or each other, and count as referenced once (the clock spares them once).
   */
  private *readAhead(at: number, region: Region): Op<void> {
    const count = Math.min(READ_AHEAD, Math.floor((this.frames.guarantee + this.frames.extraLimit) / 4));
    const pinned: Page[] = [];
    const faulted = this.pages.get(at);
    if (faulted) {
      faulted.pins++;
      pinned.push(faulted);
    }
    try {
      for (let next = at + PAGE; next < region.end && next <= at + count * PAGE; next += PAGE) {
        if ((this.pages.get(next)?.index ?? -1) >= 0) continue;
        yield* this.bringIn(next, region, true);
        const page = this.pages.get(next)!;
        page.refs = 3;
        page.pins++;
        pinned.push(page);
      }
    } finally {
      for (const page of pinned) page.pins--;
    }
  }

  /** Has physmem map the page's frame at its address with `rights`. */
  private *map(page: Page, rights: number): Op<void> {
    try {
      yield* mapFrames(this.env, this.frames.container, page.index, 1, page.address, rights);
    } catch (error) {
      if (error instanceof physmem.PhysmemError && error.code === 'EINVAL') throw new MemoryFailure(`physmem took back the frame of 0x${page.address.toString(16)}`);
      throw error;
    }
    page.mapped = rights;
  }

  /** A frame for a page to come in: free, extra, or freed by an eviction. */
  private *frameFor(zero: boolean): Op<number> {
    for (;;) {
      const index = yield* this.frames.take(this.env, zero);
      if (index >= 0) return index;
      if (this.frames.free > 0) continue; // a used frame could not be made clean: try again
      if (yield* this.frames.grow(this.env)) continue;
      const victim = yield* chooseVictim(this.taskScope, this.context);
      if (!victim) throw new MemoryFailure(`no frame to evict (${this.frames.committed} frames, all in use)`);
      this.frames.reuse(yield* this.evict(victim));
    }
  }

  /** Evicts a resident page: unmapped, written to the store if it must be. Resolves to its frame. */
  private *evict(page: Page): Op<number> {
    page.pins++;
    try {
      this.taskScope.remove(page);
      if (page.own) {
        page.own.remove(page);
        page.own = null;
      }
      if (page.mapped !== 0) {
        const [status] = yield* unmapFpages(this.env, [fpage(page.address, 12, Rights.Full)], true);
        if (status! & 2) page.dirty = true;
        page.mapped = 0;
      }
      const region = this.regions.find(page.address);
      if (region?.kind === 'discardable') {
        if (page.dirty) {
          this.counters.discards++;
          page.discarded = true;
        }
        page.dirty = false;
      } else if (page.dirty) {
        if (!this.store) throw new MemoryFailure('out of memory: paging out needs the store, and this image has none');
        try {
          yield* storeClient.write(this.env, this.store, page.index, STORE_OBJECT, page.address / PAGE);
        } catch (error) {
          throw new MemoryFailure(`cannot page out 0x${page.address.toString(16)}: ${describe(error)}`);
        }
        this.counters.pageOuts++;
        page.stored = true;
        page.dirty = false;
      }
      const index = page.index;
      page.index = -1;
      this.counters.evictions++;
      // A page that was never written (or was discarded and reported) has nothing to remember.
      if (!page.stored && !page.discarded && !page.lost) this.pages.delete(page.address);
      return index;
    } finally {
      page.pins--;
    }
  }

  /** Does [start, end) touch a file region? */
  private touchesFile(start: number, end: number): boolean {
    for (let at = start; at < end; ) {
      const region = this.regions.find(at);
      if (!region) {
        at += PAGE;
        continue;
      }
      if (region.file) return true;
      at = region.end;
    }
    return false;
  }

  /** Reads and resets the referenced and dirty bits of mapped pages (Unmap with no rights). */
  *readStatus(pages: readonly Page[]): Op<void> {
    for (let at = 0; at < pages.length; at += STATUS_BATCH) {
      const batch = pages.slice(at, at + STATUS_BATCH);
      const status = yield* unmapFpages(this.env, batch.map((page) => fpage(page.address, 12, 0)), false);
      for (let i = 0; i < batch.length; i++) {
        const bits = status[i]! & 7;
        const page = batch[i]!;
        if (bits & 1) {
          page.refs = 3;
          page.lastUse = this.now;
        }
        if (bits & 2) page.dirty = true;
      }
    }
  }

  // ---- Reclaim -----------------------------------------------------------------------------------

  /** Gives `frames` frames back to physmem: free ones first, then by evicting. */
  private *reclaim(frames: number): Op<void> {
    this.counters.reclaims++;
    const asked = Math.min(frames, this.frames.committed);
    let owed = asked;
    owed -= yield* this.frames.giveBack(this.env, owed);
    while (owed > 0) {
      const victim = yield* chooseVictim(this.taskScope, this.context);
      if (!victim) break;
      this.frames.reuse(yield* this.evict(victim));
      owed -= yield* this.frames.giveBack(this.env, owed);
    }
    this.counters.framesGivenBack += asked - owed;
  }

  // ---- Requests of the task's threads ---------------------------------------------------------------

  private *serve(request: Request): Op<void> {
    switch (request.op) {
      case 'mmap':
        request.result = yield* this.mmap(request.size, request.rights, request.kind, request.policy, request.address, request.file, request.offset);
        return;
      case 'munmap':
        yield* this.munmap(request.address, request.size);
        return;
      case 'mprotect':
        yield* this.mprotect(request.address, request.size, request.rights);
        return;
      case 'madvise':
        yield* this.madvise(request.address, request.size, request.advice);
        return;
    }
  }

  /** The reserved ranges no region may cover: page 0, the startup page, the module's pages. */
  private reserved(): [number, number][] {
    return [
      [0, PAGE],
      [STARTUP_PAGE, STARTUP_PAGE + PAGE],
      [MODULE_BASE, this.imageTop],
    ];
  }

  *mmap(size: number, rights: number, kind: 'anonymous' | 'discardable', policy: Policy | undefined, address: number | undefined, file?: number, offset = 0): Op<number> {
    const length = pageRange(size);
    checkRights(rights);
    if (kind !== 'anonymous' && kind !== 'discardable') throw new MmError('EINVAL', `no kind ${String(kind)}: anonymous or discardable`);
    if (policy !== undefined && !isPolicy(policy)) throw new MmError('EINVAL', `no policy ${String(policy)}`);
    let start: number;
    if (address === undefined) {
      start = this.regions.place(length, MMAP_BASE, MMAP_TOP, this.reserved());
      if (start < 0) throw new MmError('ENOMEM', `no room for ${length} bytes`);
    } else {
      if (!Number.isSafeInteger(address) || address < 0 || address % PAGE !== 0) throw new MmError('EINVAL', `address ${String(address)} is not page aligned`);
      start = address;
      if (start + length > MMAP_TOP) throw new MmError('EINVAL', `0x${start.toString(16)} + ${length} runs into the UTCB area`);
      if (this.regions.overlaps(start, start + length) || this.reserved().some(([s, e]) => start < e && s < start + length)) {
        throw new MmError('EINVAL', `0x${start.toString(16)} + ${length} overlaps a region or the image`);
      }
      // Below MMAP_BASE the default pager may have mapped memory before startPager: clear it.
      if (start < MMAP_BASE) yield* unmapRange(this.env, start, start + length);
    }
    const region = new Region(start, start + length, rights, kind, policy, false, policy === undefined ? null : makeScope(policy, 1));
    if (file !== undefined) {
      // The file's pages get frames of a container of their own (not the task's budget: they
      // are clean copies of the file server's cache frames, dropped with the region).
      const { size: fileSize } = yield* fs.stat(this.env, file);
      if (offset >= fileSize) throw new MmError('EINVAL', `offset ${offset} is past the end of the file (${fileSize} bytes)`);
      region.file = { file, offset, container: yield* physmem.create(this.env), base: 0, resident: new Set() };
    }
    this.regions.insert(region);
    this.regions.join(start, start + length);
    return start;
  }

  *munmap(address: number, size: number): Op<void> {
    const [start, end] = range(address, size);
    const inside = this.regions.carve(start, end);
    yield* this.drop(start, end, true);
    for (const region of inside) if (region.file) yield* this.dropFile(region);
    this.regions.remove(inside);
  }

  /**
   * Drops the pages of [start, end): their frames go back to the free frames, their mappings
   * and store copies go. `forget` also forgets that they were discarded.
   */
  private *drop(start: number, end: number, forget: boolean): Op<void> {
    const resident: Page[] = [];
    let stored = false;
    for (let at = start; at < end; at += PAGE) {
      const page = this.pages.get(at);
      if (!page) continue;
      if (page.index >= 0) resident.push(page);
      if (page.stored) stored = true;
    }
    const mapped = resident.filter((page) => page.mapped !== 0);
    for (let at = 0; at < mapped.length; at += STATUS_BATCH) {
      yield* unmapFpages(this.env, mapped.slice(at, at + STATUS_BATCH).map((page) => fpage(page.address, 12, Rights.Full)), true);
    }
    for (const page of resident) {
      this.taskScope.remove(page);
      if (page.own) page.own.remove(page);
      page.own = null;
      page.mapped = 0;
      const index = page.index;
      page.index = -1;
      yield* this.frames.release(this.env, index);
    }
    if (stored && this.store) yield* storeClient.discard(this.env, this.store, STORE_OBJECT, start / PAGE, (end - start) / PAGE);
    for (let at = start; at < end; at += PAGE) {
      const page = this.pages.get(at);
      if (!page) continue;
      page.stored = false;
      page.dirty = false;
      if (forget || !(page.lost || page.discarded)) this.pages.delete(at);
    }
  }

  *mprotect(address: number, size: number, rights: number): Op<void> {
    const [start, end] = range(address, size);
    checkRights(rights);
    if (!this.regions.covers(start, end)) throw new MmError('ENOMEM', `0x${start.toString(16)} + ${end - start} is not all mapped`);
    if (this.touchesFile(start, end)) throw new MmError('EINVAL', 'a file region keeps its rights (read-only)');
    for (const region of this.regions.carve(start, end)) region.rights = rights;
    this.regions.join(start, end);
    // Mappings keep at most the new rights (a raise takes effect at the next fault).
    const taken = Rights.Full & ~rights;
    if (taken === 0) return;
    const pages: Page[] = [];
    for (let at = start; at < end; at += PAGE) {
      const page = this.pages.get(at);
      if (page && page.mapped & taken) pages.push(page);
    }
    const flushAll = !(rights & Rights.Read);
    for (let at = 0; at < pages.length; at += STATUS_BATCH) {
      const batch = pages.slice(at, at + STATUS_BATCH);
      const status = yield* unmapFpages(this.env, batch.map((page) => fpage(page.address, 12, flushAll ? Rights.Full : taken)), true);
      for (let i = 0; i < batch.length; i++) {
        const page = batch[i]!;
        if (status[i]! & 2) page.dirty = true;
        page.mapped = flushAll ? 0 : page.mapped & ~taken;
      }
    }
  }

  *madvise(address: number, size: number, advice: string): Op<void> {
    const [start, end] = range(address, size);
    if (!ADVICE.includes(advice as never)) throw new MmError('EINVAL', `no advice ${advice}: ${ADVICE.join(', ')}`);
    if (!this.regions.covers(start, end)) throw new MmError('ENOMEM', `0x${start.toString(16)} + ${end - start} is not all mapped`);
    if (this.touchesFile(start, end)) throw new MmError('EINVAL', 'no advice for file regions');
    switch (advice) {
      case 'normal':
      case 'sequential':
        for (const region of this.regions.carve(start, end)) region.sequential = advice === 'sequential';
        this.regions.join(start, end);
        return;
      case 'dontneed':
        yield* this.drop(start, end, true);
        return;
      case 'willneed': {
        // Bring in the range's pages, first ones first, as far as the budget holds them: a page
        // brought in stays pinned until the end, so none is evicted for another.
        const pinned: Page[] = [];
        try {
          for (let at = start; at < end && pinned.length < this.frames.guarantee + this.frames.extraLimit; at += PAGE) {
            const region = this.regions.find(at)!;
            if (region.rights === 0) continue;
            try {
              yield* this.bringIn(at, region, true);
            } catch (error) {
              if (error instanceof MemoryFailure) break;
              throw error;
            }
            const page = this.pages.get(at)!;
            page.pins++;
            pinned.push(page);
          }
        } finally {
          for (const page of pinned) page.pins--;
        }
        return;
      }
    }
  }
}

/**
 * Maps `count` frames of `container` from `index` at `address` in the caller's space (physmem's
 * map, not recorded in container-mappings.ts: the pager knows its own pages). The request is
 * written into the message registers directly and the receive window opened only for the call
 * (the caller's BR0 is 0 again afterwards), which saves a fault most of the accesses rpc() makes.
 */
export function* mapFrames(env: ProgramEnv, container: number, index: number, count: number, address: number, rights: number): Op<void> {
  const server = (yield* startupOf(env)).physmem;
  const br0 = env.utcb + brOffset(0);
  yield* env.write32(br0, COMPLETE_ACCEPTOR);
  try {
    yield* env.writeWords(env.utcb + mrOffset(0), [MAP_TAG, container >>> 0, index >>> 0, count >>> 0, address >>> 0, rights >>> 0]);
    let mapped = 0;
    for (;;) {
      const result = yield* call(env, server);
      if (result.tag.error) throw new physmem.PhysmemError(result.errorCode >>> 1 === 2 ? 'ESRCH' : 'EIO', 'the map request failed');
      if (result.tag.label !== 0) throw new physmem.PhysmemError(errorName(result.tag.label));
      mapped += (yield* env.read32(env.utcb + mrOffset(2))) >>> 0;
      if (mapped >= count) return;
      if (result.tag.untyped < 2) throw new physmem.PhysmemError('EIO', 'physmem stopped mapping');
      yield* env.write32(env.utcb + mrOffset(0), MAP_MORE_TAG);
    }
  } finally {
    yield* env.write32(br0, 0);
  }
}

const MAP_TAG = msgTag(PhysmemOp.Map, 5);
const MAP_MORE_TAG = msgTag(PhysmemOp.MapMore, 0);
const COMPLETE_ACCEPTOR = acceptor(completeFpage());

/** Unmaps (flush) every mapping of the caller's space in [start, end), in aligned fpages. */
export function* unmapRange(env: ProgramEnv, start: number, end: number): Op<void> {
  const fpages: number[] = [];
  for (let at = start; at < end; ) {
    let log2 = 12;
    while (log2 < 31 && at % 2 ** (log2 + 1) === 0 && at + 2 ** (log2 + 1) <= end) log2++;
    fpages.push(fpage(at, log2, Rights.Full));
    at += 2 ** log2;
  }
  for (let i = 0; i < fpages.length; i += STATUS_BATCH) yield* unmapFpages(env, fpages.slice(i, i + STATUS_BATCH), true);
}

/** Stops a thread of the caller's space where it is: its IPC cancelled, the thread halted. */
export function* stop(env: ProgramEnv, thread: number): Op<void> {
  const control = ExchangeControl.CancelSend | ExchangeControl.CancelReceive | ExchangeControl.HaltValid | ExchangeControl.Halt;
  yield* exchangeRegisters(env, thread, control, 0, 0, 0, 0, 0);
}

/** Makes `pager` the pager of the calling thread (threads it creates afterwards inherit it). */
export function* usePager(env: ProgramEnv, pager: number): Op<void> {
  yield* exchangeRegisters(env, env.utcb, ExchangeControl.SetPager, 0, 0, 0, 0, pager);
}

/** An empty message's tag with a label (for the request call). */
export const REQUEST_TAG = msgTag(MM_REQUEST);

function pageRange(size: number): number {
  if (!Number.isSafeInteger(size) || size <= 0 || size > MMAP_TOP) throw new MmError('EINVAL', `a size of ${String(size)} bytes`);
  return Math.ceil(size / PAGE) * PAGE;
}

function range(address: number, size: number): [number, number] {
  if (!Number.isSafeInteger(address) || address < 0 || address % PAGE !== 0) throw new MmError('EINVAL', `address ${String(address)} is not page aligned`);
  const length = pageRange(size);
  if (address + length > MMAP_TOP) throw new MmError('EINVAL', `0x${address.toString(16)} + ${length} runs into the UTCB area`);
  return [address, address + length];
}

function checkRights(rights: number): void {
  if (!Number.isInteger(rights) || rights < 0 || rights > Rights.Full || (rights !== 0 && !(rights & Rights.Read))) {
    throw new MmError('EINVAL', `rights ${String(rights)}: read is needed (IA-32 has no write-only pages), or 0 for none`);
  }
}

export function rightsText(rights: number): string {
  if (rights === 0) return 'inaccessible';
  return rights & Rights.Write ? 'writable' : 'read-only';
}

function describe(error: unknown): string {
  if (error instanceof ServerError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
