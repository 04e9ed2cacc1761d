// Kernel acceptance tests for Map, Grant and Unmap (after l4test's memory tests and the X.2 rules
// of reference/l4-x2.md, "Mapping database"), with the cast of mapping-rig.ts: the root task A
// maps pages from sigma0 to workers B, C, D, which map them onward on A's command. 4 MiB mappings
// are mapping-large.test.ts's.

import { describe, expect, it } from 'vitest';
import { Label, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { Rights, acceptor, fpage, mapItem, msgTag } from '../../libl4/message.ts';
import { call, loadMessage, loadMRs, reply, setAcceptor, threadControl, unmapFpages, wait } from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { ANY_PAGE, B, C, D, FAULT_MARKER, RUN_LIMIT, Rig, finish, spaceOf, view, type View } from './mapping-rig.ts';
import { ROOT_ID, SIGMA0_ID, boot, type Booted } from './support.ts';

const P = 0x40000000;
const P2 = 0x40001000;
const X = 0x50000000;
const X2 = 0x50001000;
const Y = 0x60000000;
const Y2 = 0x60001000;
const Z = 0x70000000;

describe('Map and Unmap', () => {
  it('unmap revokes recursively through three levels; the caller keeps its own page unless it flushes', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        const sent = yield* rig.page(P);
        seen.frame = (sent & ~0xfff) >>> 0;
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        seen.cBefore = yield* rig.read(C, Y);
        seen.bBefore = yield* rig.read(B, X);
        views.a1 = view(b, ROOT_ID, P);
        views.b1 = view(b, B, X);
        views.c1 = view(b, C, Y);
        seen.faultsBefore = rig.faults.length;

        // Unmap without flush: everything derived from A's page goes, A's own stays.
        const [status] = yield* unmapFpages(env, [fpage(P, 12, Rights.Full)], false);
        seen.status = status!;
        views.a2 = view(b, ROOT_ID, P);
        views.b2 = view(b, B, X);
        views.c2 = view(b, C, Y);
        seen.aAfter = yield* env.read32(P);
        seen.cAfter = yield* rig.read(C, Y);
        seen.bAfter = yield* rig.read(B, X);

        // With flush the caller's own mapping goes too.
        yield* unmapFpages(env, [fpage(P, 12, Rights.Full)], true);
        views.a3 = view(b, ROOT_ID, P);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const aSpace = spaceOf(b, ROOT_ID);
    expect(seen.cBefore).toBe(0x1111);
    expect(seen.bBefore).toBe(0x1111);
    expect(seen.faultsBefore).toBe(0);
    // Before: A -> B -> C, one frame, three PTEs.
    expect(views.a1).toMatchObject({ mapped: true, frame: seen.frame, present: true, pteFrame: seen.frame });
    expect(views.b1).toMatchObject({ mapped: true, frame: seen.frame, rights: 7, present: true, writable: true, pteFrame: seen.frame, parent: { space: aSpace, address: P } });
    expect(views.c1).toMatchObject({ mapped: true, frame: seen.frame, rights: 7, present: true, pteFrame: seen.frame, parent: { address: X } });
    // After the unmap: B and C have neither node nor PTE; A is untouched.
    expect(views.b2).toMatchObject({ mapped: false, present: false });
    expect(views.c2).toMatchObject({ mapped: false, present: false });
    expect(views.a2).toMatchObject({ mapped: true, rights: 7, present: true, writable: true, pteFrame: seen.frame });
    expect(seen.aAfter).toBe(0x1111);
    // The status reports the accesses made (A wrote, B and C read): referenced and dirty.
    expect(seen.status).toBe((fpage(P, 12) | 7) >>> 0);
    // Their next accesses fault to the pager, which maps a fresh page.
    expect(rig!.faults).toEqual([
      { thread: C, rwx: 4, address: Y },
      { thread: B, rwx: 4, address: X },
    ]);
    expect(seen.cAfter).toBe(FAULT_MARKER);
    expect(seen.bAfter).toBe(FAULT_MARKER);
    // Flush: A's own mapping is gone as well.
    expect(views.a3).toMatchObject({ mapped: false, present: false });
  });

  it('an Unmap in the middle of the chain takes back only what that space mapped onward', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* rig.page(P);
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        yield* rig.workerMap(C, D, Y, Z, Rights.Full);
        seen.dBefore = yield* rig.read(D, Z);
        // B unmaps without flush: C and D lose the page, B and A keep it.
        seen.status = yield* rig.workerUnmap(B, fpage(X, 12, Rights.Full), false);
        views.a = view(b, ROOT_ID, P);
        views.b = view(b, B, X);
        views.c = view(b, C, Y);
        views.d = view(b, D, Z);
        seen.bRead = yield* rig.read(B, X);
        // With flush B's own goes too; A's stays.
        yield* rig.workerUnmap(B, fpage(X, 12, Rights.Full), true);
        views.a2 = view(b, ROOT_ID, P);
        views.b2 = view(b, B, X);
        seen.aRead = yield* env.read32(P);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(seen.dBefore).toBe(0x1111);
    // D read the page through C's mapping: the subtree below B was referenced.
    expect(seen.status! & 7).toBe(5);
    expect(views.a).toMatchObject({ mapped: true, present: true });
    expect(views.b).toMatchObject({ mapped: true, rights: 7, present: true });
    expect(views.c).toMatchObject({ mapped: false, present: false });
    expect(views.d).toMatchObject({ mapped: false, present: false });
    expect(seen.bRead).toBe(0x1111);
    expect(views.b2).toMatchObject({ mapped: false, present: false });
    expect(views.a2).toMatchObject({ mapped: true, rights: 7, present: true });
    expect(seen.aRead).toBe(0x1111);
    expect(rig!.faults).toEqual([]);
  });

  it('a mapping gets the AND of the rights sent and the sender\'s own', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* rig.page(P);
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.ReadExecute); // B may read only
        yield* rig.workerMap(B, C, X, Y, Rights.Full); // asks for rwx, gets r-x
        views.b = view(b, B, X);
        views.c = view(b, C, Y);
        seen.cRead = yield* rig.read(C, Y);
        yield* rig.write(C, Y, 0x2222);
        seen.aRead = yield* env.read32(P);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(views.b).toMatchObject({ mapped: true, rights: Rights.ReadExecute, present: true, writable: false });
    expect(views.c).toMatchObject({ mapped: true, rights: Rights.ReadExecute, present: true, writable: false });
    expect(seen.cRead).toBe(0x1111);
    expect(rig!.faults).toEqual([{ thread: C, rwx: 2, address: Y }]);
    expect(seen.aRead).toBe(0x1111);
  });

  it('deleting a space takes back every mapping derived from its pages', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* rig.page(P);
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        seen.cBefore = yield* rig.read(C, Y);
        const rootNode = b.kernel.mdb.lookup(spaceOf(b, ROOT_ID), P)!;
        seen.before = b.kernel.mdb.subtree(rootNode).length;
        seen.deleted = (yield* threadControl(env, B, 0, 0, 0, 0)).ok ? 1 : 0;
        seen.after = b.kernel.mdb.subtree(rootNode).length;
        views.c = view(b, C, Y);
        views.a = view(b, ROOT_ID, P);
        seen.cAfter = yield* rig.read(C, Y);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(seen.cBefore).toBe(0x1111);
    expect(seen.before).toBe(3);
    expect(seen.deleted).toBe(1);
    expect(seen.after).toBe(1);
    expect(views.c).toMatchObject({ mapped: false, present: false });
    expect(views.a).toMatchObject({ mapped: true, present: true });
    expect(seen.cAfter).toBe(FAULT_MARKER);
    expect(rig!.faults).toEqual([{ thread: C, rwx: 4, address: Y }]);
  });

  it('revoking only W leaves the derived mappings read-only: reads work, a write faults', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* rig.page(P);
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        yield* rig.write(C, Y, 0x2222); // C may write while it has W
        seen.aSeesC = yield* env.read32(P);

        yield* unmapFpages(env, [fpage(P, 12, Rights.Write)], false);
        views.a = view(b, ROOT_ID, P);
        views.b = view(b, B, X);
        views.c = view(b, C, Y);
        seen.faultsBeforeReads = rig.faults.length;
        seen.cRead = yield* rig.read(C, Y);
        seen.bRead = yield* rig.read(B, X);
        seen.faultsAfterReads = rig.faults.length;
        yield* rig.write(C, Y, 0x3333); // faults: resolved with a scratch page
        seen.aAfterWrite = yield* env.read32(P);
        yield* env.write32(P, 0x4444); // A keeps W
        seen.bSeesA = yield* rig.read(B, X);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    expect(seen.aSeesC).toBe(0x2222);
    expect(views.a).toMatchObject({ mapped: true, rights: 7, present: true, writable: true });
    expect(views.b).toMatchObject({ mapped: true, rights: Rights.ReadExecute, present: true, writable: false });
    expect(views.c).toMatchObject({ mapped: true, rights: Rights.ReadExecute, present: true, writable: false });
    expect(seen.faultsBeforeReads).toBe(0);
    expect(seen.faultsAfterReads).toBe(0);
    expect(seen.cRead).toBe(0x2222);
    expect(seen.bRead).toBe(0x2222);
    expect(rig!.faults).toEqual([{ thread: C, rwx: 2, address: Y }]);
    // The write went to the page the pager mapped over C's read-only one, not to A's page.
    expect(seen.aAfterWrite).toBe(0x2222);
    expect(seen.bSeesA).toBe(0x4444);
  });

  it('grant moves the mapping to the receiver and keeps the mappings derived from it', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        const sent = yield* rig.page(P);
        seen.frame = (sent & ~0xfff) >>> 0;
        yield* env.write32(P, 0x5555);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.spawn(D);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        yield* rig.workerMap(B, D, X, Z, Rights.Full, true); // B grants its page to D
        views.b = view(b, B, X);
        views.c = view(b, C, Y);
        views.d = view(b, D, Z);
        seen.dRead = yield* rig.read(D, Z);
        seen.cRead = yield* rig.read(C, Y);
        seen.faultsBefore = rig.faults.length;
        seen.bRead = yield* rig.read(B, X); // B no longer has it: faults
        // Unmap by A still reaches the granted node and its child.
        yield* unmapFpages(env, [fpage(P, 12, Rights.Full)], false);
        views.d2 = view(b, D, Z);
        views.c2 = view(b, C, Y);
        seen.dAfter = yield* rig.read(D, Z);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const aSpace = spaceOf(b, ROOT_ID);
    expect(views.b).toMatchObject({ mapped: false, present: false });
    expect(views.d).toMatchObject({ mapped: true, frame: seen.frame, rights: 7, present: true, writable: true, pteFrame: seen.frame, parent: { space: aSpace, address: P } });
    expect(views.c).toMatchObject({ mapped: true, frame: seen.frame, present: true, parent: { space: spaceOf(b, D), address: Z } });
    expect(seen.dRead).toBe(0x5555);
    expect(seen.cRead).toBe(0x5555);
    expect(seen.faultsBefore).toBe(0);
    expect(seen.bRead).toBe(FAULT_MARKER);
    expect(views.d2).toMatchObject({ mapped: false, present: false });
    expect(views.c2).toMatchObject({ mapped: false, present: false });
    expect(seen.dAfter).toBe(FAULT_MARKER);
    expect(rig!.faults).toEqual([
      { thread: B, rwx: 4, address: X },
      { thread: D, rwx: 4, address: Z },
    ]);
    expect(b.kernel.counters.pagesGranted).toBe(1);
  });

  it('Unmap status: referenced as R|X (5), dirty as R|W (added: 7); a status read resets it', () => {
    let rig: Rig | undefined;
    const statuses: Record<string, number[]> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        // A never touches P and P2 itself, so the status is the workers' doing alone.
        yield* rig.page(P);
        yield* rig.page(P2);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.mapTo(B, P2, X2, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        yield* rig.workerMap(B, C, X2, Y2, Rights.Full);
        const pages = [fpage(P, 12, Rights.None), fpage(P2, 12, Rights.None)];
        statuses.untouched = yield* unmapFpages(env, pages, false);
        yield* rig.read(C, Y);
        yield* rig.write(C, Y2, 0x77);
        statuses.first = yield* unmapFpages(env, pages, false);
        statuses.second = yield* unmapFpages(env, pages, false);
        // Rights 0 revoked nothing: the mappings are still there.
        views.c1 = view(b, C, Y);
        views.c2 = view(b, C, Y2);
        yield* rig.read(C, Y2);
        statuses.third = yield* unmapFpages(env, pages, false);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const p1 = fpage(P, 12);
    const p2 = fpage(P2, 12);
    expect(statuses.untouched).toEqual([p1, p2]);
    expect(statuses.first).toEqual([(p1 | 5) >>> 0, (p2 | 7) >>> 0]);
    expect(statuses.second).toEqual([p1, p2]);
    expect(statuses.third).toEqual([p1, (p2 | 5) >>> 0]);
    expect(views.c1).toMatchObject({ mapped: true, rights: 7, present: true });
    expect(views.c2).toMatchObject({ mapped: true, rights: 7, present: true, writable: true });
    expect(rig!.faults).toEqual([]);
  });

  it('mapping over an existing mapping replaces it, and the old subtree goes with it', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        seen.frame1 = ((yield* rig.page(P)) & ~0xfff) >>> 0;
        seen.frame2 = ((yield* rig.page(P2)) & ~0xfff) >>> 0;
        yield* env.write32(P, 0x1111);
        yield* env.write32(P2, 0x2222);
        yield* rig.spawn(B);
        yield* rig.spawn(C);
        yield* rig.mapTo(B, P, X, Rights.Full);
        yield* rig.workerMap(B, C, X, Y, Rights.Full);
        seen.cBefore = yield* rig.read(C, Y);
        yield* rig.mapTo(B, P2, X, Rights.ReadExecute); // over B's mapping of P
        views.b = view(b, B, X);
        views.c = view(b, C, Y);
        const rootNode = b.kernel.mdb.lookup(spaceOf(b, ROOT_ID), P)!;
        seen.subtree1 = b.kernel.mdb.subtree(rootNode).length;
        seen.bRead = yield* rig.read(B, X);
        seen.cRead = yield* rig.read(C, Y);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const aSpace = spaceOf(b, ROOT_ID);
    expect(seen.cBefore).toBe(0x1111);
    expect(views.b).toMatchObject({ mapped: true, frame: seen.frame2, rights: Rights.ReadExecute, present: true, writable: false, pteFrame: seen.frame2, parent: { space: aSpace, address: P2 } });
    expect(views.c).toMatchObject({ mapped: false, present: false });
    expect(seen.subtree1).toBe(1); // only A's own node is left under P
    expect(seen.bRead).toBe(0x2222);
    expect(seen.cRead).toBe(FAULT_MARKER);
    expect(rig!.faults).toEqual([{ thread: C, rwx: 4, address: Y }]);
  });

  it('map items never map over the KIP or UTCB areas or above user space, and sigma0 never hands out kernel memory', () => {
    let rig: Rig | undefined;
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    const b: Booted = boot(
      function* (env) {
        rig = new Rig(env);
        yield* rig.page(P);
        yield* env.write32(P, 0x1111);
        yield* rig.spawn(B);
        const kipBefore = view(b, B, 0xbff00000);
        const utcbBefore = view(b, B, 0xbf000000);
        yield* rig.mapTo(B, P, 0xbff00000, Rights.Full);
        yield* rig.mapTo(B, P, 0xbf000000, Rights.Full);
        yield* rig.mapTo(B, P, 0xc0000000, Rights.Full);
        views.kipBefore = kipBefore;
        views.utcbBefore = utcbBefore;
        views.kip = view(b, B, 0xbff00000);
        views.utcb = view(b, B, 0xbf000000);
        views.kernel = view(b, B, 0xc0000000);
        seen.children = b.kernel.mdb.subtree(b.kernel.mdb.lookup(spaceOf(b, ROOT_ID), P)!).length;
        seen.kipMagic = yield* rig.read(B, 0xbff00000);
        seen.utcbId = yield* rig.read(B, 0xbf000000); // B's MyGlobalId TCR: its UTCB is intact

        // sigma0 refuses pages of the kernel's reserved region [1 MiB, 9 MiB).
        seen.kernelFirst = yield* rig.page(0x41000000, fpage(0x100000, 12));
        seen.kernelMiddle = yield* rig.page(0x41001000, fpage(0x200000, 12));
        seen.kernelLast = yield* rig.page(0x41002000, fpage(0x8ff000, 12));
        seen.kernelLarge = yield* rig.page(0x41400000, fpage(0, 22));
        seen.afterKernel = yield* rig.page(0x41003000, fpage(0x900000, 12));
        views.refused = view(b, ROOT_ID, 0x41001000);
        views.granted = view(b, ROOT_ID, 0x41003000);
      },
      { sigma0 },
    );
    finish(b, () => rig);
    const bSpace = b.kernel.threadById(B)!.space;
    expect(views.kipBefore).toMatchObject({ mapped: false, present: true, writable: false, pteFrame: b.kernel.kipFrame });
    expect(views.kip).toEqual(views.kipBefore);
    expect(views.utcbBefore).toMatchObject({ mapped: false, present: true, pteFrame: bSpace.utcbFrames.get(0xbf000000) });
    expect(views.utcb).toEqual(views.utcbBefore);
    expect(views.kernel.mapped).toBe(false);
    expect(seen.children).toBe(1);
    expect(seen.kipMagic).toBe(0x4be6344c);
    expect(seen.utcbId).toBe(B);
    expect(seen.kernelFirst).toBe(0);
    expect(seen.kernelMiddle).toBe(0);
    expect(seen.kernelLast).toBe(0);
    expect(seen.kernelLarge).toBe(0);
    expect(seen.afterKernel).toBe(fpage(0x900000, 12, Rights.Full));
    expect(views.refused).toMatchObject({ mapped: false, present: false });
    expect(views.granted).toMatchObject({ mapped: true, frame: 0x900000, present: true });
    expect(rig!.faults).toEqual([]);
  });

  it('the kernel never maps its own memory, even when sigma0 sends it in a map item', () => {
    const seen: Record<string, number> = {};
    const views: Record<string, View> = {};
    // A sigma0 that answers any request with map items for a kernel page (the KIP's frame is the
    // first kernel frame) and for an ordinary page.
    function* rogueSigma0(env: ProgramEnv): Op<void> {
      for (;;) {
        const request = yield* wait(env);
        yield* loadMessage(env, {
          label: 0,
          items: [...mapItem(0, fpage(0x100000, 12, Rights.Full)), ...mapItem(0x1000, fpage(0x1000000, 12, Rights.Full)), ...mapItem(0x2000, fpage(0x8ff000, 12, Rights.Full))],
        });
        yield* reply(env, request.from);
      }
    }
    const b: Booted = boot(
      function* (env) {
        yield* setAcceptor(env, acceptor(fpage(0x30000000, 14)));
        yield* loadMRs(env, [msgTag(Label.Sigma0, 2, 0), ANY_PAGE, 0]);
        const r = yield* call(env, SIGMA0_ID);
        seen.error = r.errorCode;
        views.kernel = view(b, ROOT_ID, 0x30000000);
        views.ordinary = view(b, ROOT_ID, 0x30001000);
        views.kernelLast = view(b, ROOT_ID, 0x30002000);
        seen.ordinary = yield* env.read32(0x30001000);
      },
      { sigma0: rogueSigma0 },
    );
    const result = b.run(RUN_LIMIT);
    expect(result.reason).toBe('idle');
    expect(seen.error).toBe(0);
    expect(views.kernel).toMatchObject({ mapped: false, present: false });
    expect(views.kernelLast).toMatchObject({ mapped: false, present: false });
    expect(views.ordinary).toMatchObject({ mapped: true, frame: 0x1000000, present: true });
    expect(seen.ordinary).toBe(0);
    expect(b.kernel.mdb.lookup(-1, 0x100000)).toBeUndefined();
    expect(b.output()).not.toContain('halted');
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});
