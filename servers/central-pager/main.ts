// The central pager: the Mach/Unix way of 002, as the baseline self-paging is measured against.
// One server pages all its client tasks from one pool of frames with one global clock; no task
// has a say in what is evicted, and dirty pages go to the same store the self-paging tasks use.
//
// At boot it negotiates a guarantee of `frames` frames (its pool), allocates them in one
// container of its own and maps them all into its window, frame f at WINDOW + f * 4096. A task
// becomes a client through libhurd-mm (libhurd-mm/central.ts): it attaches with a helper thread
// of its own, makes the central pager its threads' pager, and tells it its regions (Map, Unmap,
// Protect, Advise). A client's page fault in a region is served with a map item from the window
// (the frame filled with zeros, or from the store); a fault outside its regions is sent to the
// client's helper, which decides (its image, its own container pages, or a segmentation fault)
// and resumes the faulter or ends the task.
//
// The clock: the hand goes round the frames in order; the referenced bits of the 64 frames
// ahead of it are read with one Unmap of their window pages with no rights (which reads the
// bits of every mapping derived from them: the clients' mappings), a referenced frame gets a
// second chance, the first one not referenced is evicted: its client mapping is removed (Unmap
// of the window page, which keeps the central pager's own), and if it was written it goes to
// the store under (client task, page number). Discardable regions are paged like anonymous ones:
// a central pager cannot know what a task can rebuild.
//
// Command line: frames=N (the pool, default 256), quiet (no boot line).

import { Label, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import { setAcceptor } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import { unmapFpages } from '../../libl4/syscalls.ts';
import { mapFrames } from '../../libhurd-mm/pager.ts';
import { Region, RegionMap } from '../../libhurd-mm/regions.ts';
import { ADVICE, MMAP_TOP, PAGE } from '../../libhurd-mm/types.ts';
import { Refusal, refuseUnless } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import * as policy from '../policy/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { startupOf } from '../startup.ts';
import * as storeClient from '../store/client.ts';
import * as task from '../task/client.ts';
import { CentralNotice, CentralOp, FaultKind, KIND_DISCARDABLE } from './protocol.ts';

/** Where the pool's frames are mapped in the central pager's space. */
const WINDOW = 0x40000000;
/** Frames whose referenced bits one Unmap reads. */
const STATUS_BATCH = 64;
/** The central pager's bookkeeping per fault (an estimate, as physmem's per request). */
export const CENTRAL_FAULT_CYCLES = 200;

interface ClientPage {
  readonly client: Client;
  readonly address: number;
  /** Its frame in the pool (-1: not resident). */
  frame: number;
  /** Rights of the client's mapping (0: none). */
  mapped: number;
  dirty: boolean;
  stored: boolean;
  referenced: boolean;
}

interface Client {
  readonly task: number;
  readonly helper: number;
  readonly regions: RegionMap;
  readonly pages: Map<number, ClientPage>;
  /** Its threads held at a fault outside its regions, until the helper resumes them. */
  readonly held: Set<number>;
  faults: number;
  zeroFills: number;
  pageIns: number;
  pageOuts: number;
  evictions: number;
  remaps: number;
  framesHeld: number;
}

export default program(function* centralPager(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const startup = yield* startupOf(env);
  yield* setAcceptor(env, 0);
  const wanted = numberOption(options, 'frames', 256);
  const total = Math.min(wanted, yield* policy.negotiate(env, wanted), (MMAP_TOP - WINDOW) / PAGE);
  const container = yield* physmem.create(env);
  if (total > 0) {
    yield* physmem.allocate(env, container, 0, total);
    yield* mapFrames(env, container, 0, total, WINDOW, Rights.ReadWrite);
  }
  const store = yield* storeClient.find(env);
  if (store) yield* storeClient.attach(env, store, yield* physmem.share(env, container, store & 0x3fff));
  if (!('quiet' in options)) yield* print(env, `central-pager: ${total} frames${total < wanted ? ` of ${wanted} asked` : ''}, one clock for all${store ? '' : ', no store'}\n`);

  /** What each frame holds (null: free). */
  const frames: (ClientPage | null)[] = new Array<ClientPage | null>(total).fill(null);
  const free: number[] = [];
  for (let f = total - 1; f >= 0; f--) free.push(f);
  let hand = 0;
  const clients = new Map<number, Client>();
  const window = (f: number): number => WINDOW + f * PAGE;

  // ---- Frames ----------------------------------------------------------------------------------

  /** Reads and resets the referenced and dirty bits of the frames' mappings. */
  function* readStatus(list: readonly number[]): Op<void> {
    if (list.length === 0) return;
    const status = yield* unmapFpages(env, list.map((f) => fpage(window(f), 12, 0)), false);
    for (let i = 0; i < list.length; i++) {
      const page = frames[list[i]!];
      if (!page) continue;
      if (status[i]! & 1) page.referenced = true;
      if (status[i]! & 2) page.dirty = true;
    }
  }

  /** A frame for a page: a free one, or the clock's victim. */
  function* frameFor(): Op<number> {
    if (free.length > 0) return free.pop()!;
    refuseUnless(total > 0, 'ENOMEM', 'the central pager has no frames');
    let fresh = 0;
    for (let steps = 0; steps <= 2 * total + 1; steps++) {
      if (fresh === 0) {
        fresh = Math.min(STATUS_BATCH, total);
        const batch: number[] = [];
        for (let i = 0; i < fresh; i++) {
          const f = (hand + i) % total;
          if (frames[f]?.mapped) batch.push(f);
        }
        yield* readStatus(batch);
      }
      const f = hand;
      hand = (hand + 1) % total;
      fresh--;
      const page = frames[f];
      if (!page) return f;
      if (page.referenced) {
        page.referenced = false;
        continue;
      }
      yield* evict(page);
      return f;
    }
    throw new Refusal('ENOMEM', 'no frame to evict');
  }

  /** Takes a page's frame away from it: unmapped, written to the store if it was written. */
  function* evict(page: ClientPage): Op<void> {
    const f = page.frame;
    // Without flush: the client's mapping goes, the window keeps the frame.
    const [status] = yield* unmapFpages(env, [fpage(window(f), 12, Rights.Full)], false);
    if (status! & 2) page.dirty = true;
    page.mapped = 0;
    const client = page.client;
    if (page.dirty) {
      refuseUnless(store !== 0, 'ENOMEM', 'paging out needs the store, and this image has none');
      yield* storeClient.write(env, store, f, client.task, page.address / PAGE);
      client.pageOuts++;
      page.stored = true;
      page.dirty = false;
    }
    frames[f] = null;
    page.frame = -1;
    client.evictions++;
    client.framesHeld--;
    if (!page.stored && clients.get(client.task) === client) client.pages.delete(page.address);
  }

  /** Drops the pages of [start, end) of a client: frames freed, mappings and store copies gone. */
  function* drop(client: Client, start: number, end: number): Op<void> {
    const resident: number[] = [];
    let stored = false;
    for (let at = start; at < end; at += PAGE) {
      const page = client.pages.get(at);
      if (!page) continue;
      if (page.frame >= 0) resident.push(page.frame);
      if (page.stored) stored = true;
    }
    for (let i = 0; i < resident.length; i += STATUS_BATCH) {
      yield* unmapFpages(env, resident.slice(i, i + STATUS_BATCH).map((f) => fpage(window(f), 12, Rights.Full)), false);
    }
    for (const f of resident) {
      frames[f] = null;
      free.push(f);
      client.framesHeld--;
    }
    for (let at = start; at < end; at += PAGE) client.pages.delete(at);
    if (stored && store) yield* storeClient.discard(env, store, client.task, start / PAGE, (end - start) / PAGE);
  }

  // ---- Faults ----------------------------------------------------------------------------------

  function* fault(request: ServerRequest): Op<OutgoingMessage | null> {
    const client = clients.get(request.from & 0x3fff);
    // A thread of a task that never attached: nobody to ask what it meant.
    if (!client) return null;
    const address = request.words[0]! >>> 0;
    const write = (request.tag.label & 2) !== 0;
    const at = (address & ~0xfff) >>> 0;
    client.faults++;
    yield* env.work(CENTRAL_FAULT_CYCLES);
    const region = client.regions.find(at);
    if (!region || region.rights === 0 || (write && !(region.rights & Rights.Write))) {
      // The task's to decide: its helper maps what is its own, or ends it.
      hold(client, request.from, address, write, region ? FaultKind.Rights : FaultKind.Outside);
      return null;
    }
    try {
      return yield* serve(client, region, at);
    } catch (error) {
      // A faulting thread must never get an answer without a mapping (it would fault again at
      // once): it is held, and its task told.
      yield* print(env, `central-pager: cannot serve task ${client.task} at 0x${address.toString(16)}: ${error instanceof Error ? error.message : String(error)}\n`);
      hold(client, request.from, address, write, FaultKind.Failed);
      return null;
    }
  }

  function hold(client: Client, thread: number, address: number, write: boolean, kind: number): void {
    client.held.add(thread);
    loop.post(client.helper, { label: CentralNotice.Fault, words: [address, write ? 1 : 0, thread, kind] });
  }

  function* serve(client: Client, region: Region, at: number): Op<OutgoingMessage> {
    let page = client.pages.get(at);
    if (page && page.frame >= 0) {
      // Resident, but its mapping went or has fewer rights than the region now: map it again
      // (reading its status first: the new mapping replaces the old one and its bits).
      if (page.mapped) yield* readStatus([page.frame]);
      page.mapped = region.rights;
      client.remaps++;
      return { label: 0, items: mapItem(at, fpage(window(page.frame), 12, region.rights)) };
    }
    if (!page) {
      page = { client, address: at, frame: -1, mapped: 0, dirty: false, stored: false, referenced: false };
      client.pages.set(at, page);
    }
    const f = yield* frameFor();
    if (page.stored) {
      yield* storeClient.read(env, store, f, client.task, at / PAGE);
      client.pageIns++;
    } else {
      yield* env.fill(window(f), PAGE, 0);
      // The zeroing set the window page's own accessed and dirty bits: reset them.
      yield* unmapFpages(env, [fpage(window(f), 12, 0)], false);
      client.zeroFills++;
    }
    frames[f] = page;
    page.frame = f;
    page.mapped = region.rights;
    page.dirty = false;
    page.referenced = false;
    client.framesHeld++;
    return { label: 0, items: mapItem(at, fpage(window(f), 12, region.rights)) };
  }

  // ---- Requests --------------------------------------------------------------------------------

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    const label = request.tag.label;
    if ((label & 0xfff0) === Label.PageFault && request.tag.untyped === 2 && request.tag.typed === 0) return yield* fault(request);
    const death = task.deathNotice(label, request.words);
    if (death) {
      const client = clients.get(death.task);
      if (request.from === startup.taskServer && client) {
        clients.delete(death.task);
        // Its space is gone, and with it every mapping of our frames there.
        for (const page of client.pages.values()) {
          if (page.frame < 0) continue;
          frames[page.frame] = null;
          free.push(page.frame);
        }
        if (store) yield* storeClient.discard(env, store, client.task, 0, 0xffffffff);
      }
      return null;
    }
    refuseUnless(request.tag.typed === 0, 'EINVAL', 'requests carry no typed items');
    const w = request.words;
    const word = (i: number): number => (w[i] ?? 0) >>> 0;
    const id = request.from & 0x3fff;
    if (label === CentralOp.Attach) {
      refuseUnless((word(0) & 0x3fff) === id && word(0) >>> 14 !== 0, 'EINVAL', 'the helper must be a thread of the caller');
      refuseUnless(!clients.has(id), 'EBUSY', `task ${id} is a client already`);
      clients.set(id, {
        task: id,
        helper: word(0),
        regions: new RegionMap({ onSplit: () => {}, onJoin: () => {} }),
        pages: new Map(),
        held: new Set(),
        faults: 0,
        zeroFills: 0,
        pageIns: 0,
        pageOuts: 0,
        evictions: 0,
        remaps: 0,
        framesHeld: 0,
      });
      yield* task.watch(env, id);
      return { label: 0, words: [total] };
    }
    const client = clients.get(id);
    refuseUnless(client !== undefined, 'EPERM', `task ${id} is not a client`);
    const start = word(0);
    const end = start + word(1);
    if (label !== CentralOp.Stats && label !== CentralOp.Resume) {
      refuseUnless(start % PAGE === 0 && word(1) % PAGE === 0 && word(1) > 0 && end <= MMAP_TOP, 'EINVAL', `0x${start.toString(16)} + ${word(1)} is not a range of whole pages`);
    }
    switch (label) {
      case CentralOp.Map: {
        refuseUnless(!client.regions.overlaps(start, end), 'EINVAL', `0x${start.toString(16)} + ${word(1)} overlaps a region`);
        const rights = word(2);
        refuseUnless(rights <= Rights.Full && (rights === 0 || (rights & Rights.Read) !== 0), 'EINVAL', `rights ${rights}`);
        client.regions.insert(new Region(start, end, rights, word(3) === KIND_DISCARDABLE ? 'discardable' : 'anonymous', undefined, false, null));
        client.regions.join(start, end);
        return { label: 0 };
      }
      case CentralOp.Unmap: {
        const inside = client.regions.carve(start, end);
        yield* drop(client, start, end);
        client.regions.remove(inside);
        return { label: 0 };
      }
      case CentralOp.Protect: {
        const rights = word(2);
        refuseUnless(rights <= Rights.Full && (rights === 0 || (rights & Rights.Read) !== 0), 'EINVAL', `rights ${rights}`);
        refuseUnless(client.regions.covers(start, end), 'ENOMEM', 'the range is not all mapped');
        for (const region of client.regions.carve(start, end)) region.rights = rights;
        client.regions.join(start, end);
        const taken = rights & Rights.Read ? Rights.Full & ~rights : Rights.Full;
        if (taken === 0) return { label: 0 };
        const pages: ClientPage[] = [];
        for (let at = start; at < end; at += PAGE) {
          const page = client.pages.get(at);
          if (page && page.frame >= 0 && page.mapped & taken) pages.push(page);
        }
        for (let i = 0; i < pages.length; i += STATUS_BATCH) {
          const batch = pages.slice(i, i + STATUS_BATCH);
          const status = yield* unmapFpages(env, batch.map((p) => fpage(window(p.frame), 12, taken)), false);
          batch.forEach((page, j) => {
            if (status[j]! & 2) page.dirty = true;
            page.mapped &= ~taken;
            if (!(page.mapped & Rights.Read)) page.mapped = 0;
          });
        }
        return { label: 0 };
      }
      case CentralOp.Advise: {
        refuseUnless(word(2) < ADVICE.length, 'EINVAL', `advice ${word(2)}`);
        refuseUnless(client.regions.covers(start, end), 'ENOMEM', 'the range is not all mapped');
        // The clients have no say, except that what they drop is gone.
        if (ADVICE[word(2)] === 'dontneed') yield* drop(client, start, end);
        return { label: 0 };
      }
      case CentralOp.Stats: {
        let resident = 0;
        for (const page of client.pages.values()) if (page.frame >= 0) resident++;
        return { label: 0, words: [client.faults, client.zeroFills, client.pageIns, client.pageOuts, client.evictions, client.remaps, client.framesHeld, resident] };
      }
      case CentralOp.Resume: {
        const thread = word(0);
        refuseUnless(client.held.has(thread), 'EINVAL', 'that thread is not held');
        client.held.delete(thread);
        loop.answer(thread, { label: 0 });
        return { label: 0 };
      }
      default:
        throw new Refusal('EINVAL', `no operation 0x${label.toString(16)}`);
    }
  }

  const loop: ServerLoop = new ServerLoop(env, 'central-pager', handle);
  return yield* loop.run();
});
