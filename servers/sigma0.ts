// sigma0: the root pager. It owns all conventional memory the KIP describes (minus what the
// kernel reserved) and hands it out 1:1 by map items:
//
//   request                         MR0 label                  MR1             reply
//   memory request                  -6 << 4 (0xFFA0), u = 2    fpage; MR2 attributes
//                                                              (base all ones: any free page
//                                                              of that size)    map item, or a nil fpage
//   page fault of a thread whose    -2 << 4 | rwx, u = 2       fault address   map item of the page
//   pager is sigma0
//
// Requests are idempotent: a page already owned by the requesting thread is handed out again.
// sigma0 sees only thread ids, so ownership is per requesting thread. Memory it does not own
// (the kernel's, outside RAM) or owned by another thread gets a nil fpage. Boot-loader memory
// (the boot modules) and dedicated memory (a device's registers, as L4Ka::Pistachio's sigma0
// keeps it apart from conventional memory) are handed out by exact address only, never as
// "any page": the root task takes a device's page and gives it to its driver. A malformed
// request (wrong label, wrong word count, typed items) gets no reply at all.
//
// sigma0 reads its own space 1:1: the kernel maps physical memory into it on demand.

import {
  ANYTHREAD,
  Label,
  Syscall,
  UTCB_MR_OFFSET,
  type Op,
  type ProgramEnv,
} from '../libl4/abi.ts';
import { PageOwners, PageTypes, type Descriptor } from './sigma0-pages.ts';

const PAGE = 4096;
/** The memory-request label; the low 4 bits carry nothing. */
const SIGMA0_REQUEST = Label.Sigma0;
const PAGE_FAULT = Label.PageFault;
/** Typed-item word of a map item with send base 0 (the base is or'ed in). */
const MAP_ITEM = 0x8;
/** KIP fields sigma0 reads. */
const KIP_MEMORY_INFO = 0x54;
const KIP_MAGIC = 0x4be6344c;
const CONVENTIONAL = 1;
const DEDICATED = 3;
const SHARED = 4;
/** Boot-loader memory (the boot modules and boot information): handed out by exact address only. */
const BOOT = 0xe;

export default sigma0;

export function* sigma0(env: ProgramEnv): Op<void> {
  const [kip] = yield* env.syscall(Syscall.KernelInterface, []);
  if ((yield* env.read32(kip!)) !== KIP_MAGIC) {
    yield* env.print('sigma0: no KIP\n');
    return;
  }
  const regions = yield* readMemoryMap(env, kip!);
  const types = new PageTypes(regions);
  yield* env.print(`sigma0: ${(types.count(CONVENTIONAL) * PAGE) / 1024} KiB of conventional memory to hand out\n`);
  const anyPage = (type: number): boolean => type === CONVENTIONAL || type === SHARED;
  const exactPage = (type: number): boolean => anyPage(type) || type === BOOT || type === DEDICATED;
  const owners = new PageOwners();
  let nextFree = 0;
  const mr = (i: number): number => env.utcb + UTCB_MR_OFFSET + 4 * i;

  /** Gives [base, base + size) to `owner` (a thread id) if it may have all of it. */
  const claim = (base: number, size: number, owner: number, exact: boolean): boolean => {
    if (types.blockedUntil(base, size, exact ? exactPage : anyPage) !== 0 || !owners.freeFor(base, size, owner)) return false;
    owners.give(base, size, owner);
    return true;
  };

  /** The first free, available, size-aligned region of `size` bytes, or -1. */
  const findFree = (size: number): number => {
    for (const region of regions) {
      if (region.type !== CONVENTIONAL) continue;
      let base = Math.ceil(Math.max(region.low, nextFree) / size) * size;
      while (base + size <= region.end) {
        // Past a held page, or a page that is not memory to hand out, the search goes on at the
        // first candidate that cannot hold it.
        const past = owners.takenUntil(base, size) || types.blockedUntil(base, size, anyPage);
        if (past === 0) break;
        base = Math.ceil(past / size) * size;
      }
      if (base + size <= region.end) return base;
    }
    return -1;
  };

  let from = 0;
  let reply = false;
  for (;;) {
    // Reply to the last requester (if any) and wait for the next request.
    const [sender] = reply ? yield* env.syscall(Syscall.Ipc, [from, ANYTHREAD, 0x0400 << 16]) : yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    from = sender!;
    const [tag, word1, word2] = yield* env.readWords(mr(0), 3);
    const label = tag! >>> 16;
    const untyped = tag! & 0x3f;
    const typed = (tag! >>> 6) & 0x3f;
    reply = false;
    if (tag! & 0x8000 || typed !== 0) continue;
    let base = -1;
    let size = PAGE;
    let exact = true;
    if (label === SIGMA0_REQUEST && untyped === 2) {
      const log2 = (word1! >>> 4) & 0x3f;
      if (log2 < 12 || log2 > 31) {
        yield* sendMap(env, mr, 0, 0);
        reply = true;
        continue;
      }
      size = 2 ** log2;
      const requested = (word1! & ~0x3ff) >>> 0;
      if (requested >>> 10 === 0x3fffff) {
        exact = false;
        base = findFree(size);
        if (base >= 0 && size === PAGE) nextFree = base + PAGE;
      } else base = requested - (requested % size);
      void word2;
    } else if ((label & 0xfff0) === PAGE_FAULT && untyped === 2) {
      base = Math.floor(word1! / PAGE) * PAGE;
    } else {
      continue; // malformed: no reply
    }
    if (base >= 0 && claim(base, size, from, exact)) {
      yield* sendMap(env, mr, base, Math.log2(size));
    } else {
      yield* sendMap(env, mr, 0, 0);
    }
    reply = true;
  }
}

/** Loads a reply of one map item: the page(s) at `base` 1:1 with rwx, or a nil fpage. */
function* sendMap(env: ProgramEnv, mr: (i: number) => number, base: number, log2: number): Op<void> {
  const fpage = log2 === 0 ? 0 : (base | (log2 << 4) | 7) >>> 0;
  yield* env.writeWords(mr(0), [2 << 6, (base | MAP_ITEM) >>> 0, fpage]);
}

function* readMemoryMap(env: ProgramEnv, kip: number): Op<Descriptor[]> {
  const info = yield* env.read32(kip + KIP_MEMORY_INFO);
  const offset = info >>> 16;
  const count = info & 0xffff;
  const descriptors: Descriptor[] = [];
  for (let i = 0; i < count; i++) {
    const [low, high] = yield* env.readWords(kip + offset + i * 8, 2);
    if (low! & 0x200) continue; // virtual
    descriptors.push({ type: low! & 0xf, low: (low! & ~0x3ff) >>> 0, end: ((high! & ~0x3ff) >>> 0) + 1024 });
  }
  return descriptors;
}
