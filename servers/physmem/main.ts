// physmem: the physical memory server. It takes the box's conventional memory from sigma0 at
// boot, and from then on is the only source of memory for every task: containers of frames
// that tasks allocate, share, lock, copy and map into their own spaces by asking. It is the
// pager of no one. The semantics live in containers.ts; this file is the protocol: it decodes
// each request (protocol.ts), calls the model with the sender's task (the version field of the
// sender's thread id, which only the task server assigns), carries out the model's effects on
// the frames (zero, copy, Unmap of the derived mappings) and replies.
//
// Command line: reclaim-us=N (time a task has to give frames back, default 10000), lock-us=N
// (lock time of a container created without one, default 100000), check (run the accounting
// and structure check after every request and print what is wrong), quiet (no boot report).

import { Label, mrOffset, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { fpage } from '../../libl4/fpage.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import { call, kernelInterface, unmapFpages } from '../../libl4/syscalls.ts';
import { loadMessage, setAcceptor } from '../../libl4/registers.ts';
import { Errno, Refusal, refuseUnless } from '../errno.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { startupOf } from '../startup.ts';
import { checkPhysmem } from './check.ts';
import { Physmem, type Container } from './containers.ts';
import { FRAME_WINDOW, FRAME_WINDOW_END, FramePool, PAGE, windowAddress, type Frame } from './frames.ts';
import { ADDRESSES_PER_REPLY, AllocateFlag, CopyFlag, GATHER_PER_REQUEST, InfoFlag, MAP_ITEMS_PER_REPLY, PhysmemNotice, PhysmemOp, ReportFlag } from './protocol.ts';
import { setIntrospection } from './snapshot.ts';

const SIGMA0 = (64 << 14) | 1;
const KIP_PROCESSOR_DESCRIPTORS = 0xbc;
/** Model cycles of physmem's own bookkeeping (estimates: a C server's table lookups). */
export const PHYSMEM_REQUEST_CYCLES = 200;
export const PHYSMEM_PAGE_CYCLES = 40;

/** A map request being answered over several replies. */
interface MapInProgress {
  readonly container: Container;
  readonly thread: number;
  readonly task: number;
  readonly end: number;
  readonly address: number;
  readonly start: number;
  readonly rights: number;
  readonly version: number;
  next: number;
}

export default program(function* physmem(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const startup = yield* startupOf(env);
  const kip = (yield* kernelInterface(env)).kip;
  const kHz = yield* env.read32(kip + (yield* env.read32(kip + KIP_PROCESSOR_DESCRIPTORS)) + 4);
  const cyclesToMicroseconds = (low: number, high: number): number => Math.ceil(((low + high * 2 ** 32) * 1000) / Math.max(1, kHz));

  const pool = yield* takeMemory(env);
  const model = new Physmem(pool, {
    controlTask: startup.policy & 0x3fff,
    taskServer: startup.taskServer & 0x3fff,
    reclaimTime: numberOption(options, 'reclaim-us', 10_000),
    defaultLockTime: numberOption(options, 'lock-us', 100_000),
  });
  for (const thread of [startup.wortel, startup.taskServer, startup.policy]) if (thread) model.live.add(thread & 0x3fff);
  model.live.add(startup.task);
  setIntrospection(model);
  const check = 'check' in options;
  if (!('quiet' in options)) yield* print(env, `physmem: ${pool.total} frames (${(pool.total * PAGE) / 1024} KiB) from sigma0\n`);

  const maps = new Map<number, MapInProgress>();

  /** Carries out the model's effects in order; consecutive revocations go in one Unmap. */
  function* perform(): Op<void> {
    const effects = model.effects;
    let revokes: number[] = [];
    const flush = function* (): Op<void> {
      if (revokes.length > 0) yield* unmapFpages(env, revokes, false);
      revokes = [];
    };
    for (let i = 0; i < effects.length; i++) {
      const effect = effects[i]!;
      if (effect.kind === 'revoke') {
        revokes.push(fpage(windowAddress(effect.frame), 12, effect.rights));
        if (revokes.length === 64) yield* flush();
        continue;
      }
      yield* flush();
      if (effect.kind === 'zero') yield* env.fill(windowAddress(effect.frame), PAGE, 0);
      else yield* env.copy(windowAddress(effect.to), windowAddress(effect.from), PAGE);
    }
    yield* flush();
    effects.length = 0;
  }

  /** Sends what the model queued for others: answers to held calls, reclaim requests, kills. */
  function* dispatch(): Op<void> {
    if (model.unstamped) model.stamp(yield* loop.clock());
    for (const answer of model.answers) loop.answer(answer.thread, { label: answer.errno, words: answer.words });
    model.answers.length = 0;
    for (const notice of model.notices) {
      if (notice.kind === 'reclaim') {
        const deadline = notice.deadline;
        loop.post(notice.thread, { label: PhysmemNotice.Reclaim, words: [notice.frames, deadline % 2 ** 32, Math.floor(deadline / 2 ** 32)] });
      } else loop.post(startup.taskServer, { label: PhysmemNotice.Kill, words: [notice.task] });
    }
    model.notices.length = 0;
  }

  /** One reply's worth of a map: map items for pages from `map.next` on, runs coalesced. */
  function mapReply(map: MapInProgress): OutgoingMessage {
    const items: number[] = [];
    let pages = 0;
    let runStart = 0;
    let runFrame = 0;
    let runLength = 0;
    let full = false;
    /** Emits the run as aligned power-of-two pieces while the reply has room. */
    const emit = (): void => {
      while (runLength > 0 && items.length < 2 * MAP_ITEMS_PER_REPLY) {
        const at = map.address + (runStart - map.start) * PAGE;
        const window = FRAME_WINDOW + runFrame * PAGE;
        let log2 = 12;
        while (log2 < 22 && runLength >= 2 ** (log2 - 11) && at % 2 ** (log2 + 1) === 0 && window % 2 ** (log2 + 1) === 0) log2++;
        const piece = 2 ** (log2 - 12);
        // A map item: send base | 0x8, then the fpage (base, size, rights); both aligned here.
        items.push((at | 0x8) >>> 0, (window | (log2 << 4) | map.rights) >>> 0);
        pages += piece;
        runStart += piece;
        runFrame += piece;
        runLength -= piece;
      }
      full = runLength > 0;
    };
    /**
     * The longest first piece a run starting at `runStart` (frame `runFrame`) can have: the
     * largest power of two, up to 4 MiB, to which both its address and its frame's window
     * address are aligned (in pages).
     */
    const alignedPages = (): number => {
      const bits = ((map.address / PAGE + (runStart - map.start)) | (FRAME_WINDOW / PAGE + runFrame)) & 1023;
      return bits === 0 ? 1024 : bits & -bits;
    };
    let failed = false;
    for (let index = map.next; index < map.end; index++) {
      const frame = model.mapPage(map.container, map.task, index, map.rights);
      if (!frame) {
        failed = true;
        break;
      }
      if (runLength > 0 && frame.number === runFrame + runLength) {
        runLength++;
      } else {
        emit();
        if (full) break;
        runStart = index;
        runFrame = frame.number;
        runLength = 1;
      }
      // A run as long as its alignment allows goes out now (more pages could not change its first
      // piece), and the walk ends when the reply is full: a map of many misaligned pages costs
      // each reply only the pages it carries, not every page left.
      if (runLength === alignedPages()) {
        emit();
        if (items.length >= 2 * MAP_ITEMS_PER_REPLY) break;
      }
    }
    if (!full) emit();
    // The items cover the pages from map.next on, in order; the rest is resolved again later.
    map.next += pages;
    if (map.next >= map.end || failed) maps.delete(map.thread);
    if (failed && pages === 0) return { label: Errno.EINVAL };
    return { label: 0, words: [map.version, pages], items };
  }

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    model.counters.requests++;
    const task = request.from & 0x3fff;
    const w = request.words;
    const word = (i: number): number => (w[i] ?? 0) >>> 0;
    let reply: OutgoingMessage | null = null;
    let refusal: unknown = null;
    let pages = 0;
    try {
      refuseUnless(request.tag.typed === 0, 'EINVAL', 'requests carry no typed items');
      switch (request.tag.label) {
        case PhysmemOp.Create: {
          const created = model.create(task, request.from, word(0), cyclesToMicroseconds(word(1), word(2)));
          pages = word(0);
          if (created === 'held') loop.held.add(request.from);
          else reply = { label: 0, words: [created.handle, created.version] };
          break;
        }
        case PhysmemOp.CreateFrom: {
          const created = model.createFrom(task, word(0), word(1), word(2));
          pages = word(2);
          reply = { label: 0, words: [created.handle, created.version] };
          break;
        }
        case PhysmemOp.Destroy:
          model.destroy(task, word(0));
          reply = { label: 0 };
          break;
        case PhysmemOp.Allocate: {
          const flags = word(3);
          const version = model.allocate(task, request.from, word(0), word(1), word(2), {
            contiguous: (flags & AllocateFlag.Contiguous) !== 0,
            below: flags & AllocateFlag.Below ? word(4) : Infinity,
          });
          pages = word(2);
          if (version === 'held') loop.held.add(request.from);
          else reply = { label: 0, words: [version] };
          break;
        }
        case PhysmemOp.Deallocate:
          reply = { label: 0, words: [model.deallocate(task, word(0), word(1), word(2))] };
          pages = word(2);
          break;
        case PhysmemOp.Map: {
          const [handleWord, start, count, address, rights] = [word(0), word(1), word(2), word(3), word(4)];
          const container = model.beginMap(task, handleWord, start, count, address, rights);
          const map: MapInProgress = { container, thread: request.from, task, start, end: start + count, address, rights, version: container.version, next: start };
          maps.set(request.from, map);
          reply = mapReply(map);
          pages = count;
          break;
        }
        case PhysmemOp.MapMore: {
          const map = maps.get(request.from);
          refuseUnless(map !== undefined, 'EINVAL', 'no map in progress');
          reply = mapReply(map);
          break;
        }
        case PhysmemOp.GrantAccess:
        case PhysmemOp.Share: {
          const handle = request.tag.label === PhysmemOp.Share ? model.share(task, word(0), word(1)) : model.grantAccess(task, word(0), word(1));
          // With ReportFlag.Version, also the version the giving made (002 step 3: the server saves it).
          reply = { label: 0, words: word(2) & ReportFlag.Version ? [handle, model.info(word(1), handle).version] : [handle] };
          break;
        }
        case PhysmemOp.LockMap:
        case PhysmemOp.LockPhysical: {
          const physical = request.tag.label === PhysmemOp.LockPhysical;
          const { version, addresses } = model.lock(task, word(0), word(1) !== 0, physical, yield* loop.clock());
          pages = addresses.length;
          reply = { label: 0, words: physical ? [version, addresses.length, ...chunk(addresses, 0)] : [version] };
          break;
        }
        case PhysmemOp.PhysicalAddresses: {
          const addresses = model.physicalAddresses(task, word(0));
          reply = { label: 0, words: [addresses.length, ...chunk(addresses, word(1))] };
          break;
        }
        case PhysmemOp.Unlock:
          reply = { label: 0, words: [model.unlock(task, word(0))] };
          break;
        case PhysmemOp.UnmapAll:
          reply = { label: 0, words: [model.unmapAll(task, word(0))] };
          break;
        case PhysmemOp.Copy: {
          const version = model.copy(task, word(0), word(1), word(2), word(3), word(4), (word(5) & CopyFlag.Shared) !== 0);
          // With CopyFlag.ReportSource, also the source's version (002 step 8: it tells whether someone else touched it).
          reply = { label: 0, words: word(5) & CopyFlag.ReportSource ? [version, model.info(task, word(0)).version] : [version] };
          pages = word(4);
          break;
        }
        case PhysmemOp.CopyGather: {
          const count = word(3) & 0xffff;
          const report = (word(3) >>> 16) & CopyFlag.ReportSource;
          refuseUnless(count >= 1 && count <= GATHER_PER_REQUEST && count === w.length - 4, 'EINVAL', `a gather of ${count} frames in ${w.length - 4} words`);
          const version = model.copyGather(task, word(0), w.slice(4).map((x) => x >>> 0), word(1), word(2));
          reply = { label: 0, words: report ? [version, model.info(task, word(0)).version] : [version] };
          pages = count;
          break;
        }
        case PhysmemOp.Info: {
          const info = model.info(task, word(0));
          reply = { label: 0, words: [info.frames, info.version, (info.locked ? InfoFlag.Locked : 0) | (info.weak ? InfoFlag.Weak : 0), info.giver] };
          break;
        }
        case PhysmemOp.Stats: {
          const s = model.stats();
          reply = { label: 0, words: [s.total, s.free, s.reserved, s.guaranteed, s.allocated, s.extra] };
          break;
        }
        case PhysmemOp.OnReclaim:
          model.onReclaim(task, word(0));
          reply = { label: 0 };
          break;
        case PhysmemOp.SetGuarantee:
          reply = { label: 0, words: [model.setGuarantee(task, word(0), word(1))] };
          break;
        case PhysmemOp.GuaranteeInfo: {
          const info = model.guaranteeInfo(task, word(0));
          reply = { label: 0, words: [info.guarantee, info.committed, info.total, info.guaranteed] };
          break;
        }
        case PhysmemOp.SetReclaimAction:
          model.setReclaimAction(task, word(0) !== 0);
          reply = { label: 0 };
          break;
        case PhysmemOp.TaskStarted:
          model.taskStarted(task, word(0));
          reply = { label: 0 };
          break;
        case PhysmemOp.TaskDied:
          model.taskDied(task, word(0));
          for (const [thread, map] of maps) if ((thread & 0x3fff) === word(0) || map.container.destroyed) maps.delete(thread);
          reply = { label: 0 };
          break;
        default:
          throw new Refusal('EINVAL', `no operation 0x${request.tag.label.toString(16)}`);
      }
    } catch (error) {
      if (error instanceof Refusal) model.counters.refusals++;
      refusal = error;
    }
    yield* env.work(PHYSMEM_REQUEST_CYCLES + PHYSMEM_PAGE_CYCLES * Math.min(pages, 1 << 20));
    // Effects queued before a refusal belong to what the model did change: carry them out too.
    yield* perform();
    yield* dispatch();
    if (check) yield* report(checkPhysmem(model));
    if (refusal) throw refusal;
    return reply;
  }

  function* report(problems: readonly string[]): Op<void> {
    for (const problem of problems.slice(0, 5)) yield* print(env, `physmem: invariant violated: ${problem}\n`);
  }

  const loop: ServerLoop = new ServerLoop(env, 'physmem', handle, {
    next: () => model.nextDeadline(),
    *run(now: number): Op<void> {
      model.expire(now);
      yield* perform();
      yield* dispatch();
      if (check) yield* report(checkPhysmem(model));
    },
  });
  return yield* loop.run();
});

function chunk(addresses: readonly number[], from: number): number[] {
  const part = addresses.slice(from, from + ADDRESSES_PER_REPLY);
  return [part.length, ...part];
}

/**
 * Takes conventional memory from sigma0, the largest pieces first (4 MiB down to 4 KiB, as
 * hurd-l4's physmem pulled memory at boot), into the frame window, until sigma0 has none left
 * or the window is full.
 */
function* takeMemory(env: ProgramEnv): Op<FramePool> {
  const pool = new FramePool();
  let next = FRAME_WINDOW;
  for (let log2 = 22; log2 >= 12; log2--) {
    const size = 2 ** log2;
    while (next + size <= FRAME_WINDOW_END) {
      yield* setAcceptor(env, acceptor(fpage(next, log2)));
      yield* loadMessage(env, { label: Label.Sigma0, words: [(0xfffffc00 | (log2 << 4)) >>> 0, 0] });
      const result = yield* call(env, SIGMA0);
      const sent = yield* env.read32(env.utcb + mrOffset(2));
      if (result.tag.error || result.tag.typed !== 2 || !sent) break;
      const physical = (sent & ~0x3ff) >>> 0;
      const sentLog2 = (sent >>> 4) & 0x3f;
      pool.add(physical, 2 ** (sentLog2 - 12));
      next += 2 ** sentLog2;
    }
  }
  // From now on nobody may map anything into physmem's space.
  yield* setAcceptor(env, 0);
  pool.seal();
  return pool;
}

export { introspect } from './snapshot.ts';
