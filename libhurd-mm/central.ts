// libhurd-mm in an image that holds a central pager (servers/central-pager): the same client
// interface, with the Mach/Unix division of labour behind it. The task does not page itself:
// its threads' pager is the central pager, which owns every frame, evicts by one global clock
// and pages to the store. The task only tells it which regions exist (mmap, munmap, mprotect,
// madvise), and has no say in evictions: startPager's guarantee, extra frames and policies are
// ignored, region policies too, and discardable regions are paged like anonymous ones (a
// central pager does not know what a task can rebuild). `dontneed` still drops pages.
//
// The task keeps its own copy of the region map, to place regions and refuse bad requests as
// the self-paging pager does, so a program sees the same results under both pagers.
//
// Faults outside the task's regions are the task's to decide: the central pager tells the
// task's helper thread (created here), which maps the startup or module page, or a page the task
// mapped from a container itself, and resumes the faulter; anything else is a segmentation
// fault, reported and ended as in the self-paging pager (status 139).

import { mrOffset, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { Rights } from '../libl4/fpage.ts';
import { wait } from '../libl4/syscalls.ts';
import { print } from '../servers/console.ts';
import { mappingAt } from '../servers/container-mappings.ts';
import { replyErrorName, rpc } from '../servers/rpc.ts';
import { CentralNotice, CentralOp, FaultKind, KIND_ANONYMOUS, KIND_DISCARDABLE } from '../servers/central-pager/protocol.ts';
import { MODULE_BASE, STARTUP_PAGE, type Startup } from '../servers/startup.ts';
import * as task from '../servers/task/client.ts';
import { mapFrames, rightsText, unmapRange, usePager } from './pager.ts';
import { Region, RegionMap } from './regions.ts';
import { ADVICE, emptyStats, MEMORY_FAILURE_STATUS, MMAP_BASE, MMAP_TOP, MmError, PAGE, SEGFAULT_STATUS, type Advice, type Kind, type MmStats } from './types.ts';

export class CentralClient {
  readonly regions = new RegionMap({ onSplit: () => {}, onJoin: () => {} });
  private readonly imageTop: number;
  private readonly name: string;
  /** The helper thread (0 until start). */
  helper = 0;

  constructor(
    readonly startup: Startup,
    /** The central pager's thread. */
    readonly server: number,
  ) {
    this.imageTop = MODULE_BASE + Math.ceil(startup.moduleLength / PAGE) * PAGE;
    this.name = startup.name || `task ${startup.task}`;
  }

  private *call(env: ProgramEnv, label: number, words: readonly number[]): Op<number[]> {
    const reply = yield* rpc(env, this.server, label, words.map((w) => w >>> 0));
    if (reply.label !== 0) throw new MmError(replyErrorName(reply), 'the central pager refused');
    return reply.words;
  }

  /** Becomes a client: the helper thread, Attach, and the central pager as the caller's pager. */
  *start(env: ProgramEnv): Op<number> {
    const helper = yield* task.createThread(env, (henv) => this.help(henv));
    this.helper = helper;
    const [frames] = yield* this.call(env, CentralOp.Attach, [helper]);
    // What the default pager mapped where regions go is not the central pager's: clear it.
    yield* unmapRange(env, MMAP_BASE, MMAP_TOP);
    yield* usePager(env, this.server);
    return frames ?? 0;
  }

  /** The helper thread: faults outside the regions. */
  private *help(env: ProgramEnv): Op<void> {
    for (;;) {
      const received = yield* wait(env);
      if (received.tag.error || received.from !== this.server || received.tag.label !== CentralNotice.Fault) continue;
      const [address, write, thread, kind] = yield* env.readWords(env.utcb + mrOffset(1), 4);
      const at = (address! & ~0xfff) >>> 0;
      if (kind === FaultKind.Outside && (yield* this.outside(env, at, write !== 0))) {
        yield* this.call(env, CentralOp.Resume, [thread!]);
        continue;
      }
      const where = `${write ? 'write' : 'read'} at 0x${address!.toString(16).padStart(8, '0')}`;
      if (kind === FaultKind.Failed) {
        yield* print(env, `${this.name}: the central pager could not serve a ${where}\n`);
        yield* task.exit(env, MEMORY_FAILURE_STATUS);
      }
      const region = this.regions.find(at);
      yield* print(env, `${this.name}: segmentation fault: ${where} (${region ? `the region is ${rightsText(region.rights)}` : 'no region there'})\n`);
      yield* task.exit(env, SEGFAULT_STATUS);
    }
  }

  private *outside(env: ProgramEnv, at: number, write: boolean): Op<boolean> {
    try {
      if (at === STARTUP_PAGE || (at >= MODULE_BASE && at < this.imageTop)) {
        if (write) return false;
        yield* task.mapImage(env, at);
        return true;
      }
      const mapped = mappingAt(this.startup.task, at);
      if (!mapped || (write && !(mapped.rights & Rights.Write))) return false;
      yield* mapFrames(env, mapped.container, mapped.index, 1, at, mapped.rights);
      return true;
    } catch {
      return false;
    }
  }

  private reserved(): [number, number][] {
    return [
      [0, PAGE],
      [STARTUP_PAGE, STARTUP_PAGE + PAGE],
      [MODULE_BASE, this.imageTop],
    ];
  }

  *mmap(env: ProgramEnv, length: number, rights: number, kind: Kind, address: number | undefined): Op<number> {
    let start: number;
    if (address === undefined) {
      start = this.regions.place(length, MMAP_BASE, MMAP_TOP, this.reserved());
      if (start < 0) throw new MmError('ENOMEM', `no room for ${length} bytes`);
    } else {
      start = address;
      if (start + length > MMAP_TOP) throw new MmError('EINVAL', `0x${start.toString(16)} + ${length} runs into the UTCB area`);
      if (this.regions.overlaps(start, start + length) || this.reserved().some(([s, e]) => start < e && s < start + length)) {
        throw new MmError('EINVAL', `0x${start.toString(16)} + ${length} overlaps a region or the image`);
      }
      if (start < MMAP_BASE) yield* unmapRange(env, start, start + length);
    }
    // Reserved here first, so that another thread's mmap cannot take the same range meanwhile.
    const region = new Region(start, start + length, rights, kind, undefined, false, null);
    this.regions.insert(region);
    try {
      yield* this.call(env, CentralOp.Map, [start, length, rights, kind === 'discardable' ? KIND_DISCARDABLE : KIND_ANONYMOUS]);
    } catch (error) {
      this.regions.remove([region]);
      throw error;
    }
    this.regions.join(start, start + length);
    return start;
  }

  *munmap(env: ProgramEnv, start: number, end: number): Op<void> {
    this.regions.remove(this.regions.carve(start, end));
    yield* this.call(env, CentralOp.Unmap, [start, end - start]);
  }

  *mprotect(env: ProgramEnv, start: number, end: number, rights: number): Op<void> {
    if (!this.regions.covers(start, end)) throw new MmError('ENOMEM', `0x${start.toString(16)} + ${end - start} is not all mapped`);
    for (const region of this.regions.carve(start, end)) region.rights = rights;
    this.regions.join(start, end);
    yield* this.call(env, CentralOp.Protect, [start, end - start, rights]);
  }

  *madvise(env: ProgramEnv, start: number, end: number, advice: Advice): Op<void> {
    if (!this.regions.covers(start, end)) throw new MmError('ENOMEM', `0x${start.toString(16)} + ${end - start} is not all mapped`);
    yield* this.call(env, CentralOp.Advise, [start, end - start, ADVICE.indexOf(advice)]);
  }

  *stats(env: ProgramEnv): Op<MmStats> {
    const [faults, zeroFills, pageIns, pageOuts, evictions, remaps, framesHeld, resident] = yield* this.call(env, CentralOp.Stats, []);
    return { ...emptyStats('central'), faults: faults!, zeroFills: zeroFills!, pageIns: pageIns!, pageOuts: pageOuts!, evictions: evictions!, remaps: remaps!, framesHeld: framesHeld!, resident: resident! };
  }
}
