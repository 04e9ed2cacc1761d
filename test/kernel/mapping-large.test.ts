// 4 MiB mappings (CPU with PSE): sigma0's 4 MiB pages, map and grant of 4 MiB fpages, 4 KiB
// mappings taken out of 4 MiB ones, Unmap of a part of a 4 MiB mapping (without flush: only what
// was derived from that part, with its status; with flush: the whole 4 MiB page, as
// L4Ka::Pistachio), the splitting of a 4 MiB mapping of which a part changes, the copy area's
// A and D bits, and the i486 profile (no PSE) staying in 4 KiB pages. The cast is mapping-rig.ts's;
// every run has the stale-translation check on and ends with the kernel's invariants intact.

import { describe, expect, it } from 'vitest';
import { PG_PS } from '../../emulator/hardware.ts';
import { ROOT_SPACE, type MappingNode } from '../../kernel/generic/mapping-database.ts';
import { type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { Rights, acceptor, completeFpage, fpage, msgTag } from '../../libl4/message.ts';
import { call, loadMRs, send, setAcceptor, threadControl, unmapFpages, wait } from '../../libl4/syscalls.ts';
import { loadBufferStrings, stringItem } from '../../libl4/string-item.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { B, C, D, FAULT_MARKER, RUN_LIMIT, Rig, finish, spaceOf } from './mapping-rig.ts';
import { ROOT_ID, boot, type Booted } from './support.ts';

const MiB4 = 0x400000;
/** A 4 MiB region of sigma0's memory (the kernel's is 1-9 MiB) and one holding kernel memory. */
const FRAME = 0x01400000;
const FRAME2 = 0x01800000;
/** A's 4 MiB window and the workers' 4 MiB-aligned addresses. */
const P = 0x40000000;
const Q = 0x44000000;
const X = 0x50000000;
const Y = 0x60000000;
const Z = 0x70000000;

/** What the kernel holds for (thread's space, address): the node covering it and the entry mapping it. */
interface LargeView {
  mapped: boolean;
  /** The node's page: its address and size. */
  address: number;
  log2Size: number;
  frame: number;
  rights: number;
  parent: { space: number; address: number; log2Size: number } | null;
  present: boolean;
  /** The entry is a 4 MiB PDE (PS). */
  large: boolean;
  writable: boolean;
  /** The physical address the entry maps `address` to (-1 when not present). */
  physical: number;
}

function look(b: Booted, id: number, address: number): LargeView {
  const space = b.kernel.threadById(id)!.space;
  return lookIn(b, space.id, space.pageDirectory, address);
}

function lookIn(b: Booted, spaceId: number, directory: number, address: number): LargeView {
  const node = b.kernel.mdb.lookup(spaceId, address);
  const entry = b.kernel.pageTables.entry(directory, address);
  const large = (entry & PG_PS) !== 0;
  const parent = node?.parent ?? null;
  return {
    mapped: node !== undefined,
    address: node?.address ?? -1,
    log2Size: node?.log2Size ?? 0,
    frame: node?.frame ?? -1,
    rights: node?.rights ?? 0,
    parent: parent ? { space: parent.space, address: parent.address, log2Size: parent.log2Size } : null,
    present: (entry & 1) !== 0,
    large,
    writable: (entry & 2) !== 0,
    physical: entry & 1 ? (large ? (entry & 0xffc00000) + (address & 0x3fffff) : (entry & ~0xfff) + (address & 0xfff)) >>> 0 : -1,
  };
}

/** How many present entries of a directory are 4 MiB pages. */
function largeEntries(b: Booted, id: number): number {
  const directory = b.kernel.threadById(id)!.space.pageDirectory;
  return b.kernel.pageTables.userEntries(directory).filter(([, entry]) => entry & PG_PS).length;
}

/** A asks sigma0 for the 4 MiB page at `frame`, received at `at`. */
function* largePage(rig: Rig, at: number, frame: number): Op<number> {
  return yield* rig.page(at, fpage(frame, 22), 22);
}

describe('4 MiB mappings: sigma0 and map items', () => {
  it('sigma0 gets each whole 4 MiB region of its memory as one 4 MiB page, a region with kernel memory in 4 KiB pages', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        seen.small = yield* rig.page(P, fpage(FRAME + 0x34000, 12));
        seen.kernelRegion = yield* rig.page(P + 0x1000, fpage(0xa00000, 12)); // region 8-12 MiB holds kernel memory up to 9 MiB
        seen.value = yield* env.read32(P);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const kernel = b.kernel;
    const s0 = kernel.sigma0Space!;
    expect(seen.small).toBe(fpage(FRAME + 0x34000, 12, Rights.Full));
    expect(seen.kernelRegion).toBe(fpage(0xa00000, 12, Rights.Full));
    expect(seen.value).toBe(0);
    // sigma0: one 4 MiB node under a 4 MiB root, and a 4 MiB PDE; the region with kernel memory in 4 KiB.
    const big = lookIn(b, s0.id, s0.pageDirectory, FRAME + 0x34000);
    expect(big).toMatchObject({ mapped: true, address: FRAME, log2Size: 22, frame: FRAME, rights: 7, parent: { space: ROOT_SPACE, address: FRAME, log2Size: 22 }, present: true, large: true, writable: true, physical: FRAME + 0x34000 });
    expect(lookIn(b, s0.id, s0.pageDirectory, 0xa00000)).toMatchObject({ mapped: true, address: 0xa00000, log2Size: 12, present: true, large: false, physical: 0xa00000 });
    expect(kernel.mdb.nodesOf(s0.id).map((n) => [n.address, n.log2Size])).toEqual([
      [FRAME, 22],
      [0xa00000, 12],
    ]);
    // A's page is a 4 KiB child of sigma0's 4 MiB node with its part of the frame.
    expect(look(b, ROOT_ID, P)).toMatchObject({ mapped: true, address: P, log2Size: 12, frame: FRAME + 0x34000, parent: { space: s0.id, address: FRAME, log2Size: 22 }, present: true, large: false, physical: FRAME + 0x34000 });
    const s0Node = kernel.mdb.lookup(s0.id, FRAME)!;
    expect(kernel.mdb.childrenCovering(s0Node, FRAME + 0x34000)).toEqual([kernel.mdb.lookup(spaceOf(b, ROOT_ID), P)]);
    expect(kernel.mdb.childrenCovering(s0Node, FRAME + 0x35000)).toEqual([]);
    expect(kernel.counters.largeMappings).toBe(1);
  });

  it('a 4 MiB fpage from sigma0 is one 4 MiB mapping: one node, one PDE with PS, one large TLB entry', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    let largeTlbEntries: Array<{ linear: number; physical: number; large: boolean; user: boolean }> = [];
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        seen.sent = yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x123454, 0xabcd);
        yield* env.write32(P + 0x3ffffc, 0x1234);
        seen.read = yield* env.read32(P + 0x123454);
        largeTlbEntries = b.machine.cpu.tlbEntries().filter((e) => e.large && e.user);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const kernel = b.kernel;
    const s0 = kernel.sigma0Space!;
    expect(seen.sent).toBe(fpage(FRAME, 22, Rights.Full));
    expect(seen.read).toBe(0xabcd);
    expect(b.machine.physical.read32(FRAME + 0x123454)).toBe(0xabcd);
    expect(b.machine.physical.read32(FRAME + 0x3ffffc)).toBe(0x1234);
    expect(look(b, ROOT_ID, P + 0x200000)).toMatchObject({ mapped: true, address: P, log2Size: 22, frame: FRAME, rights: 7, parent: { space: s0.id, address: FRAME, log2Size: 22 }, present: true, large: true, writable: true, physical: FRAME + 0x200000 });
    expect(kernel.mdb.subtree(kernel.mdb.lookup(ROOT_SPACE, FRAME)!).length).toBe(3);
    expect(largeTlbEntries.map((e) => [e.linear, e.physical])).toEqual([[P, FRAME]]);
    expect(kernel.counters.pagesMapped).toBe(1);
    expect(kernel.counters.largeMappings).toBe(2);
    expect(largeEntries(b, ROOT_ID)).toBe(1);
  });

  it('a 4 MiB fpage into a smaller window goes in 4 KiB pages, children of sigma0\'s 4 MiB node', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        // A 1 MiB window: the 4 MiB page's first 1 MiB (sigma0's send base is the page's base).
        seen.sent = yield* rig.page(P, fpage(FRAME, 22), 20);
        seen.last = yield* env.read32(P + 0xffffc);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const kernel = b.kernel;
    const a = spaceOf(b, ROOT_ID);
    const nodes = kernel.mdb.nodesOf(a);
    expect(nodes.length).toBe(256);
    expect(nodes.every((n, i) => n.log2Size === 12 && n.address === P + i * 0x1000 && n.frame === FRAME + i * 0x1000 && n.parent!.log2Size === 22)).toBe(true);
    expect(look(b, ROOT_ID, P + 0xff000)).toMatchObject({ large: false, present: true, physical: FRAME + 0xff000 });
    expect(look(b, ROOT_ID, P + 0x100000)).toMatchObject({ mapped: false, present: false });
    expect(largeEntries(b, ROOT_ID)).toBe(0);
    expect(kernel.counters.largeMappings).toBe(1); // sigma0's own only
  });

  it('map passes a 4 MiB mapping on as a 4 MiB mapping; a 4 KiB fpage from inside it is a 4 KiB child with its part of the frame', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    let dBefore: LargeView | undefined;
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x5000, 0x5555);
        yield* env.write32(P + 0x3ff000, 0x3ff3ff);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.mapTo(C, P + 0x5000, Y, Rights.ReadExecute); // one 4 KiB part, read-only
        yield* rig.workerMap(B, D, X, Z, Rights.ReadExecute, false, 22); // B passes it on, narrowed
        seen.b = yield* rig.read(B, X + 0x3ff000);
        seen.c = yield* rig.read(C, Y);
        seen.d = yield* rig.read(D, Z + 0x5000);
        yield* rig.write(B, X + 0x6000, 0x6666);
        seen.aSeesB = yield* env.read32(P + 0x6000);
        dBefore = look(b, D, Z + 0x5000);
        yield* rig.write(D, Z + 0x6000, 0x7777); // read-only: faults, the pager maps a scratch page
        seen.dAfter = yield* rig.read(D, Z + 0x6000); // the write went to the scratch page
        seen.aAfterD = yield* env.read32(P + 0x6000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const kernel = b.kernel;
    const a = spaceOf(b, ROOT_ID);
    expect(seen).toEqual({ b: 0x3ff3ff, c: 0x5555, d: 0x5555, aSeesB: 0x6666, dAfter: 0x7777, aAfterD: 0x6666 });
    expect(look(b, B, X + 0x10000)).toMatchObject({ address: X, log2Size: 22, frame: FRAME, rights: 7, parent: { space: a, address: P, log2Size: 22 }, large: true, writable: true });
    expect(look(b, C, Y)).toMatchObject({ address: Y, log2Size: 12, frame: FRAME + 0x5000, rights: Rights.ReadExecute, parent: { space: a, address: P, log2Size: 22 }, large: false, writable: false, physical: FRAME + 0x5000 });
    expect(dBefore).toMatchObject({ address: Z, log2Size: 22, frame: FRAME, rights: Rights.ReadExecute, parent: { space: spaceOf(b, B), address: X, log2Size: 22 }, large: true, writable: false });
    // D's write fault put a 4 KiB scratch page over a part of its 4 MiB mapping: that mapping was
    // split into 4 KiB pieces (children of B's 4 MiB node) and lost only that part.
    expect(look(b, D, Z + 0x6000)).toMatchObject({ address: Z + 0x6000, log2Size: 12, large: false, writable: true, parent: { space: spaceOf(b, ROOT_ID) } });
    expect(look(b, D, Z + 0x5000)).toMatchObject({ address: Z + 0x5000, log2Size: 12, frame: FRAME + 0x5000, rights: Rights.ReadExecute, parent: { space: spaceOf(b, B), address: X, log2Size: 22 }, large: false, writable: false });
    expect(b.kernel.mdb.nodesOf(spaceOf(b, D)).length).toBe(1024);
    expect(rig!.faults).toEqual([{ thread: D, rwx: 2, address: Z + 0x6000 }]);
    const aNode = kernel.mdb.lookup(a, P)!;
    expect(kernel.mdb.childrenCovering(aNode, FRAME + 0x5000).map((n) => n.space)).toEqual([spaceOf(b, C), spaceOf(b, B)]);
    expect(kernel.mdb.largeChildren(aNode).map((n) => n.space)).toEqual([spaceOf(b, B)]);
    expect(kernel.counters.largeMappings).toBe(4); // sigma0's, A's, B's and D's
    expect(kernel.counters.largeSplits).toBe(1);
  });

  it('a 4 KiB map over a part of a 4 MiB mapping replaces that part only; a 4 MiB map replaces the 4 KiB mappings of the region', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, LargeView> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x8000, 0x8888);
        const other = yield* rig.page(Q);
        seen.other = (other & ~0xfff) >>> 0;
        yield* env.write32(Q, 0x9999);
        yield* rig.spawn(B);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        seen.before = yield* rig.read(B, X + 0x7000);
        yield* rig.mapTo(B, Q, X + 0x7000, Rights.Full); // over part 7 of B's 4 MiB mapping
        views.part = look(b, B, X + 0x7000);
        views.rest = look(b, B, X + 0x8000);
        seen.nodes = b.kernel.mdb.nodesOf(spaceOf(b, B)).length;
        seen.part = yield* rig.read(B, X + 0x7000);
        seen.rest = yield* rig.read(B, X + 0x8000);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22); // the 4 MiB page again, over all 1,024
        views.again = look(b, B, X + 0x7000);
        seen.nodesAgain = b.kernel.mdb.nodesOf(spaceOf(b, B)).length;
        seen.again = yield* rig.read(B, X + 0x8000);
        seen.qChildren = b.kernel.mdb.children(b.kernel.mdb.lookup(spaceOf(b, ROOT_ID), Q)!).length;
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const a = spaceOf(b, ROOT_ID);
    expect(seen).toMatchObject({ before: 0, part: 0x9999, rest: 0x8888, nodes: 1024, nodesAgain: 1, again: 0x8888, qChildren: 0 });
    expect(views.part).toMatchObject({ address: X + 0x7000, log2Size: 12, frame: seen.other, parent: { space: a, address: Q, log2Size: 12 }, large: false });
    expect(views.rest).toMatchObject({ address: X + 0x8000, log2Size: 12, frame: FRAME + 0x8000, parent: { space: a, address: P, log2Size: 22 }, large: false, physical: FRAME + 0x8000 });
    expect(views.again).toMatchObject({ address: X, log2Size: 22, frame: FRAME, large: true });
    expect(rig!.faults).toEqual([]);
    expect(b.kernel.counters.largeSplits).toBe(1);
  });

  it('a 4 KiB page mapped back over another part of the 4 MiB mapping it was derived from replaces that part, which is not its source', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, LargeView> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x5000, 0x5555);
        yield* env.write32(P + 0x9000, 0x9999);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.workerMap(B, C, X, X, Rights.Full, false, 22); // C's 4 MiB mapping below B's
        // C sends its part 5 to B's part 9: B's part 9 (with C's part 9 below it) goes, and part 5
        // comes in its place, below C's part 5. Seen whole, B's mapping is an ancestor of C's,
        // but B's part 9 is not the page C sends.
        yield* rig.workerMap(C, B, X + 0x5000, X + 0x9000, Rights.Full);
        views.b9 = look(b, B, X + 0x9000);
        views.c9 = look(b, C, X + 0x9000);
        views.c5 = look(b, C, X + 0x5000);
        seen.b9 = yield* rig.read(B, X + 0x9000);
        seen.faultsBefore = rig.faults.length;
        seen.c9 = yield* rig.read(C, X + 0x9000); // gone with B's part 9: a fault
        // And a grant from C's part 6 to B's part 10: C loses its part 6.
        yield* rig.workerMap(C, B, X + 0x6000, X + 0xa000, Rights.Full, true);
        views.b10 = look(b, B, X + 0xa000);
        views.c6 = look(b, C, X + 0x6000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const c = spaceOf(b, C);
    expect(seen).toEqual({ b9: 0x5555, faultsBefore: 0, c9: FAULT_MARKER });
    expect(views.b9).toMatchObject({ mapped: true, address: X + 0x9000, log2Size: 12, frame: FRAME + 0x5000, parent: { space: c, address: X + 0x5000, log2Size: 12 }, physical: FRAME + 0x5000 });
    expect(views.c5).toMatchObject({ mapped: true, log2Size: 12, frame: FRAME + 0x5000 });
    expect(views.b10).toMatchObject({ mapped: true, log2Size: 12, frame: FRAME + 0x6000, physical: FRAME + 0x6000 });
    expect(views.c6).toMatchObject({ mapped: false, present: false });
    expect(rig!.faults).toEqual([{ thread: C, rwx: 4, address: X + 0x9000 }]);
    expect(b.kernel.counters.largeSplits).toBe(2);
  });

  it('grant moves a 4 MiB mapping whole; a grant of a 4 KiB part splits the sender\'s mapping, which keeps the rest', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, LargeView> = {};
    let granted: MappingNode | undefined;
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x2000, 0x2222);
        yield* env.write32(P + 0x3000, 0x3333);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        granted = b.kernel.mdb.lookup(spaceOf(b, B), X);
        yield* rig.workerMap(B, D, X, Z, Rights.Full, true, 22); // B grants all of it to D
        views.b = look(b, B, X);
        views.d = look(b, D, Z + 0x2000);
        yield* rig.workerMap(D, C, Z + 0x2000, Y, Rights.Full, true); // D grants part 2 to C
        views.dPart = look(b, D, Z + 0x2000);
        views.dRest = look(b, D, Z + 0x3000);
        views.c = look(b, C, Y);
        seen.c = yield* rig.read(C, Y);
        seen.dRest = yield* rig.read(D, Z + 0x3000);
        seen.faultsBefore = rig.faults.length;
        seen.dPart = yield* rig.read(D, Z + 0x2000); // no longer D's: faults
        seen.dNodes = b.kernel.mdb.nodesOf(spaceOf(b, D)).length;
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const a = spaceOf(b, ROOT_ID);
    expect(views.b).toMatchObject({ mapped: false, present: false });
    expect(views.d).toMatchObject({ address: Z, log2Size: 22, frame: FRAME, parent: { space: a, address: P, log2Size: 22 }, large: true });
    // The granted node is B's own, moved to D (and split there afterwards).
    expect([granted?.space, granted?.live]).toEqual([spaceOf(b, D), false]);
    expect(views.dPart).toMatchObject({ mapped: false, present: false });
    expect(views.dRest).toMatchObject({ address: Z + 0x3000, log2Size: 12, frame: FRAME + 0x3000, parent: { space: a, address: P, log2Size: 22 }, large: false });
    expect(views.c).toMatchObject({ address: Y, log2Size: 12, frame: FRAME + 0x2000, parent: { space: a, address: P, log2Size: 22 }, large: false, physical: FRAME + 0x2000 });
    expect(seen).toEqual({ c: 0x2222, dRest: 0x3333, faultsBefore: 0, dPart: FAULT_MARKER, dNodes: 1024 });
    expect(b.kernel.counters.pagesGranted).toBe(2);
    expect(b.kernel.counters.largeSplits).toBe(1);
  });

  it('the i486 (no PSE) keeps everything in 4 KiB pages: sigma0, a 4 MiB fpage, its map onward', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        seen.sent = yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x3ff000, 0x486);
        yield* rig.spawn(B);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        seen.b = yield* rig.read(B, X + 0x3ff000);
      },
      { sigma0, profile: 'i486' },
    );
    finish(b, () => rig);
    const kernel = b.kernel;
    const s0 = kernel.sigma0Space!;
    expect(seen).toEqual({ sent: fpage(FRAME, 22, Rights.Full), b: 0x486 });
    expect(kernel.mdb.nodesOf(s0.id).length).toBe(1024);
    expect(kernel.mdb.nodesOf(spaceOf(b, ROOT_ID)).length).toBe(1024);
    expect(kernel.mdb.nodesOf(spaceOf(b, B)).length).toBe(1024);
    expect(look(b, B, X + 0x3ff000)).toMatchObject({ log2Size: 12, frame: FRAME + 0x3ff000, large: false, physical: FRAME + 0x3ff000 });
    for (const space of kernel.spaces) expect(kernel.pageTables.userEntries(space.pageDirectory).filter(([, e]) => e & PG_PS)).toEqual([]);
    expect(kernel.counters.largeMappings).toBe(0);
    expect(kernel.counters.pagesMapped).toBe(2048);
  });
});

describe('4 MiB mappings: Unmap', () => {
  it('Unmap of one 4 KiB part without flush revokes exactly the mappings derived from that part, with their status', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const statuses: Record<string, number[]> = {};
    const views: Record<string, LargeView> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x7000, 0x7777); // A's own write elsewhere in its 4 MiB page
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P + 0x5000, X, Rights.Full); // part 5
        yield* rig.mapTo(B, P + 0x6000, X + 0x1000, Rights.Full); // part 6
        yield* rig.mapTo(C, P + 0x5000, Y, Rights.Full); // part 5 again
        yield* rig.workerMap(B, D, X, Z, Rights.Full); // part 5, one level further
        for (let part = 8; part < 24; part++) yield* rig.mapTo(C, P + part * 0x1000, Y + part * 0x1000, Rights.Full);
        yield* rig.write(C, Y, 0x5555); // part 5 written
        seen.d = yield* rig.read(D, Z); // and read further down
        seen.b6 = yield* rig.read(B, X + 0x1000); // part 6 read
        const aNode = b.kernel.mdb.lookup(spaceOf(b, ROOT_ID), P)!;
        seen.childrenBefore = b.kernel.mdb.children(aNode).length;
        const removedBefore = b.kernel.counters.nodesUnmapped;
        statuses.part5 = yield* unmapFpages(env, [fpage(P + 0x5000, 12, Rights.Full)], false);
        seen.removed = b.kernel.counters.nodesUnmapped - removedBefore;
        seen.childrenAfter = b.kernel.mdb.children(aNode).length;
        views.a = look(b, ROOT_ID, P + 0x5000);
        views.b5 = look(b, B, X);
        views.b6 = look(b, B, X + 0x1000);
        views.c5 = look(b, C, Y);
        views.c8 = look(b, C, Y + 0x8000);
        views.d = look(b, D, Z);
        seen.aDirty = (b.kernel.pageTables.entry(b.kernel.threadById(ROOT_ID)!.space.pageDirectory, P) >>> 6) & 1;
        // Rights 0: only the status of part 6, which B read; A's own write (part 7) is not in it.
        statuses.part6 = yield* unmapFpages(env, [fpage(P + 0x6000, 12, Rights.None)], false);
        statuses.part6again = yield* unmapFpages(env, [fpage(P + 0x6000, 12, Rights.None)], false);
        statuses.part7 = yield* unmapFpages(env, [fpage(P + 0x7000, 12, Rights.None)], false);
        // W only: part 6 stays readable for B, a write faults.
        yield* unmapFpages(env, [fpage(P + 0x6000, 12, Rights.Write)], false);
        views.b6ro = look(b, B, X + 0x1000);
        seen.b6read = yield* rig.read(B, X + 0x1000);
        seen.faultsBeforeWrite = rig.faults.length;
        yield* rig.write(B, X + 0x1000, 1);
        // A 64 KiB fpage: parts 16-31, of which C has 16-23.
        statuses.parts16 = yield* unmapFpages(env, [fpage(P + 0x10000, 16, Rights.Full)], false);
        seen.cNodes = b.kernel.mdb.nodesOf(spaceOf(b, C)).length;
        seen.c5 = yield* rig.read(C, Y);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const a = spaceOf(b, ROOT_ID);
    expect(seen).toEqual({ d: 0x5555, b6: 0, childrenBefore: 19, removed: 3, childrenAfter: 17, aDirty: 1, b6read: 0, faultsBeforeWrite: 0, cNodes: 8, c5: FAULT_MARKER });
    // The three mappings of part 5 (B's, C's, and D's below B's), written by C: referenced and dirty.
    expect(statuses.part5).toEqual([(fpage(P + 0x5000, 12) | 7) >>> 0]);
    expect(views.a).toMatchObject({ mapped: true, address: P, log2Size: 22, large: true, present: true, writable: true });
    expect(views.b5).toMatchObject({ mapped: false, present: false });
    expect(views.c5).toMatchObject({ mapped: false, present: false });
    expect(views.d).toMatchObject({ mapped: false, present: false });
    expect(views.b6).toMatchObject({ mapped: true, frame: FRAME + 0x6000, parent: { space: a, address: P, log2Size: 22 }, present: true });
    expect(views.c8).toMatchObject({ mapped: true, frame: FRAME + 0x8000, present: true });
    expect(statuses.part6).toEqual([(fpage(P + 0x6000, 12) | 5) >>> 0]);
    expect(statuses.part6again).toEqual([fpage(P + 0x6000, 12)]);
    expect(statuses.part7).toEqual([fpage(P + 0x7000, 12)]);
    expect(views.b6ro).toMatchObject({ mapped: true, rights: Rights.ReadExecute, writable: false, present: true });
    expect(statuses.parts16).toEqual([fpage(P + 0x10000, 16)]);
    expect(rig!.faults).toEqual([
      { thread: B, rwx: 2, address: X + 0x1000 },
      { thread: C, rwx: 4, address: Y },
    ]);
    expect(b.kernel.counters.largeSplits).toBe(0);
  });

  it('a 4 MiB mapping derived from the part is split and loses only that part; its pieces keep its status', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const statuses: Record<string, number[]> = {};
    const views: Record<string, LargeView> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x9000, 0x9999);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.workerMap(B, C, X + 0x3000, Y, Rights.Full); // a 4 KiB part of B's 4 MiB mapping
        yield* rig.workerMap(B, D, X, Z, Rights.Full, false, 22); // and all of it, further down
        seen.b5 = yield* rig.read(B, X + 0x5000);
        seen.d9 = yield* rig.read(D, Z + 0x9000);
        statuses.part5 = yield* unmapFpages(env, [fpage(P + 0x5000, 12, Rights.Full)], false);
        views.b5 = look(b, B, X + 0x5000);
        views.b9 = look(b, B, X + 0x9000);
        views.c = look(b, C, Y);
        views.d5 = look(b, D, Z + 0x5000);
        views.d9 = look(b, D, Z + 0x9000);
        seen.bNodes = b.kernel.mdb.nodesOf(spaceOf(b, B)).length;
        seen.dNodes = b.kernel.mdb.nodesOf(spaceOf(b, D)).length;
        seen.faultsBefore = rig.faults.length;
        seen.b9 = yield* rig.read(B, X + 0x9000);
        seen.d9again = yield* rig.read(D, Z + 0x9000);
        seen.c = yield* rig.read(C, Y);
        seen.faultsBetween = rig.faults.length;
        seen.b5again = yield* rig.read(B, X + 0x5000);
        seen.d5again = yield* rig.read(D, Z + 0x5000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const a = spaceOf(b, ROOT_ID);
    // The pieces of B's and D's 4 MiB pages took their A bits: both were read, neither written.
    expect(statuses.part5).toEqual([(fpage(P + 0x5000, 12) | 5) >>> 0]);
    expect(seen).toEqual({ b5: 0, d9: 0x9999, bNodes: 1023, dNodes: 1023, faultsBefore: 0, b9: 0x9999, d9again: 0x9999, c: 0, faultsBetween: 0, b5again: FAULT_MARKER, d5again: FAULT_MARKER });
    expect(views.b5).toMatchObject({ mapped: false, present: false });
    expect(views.d5).toMatchObject({ mapped: false, present: false });
    expect(views.b9).toMatchObject({ address: X + 0x9000, log2Size: 12, frame: FRAME + 0x9000, parent: { space: a, address: P, log2Size: 22 }, large: false, present: true });
    expect(views.d9).toMatchObject({ address: Z + 0x9000, log2Size: 12, frame: FRAME + 0x9000, parent: { space: spaceOf(b, B), address: X + 0x9000, log2Size: 12 }, large: false, present: true });
    // C's 4 KiB mapping moved under B's piece of part 3.
    expect(views.c).toMatchObject({ mapped: true, frame: FRAME + 0x3000, parent: { space: spaceOf(b, B), address: X + 0x3000, log2Size: 12 }, present: true });
    expect(rig!.faults).toEqual([
      { thread: B, rwx: 4, address: X + 0x5000 },
      { thread: D, rwx: 4, address: Z + 0x5000 },
    ]);
    expect(b.kernel.counters.largeSplits).toBe(2);
    expect(largeEntries(b, B)).toBe(0);
    expect(largeEntries(b, ROOT_ID)).toBe(1);
  });

  it('Unmap with flush of a part of one\'s own 4 MiB mapping revokes the whole 4 MiB mapping (as L4Ka::Pistachio)', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, LargeView> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* env.write32(P + 0x100000, 0x100);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.workerMap(B, C, X + 0x200000, Y, Rights.Full);
        seen.c = yield* rig.read(C, Y);
        // B flushes one 4 KiB page, read-only: its whole 4 MiB mapping and C's lose W.
        seen.wStatus = yield* rig.workerUnmap(B, fpage(X + 0x2000, 12, Rights.Write), true);
        views.bRo = look(b, B, X + 0x300000);
        views.cRo = look(b, C, Y);
        // Then all rights: the whole 4 MiB mapping goes, and C's below it.
        seen.status = yield* rig.workerUnmap(B, fpage(X + 0x2000, 12, Rights.Full), true);
        views.b = look(b, B, X + 0x300000);
        views.c = look(b, C, Y);
        views.a = look(b, ROOT_ID, P);
        seen.b = yield* rig.read(B, X + 0x100000);
        seen.a = yield* env.read32(P + 0x100000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    // B never touched its 4 MiB page; C read its part: referenced.
    expect(seen.wStatus).toBe((fpage(X + 0x2000, 12) | 5) >>> 0);
    expect(views.bRo).toMatchObject({ address: X, log2Size: 22, rights: Rights.ReadExecute, large: true, writable: false });
    expect(views.cRo).toMatchObject({ rights: Rights.ReadExecute, writable: false });
    expect(seen.status).toBe(fpage(X + 0x2000, 12));
    expect(views.b).toMatchObject({ mapped: false, present: false });
    expect(views.c).toMatchObject({ mapped: false, present: false });
    expect(views.a).toMatchObject({ address: P, log2Size: 22, large: true, present: true });
    expect(seen).toMatchObject({ c: 0, b: FAULT_MARKER, a: 0x100 });
    expect(rig!.faults).toEqual([{ thread: B, rwx: 4, address: X + 0x100000 }]);
    expect(b.kernel.counters.largeSplits).toBe(0);
  });

  it('Unmap of a whole 4 MiB fpage reads and resets the 4 MiB PDE\'s status, the caller\'s own included', () => {
    let rig: Rig | undefined;
    const statuses: Record<string, number[]> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* largePage(rig, Q, FRAME2);
        statuses.untouched = yield* unmapFpages(env, [fpage(P, 22), fpage(Q, 22)], false);
        yield* env.read32(P + 0x10);
        yield* env.write32(Q + 0x3ffff0, 1);
        statuses.first = yield* unmapFpages(env, [fpage(P, 22), fpage(Q, 22)], false);
        statuses.second = yield* unmapFpages(env, [fpage(P, 22), fpage(Q, 22)], false);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(statuses.untouched).toEqual([fpage(P, 22), fpage(Q, 22)]);
    expect(statuses.first).toEqual([(fpage(P, 22) | 5) >>> 0, (fpage(Q, 22) | 7) >>> 0]);
    expect(statuses.second).toEqual([fpage(P, 22), fpage(Q, 22)]);
  });

  it('a string copied into a 4 MiB page through the copy area sets that page\'s A and D bits', () => {
    let rig: Rig | undefined;
    const statuses: Record<string, number[]> = {};
    const seen: Record<string, number> = {};
    // B waits for its page and for A's call, then sends 16 bytes of the page as a string to A,
    // which is waiting: the copy is made in B's context, A's buffer reached through the copy area.
    function* sender(env: ProgramEnv): Op<void> {
      yield* setAcceptor(env, acceptor(completeFpage()));
      yield* wait(env);
      yield* wait(env);
      yield* loadMRs(env, [msgTag(0, 0, 2), ...stringItem(16, X)]);
      yield* send(env, ROOT_ID);
    }
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* rig.page(Q);
        yield* env.write32(Q, 0x57a1);
        yield* rig.spawn(B, sender);
        yield* rig.mapTo(B, Q, X, Rights.Full);
        // A never touches its 4 MiB page: only the copy into it (made in B's context, through
        // the copy area) can set its A and D bits.
        statuses.before = yield* unmapFpages(env, [fpage(P, 22)], false);
        yield* loadBufferStrings(env, [[{ length: 16, addresses: [P + 0x2000] }]]);
        yield* setAcceptor(env, acceptor(0, true));
        yield* loadMRs(env, [msgTag(0, 0, 0)]);
        const r = yield* call(env, B);
        seen.strings = b.kernel.counters.stringItems;
        seen.error = r.tag.error ? r.errorCode : 0;
        statuses.after = yield* unmapFpages(env, [fpage(P, 22)], false);
        seen.copied = yield* env.read32(P + 0x2000);
        seen.deleted = (yield* threadControl(env, B, 0, 0, 0, 0)).ok ? 1 : 0;
      },
      { sigma0 },
    );
    const result = b.run(RUN_LIMIT);
    expect(result.reason).toBe('idle');
    expect(rig!.errors).toEqual([]);
    expect(seen).toEqual({ error: 0, strings: 1, copied: 0x57a1, deleted: 1 });
    expect(statuses.before).toEqual([fpage(P, 22)]);
    expect(statuses.after).toEqual([(fpage(P, 22) | 7) >>> 0]);
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });

  it('a page table whose last entry goes is freed: 4 KiB mappings unmapped, a split 4 MiB mapping unmapped piece by piece', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* rig.page(Q);
        yield* rig.spawn(B);
        const directory = b.kernel.threadById(B)!.space.pageDirectory;
        const present = (address: number): number => b.kernel.pageTables.directoryEntry(directory, address) & 1;
        // Two 4 KiB pages in one table of B's.
        yield* rig.mapTo(B, P + 0x1000, Y, Rights.Full);
        yield* rig.mapTo(B, P + 0x2000, Y + 0x1000, Rights.Full);
        seen.tableY = present(Y);
        yield* unmapFpages(env, [fpage(P + 0x1000, 12, Rights.Full)], false);
        seen.tableYOne = present(Y);
        const used = b.kernel.kmem.used;
        yield* unmapFpages(env, [fpage(P + 0x2000, 12, Rights.Full)], false);
        seen.tableYNone = present(Y);
        seen.freed = used - b.kernel.kmem.used;
        // A 4 MiB mapping split by a 4 KiB map over part 7: a table of 1,024 entries.
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.mapTo(B, Q, X + 0x7000, Rights.Full);
        seen.split = b.kernel.pageTables.isLargePage(directory, X) ? 0 : present(X);
        // A's whole 4 MiB fpage, without flush: the 1,023 pieces from it go; part 7 (from Q) keeps the table.
        yield* unmapFpages(env, [fpage(P, 22, Rights.Full)], false);
        seen.afterPieces = present(X);
        seen.nodes = b.kernel.mdb.nodesOf(spaceOf(b, B)).length;
        yield* unmapFpages(env, [fpage(Q, 12, Rights.Full)], false);
        seen.afterLast = present(X);
        seen.nodesLast = b.kernel.mdb.nodesOf(spaceOf(b, B)).length;
        seen.read = yield* rig.read(B, X + 0x7000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(seen).toEqual({ tableY: 1, tableYOne: 1, tableYNone: 0, freed: 1, split: 1, afterPieces: 1, nodes: 1, afterLast: 0, nodesLast: 0, read: FAULT_MARKER });
  });

  it('deleting a space with 4 MiB mappings takes back what was derived from them and gives its page tables back', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* largePage(rig, P, FRAME);
        yield* largePage(rig, Q, FRAME2);
        yield* rig.spawn(C);
        seen.kernelFrames = b.kernel.kmem.used;
        yield* rig.spawn(B);
        yield* rig.mapTo(B, P, X, Rights.Full, false, 22);
        yield* rig.mapTo(B, Q + 0x5000, Y, Rights.Full);
        yield* rig.workerMap(B, C, X, Z, Rights.Full, false, 22);
        yield* rig.workerMap(B, C, Y, Y, Rights.Full);
        seen.cBefore = b.kernel.mdb.nodesOf(spaceOf(b, C)).length;
        seen.deleted = (yield* threadControl(env, B, 0, 0, 0, 0)).ok ? 1 : 0;
        seen.cAfter = b.kernel.mdb.nodesOf(spaceOf(b, C)).length;
        seen.kernelFramesAfter = b.kernel.kmem.used;
        seen.cRead = yield* rig.read(C, Z);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    // B's directory, its page table, its TCB and UTCB frame and the node frames came back, and
    // so did the page table C's 4 KiB mapping at Y needed: its last entry went with B's subtree.
    expect(seen).toEqual({ kernelFrames: seen.kernelFrames, cBefore: 2, deleted: 1, cAfter: 0, kernelFramesAfter: seen.kernelFrames, cRead: FAULT_MARKER });
    expect(largeEntries(b, C)).toBe(0);
  });
});
