// sigma0's protocol (servers/sigma0.ts), at kernel level: the kernel boots sigma0 and a root task
// whose pager is sigma0 (test/kernel/support.ts), and the root task (and a second thread in its
// space) talks to sigma0 with the libl4 wrappers.
//
//   request   MR0 = 0xFFA0 << 16 | 2 untyped, MR1 = fpage (base all ones: any page of that
//             size), MR2 = attributes (0); BR0 = the acceptor with the receive window
//   reply     MR0 = 2 typed words, MR1 = base | map item, MR2 = the fpage, or 0 (a nil fpage)
//
// Each root body records what it saw in plain arrays of the test; the checks run after the
// machine went idle, against the replies, the mapping database and physical memory.

import { describe, expect, it } from 'vitest';
import { Label, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { Rights, fpage } from '../../libl4/fpage.ts';
import { msgTag, type MsgTag } from '../../libl4/msg-tag.ts';
import { call, ipc, loadMRs, receive, send, setAcceptor, storeMRs, systemClock, threadControl } from '../../libl4/syscalls.ts';
import { NEVER, timeout, timeouts } from '../../libl4/timeout.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { ROOT_ID, SIGMA0_ID, boot, tid, type Booted } from '../kernel/support.ts';

const MIB = 1024 * 1024;
const RAM = 64 * MIB;
/** The kernel's reserved region by default: 8 MiB from 1 MiB. */
const KERNEL_LOW = 1 * MIB;
const KERNEL_END = 9 * MIB;
const PAGE = 4096;
/** An fpage word asking for any free page of 2^log2 bytes. */
const anyPage = (log2: number): number => (0xfffffc00 | (log2 << 4)) >>> 0;
/** How long a requester waits for sigma0's reply: far longer than any reply takes. */
const REPLY_TIMEOUT = timeout(100_000);
/** How long it waits for a reply that should never come. */
const SILENCE_TIMEOUT_US = 2_000;

interface Reply {
  readonly tag: MsgTag;
  readonly errorCode: number;
  /** MR0..MR2 after the call. */
  readonly mrs: readonly number[];
}

/** Sends `words` to sigma0 with BR0 accepting `window`, and waits for the answer. */
function* sigma0Call(env: ProgramEnv, words: readonly number[], window: number, receiveTimeout = REPLY_TIMEOUT): Op<Reply> {
  yield* setAcceptor(env, acceptor(window));
  yield* loadMRs(env, words);
  const r = yield* call(env, SIGMA0_ID, timeouts(NEVER, receiveTimeout));
  return { tag: r.tag, errorCode: r.errorCode, mrs: yield* storeMRs(env, 3) };
}

/** A well-formed memory request for the fpage `request` into `window`. */
function request(env: ProgramEnv, requestFpage: number, window: number): Op<Reply> {
  return sigma0Call(env, [msgTag(Label.Sigma0, 2), requestFpage, 0], window);
}

/** The reply maps the 2^log2 bytes at `base` (1:1, all rights) with one map item. */
function expectMapped(reply: Reply | undefined, base: number, log2: number, what = ''): void {
  expect(reply, what).toBeDefined();
  const { tag, mrs } = reply!;
  expect({ what, error: tag.error, label: tag.label, untyped: tag.untyped, typed: tag.typed }).toEqual({ what, error: false, label: 0, untyped: 0, typed: 2 });
  expect({ what, item: mrs[1], fpage: mrs[2] }).toEqual({ what, item: (base | 0x8) >>> 0, fpage: fpage(base, log2, Rights.Full) });
}

/** The reply is a map item with a nil fpage: sigma0 refused. */
function expectNil(reply: Reply | undefined, what = ''): void {
  expect(reply, what).toBeDefined();
  const { tag, mrs } = reply!;
  expect({ what, error: tag.error, label: tag.label, untyped: tag.untyped, typed: tag.typed }).toEqual({ what, error: false, label: 0, untyped: 0, typed: 2 });
  expect({ what, fpage: mrs[2] }).toEqual({ what, fpage: 0 });
}

/**
 * The physical page the mapping database has at `address` in the root task's space (the part of
 * a 4 MiB mapping's frame that `address` selects), or undefined.
 */
function frameAt(b: Booted, address: number): number | undefined {
  const node = b.kernel.mdb.lookup(b.kernel.rootSpace!.id, address);
  return node === undefined ? undefined : node.frame + (((address - node.address) & ~0xfff) >>> 0);
}

/** Boots sigma0 and `root`, runs to the end, and checks that the run ended idle with sane tables. */
function runWithSigma0(root: (env: ProgramEnv) => Op<void>, config: Parameters<typeof boot>[1] = {}): Booted {
  const b = boot(root, { sigma0, ...config });
  const result = b.run(5e8);
  expect(result.reason).toBe('idle');
  expect(b.output()).toMatch(/^sigma0: \d+ KiB of conventional memory to hand out\n/);
  expect(b.output()).not.toContain('halted');
  expect(b.kernel.checkInvariants()).toEqual([]);
  return b;
}

describe('sigma0', () => {
  it('an exact request maps exactly that physical memory, 1:1 into the receive window', () => {
    const replies: Reply[] = [];
    const readBack: number[] = [];
    const b = runWithSigma0(function* root(env) {
      replies.push(yield* request(env, fpage(0x00a00000, 12, Rights.Full), fpage(0x40000000, 12)));
      yield* env.write32(0x40000010, 0x12345678);
      readBack.push(yield* env.read32(0x40000010));
      // 64 KiB: sixteen pages in one item.
      replies.push(yield* request(env, fpage(0x00c00000, 16, Rights.Full), fpage(0x41000000, 16)));
      for (let i = 0; i < 16; i++) yield* env.write32(0x41000000 + i * PAGE, 0xc0de0000 + i);
    });
    expectMapped(replies[0], 0x00a00000, 12, '4 KiB');
    expectMapped(replies[1], 0x00c00000, 16, '64 KiB');
    expect(readBack).toEqual([0x12345678]);
    expect(frameAt(b, 0x40000000)).toBe(0x00a00000);
    expect(b.machine.physical.read32(0x00a00010)).toBe(0x12345678);
    for (let i = 0; i < 16; i++) {
      expect(frameAt(b, 0x41000000 + i * PAGE)).toBe(0x00c00000 + i * PAGE);
      expect(b.machine.physical.read32(0x00c00000 + i * PAGE)).toBe(0xc0de0000 + i);
    }
    // Nothing beyond the window: the neighbours of both stay unmapped.
    expect(frameAt(b, 0x40001000)).toBeUndefined();
    expect(frameAt(b, 0x41010000)).toBeUndefined();
  });

  it('"any page of size 2^s" returns a free region aligned to its size, a different one each time', () => {
    const sizes = [12, 12, 12, 14, 16, 20, 22, 16, 12];
    const replies: Reply[] = [];
    const b = runWithSigma0(function* root(env) {
      for (let i = 0; i < sizes.length; i++) replies.push(yield* request(env, anyPage(sizes[i]!), fpage(0x50000000 + i * 0x01000000, sizes[i]!)));
    });
    const regions: Array<[number, number]> = [];
    sizes.forEach((log2, i) => {
      const reply = replies[i]!;
      const base = (reply.mrs[2]! & 0xfffffc00) >>> 0;
      const size = 2 ** log2;
      expectMapped(reply, base, log2, `request ${i} (2^${log2})`);
      expect(base % size).toBe(0);
      expect(base + size <= KERNEL_LOW || base >= KERNEL_END, `2^${log2} at 0x${base.toString(16)} is not the kernel's`).toBe(true);
      expect(base + size).toBeLessThanOrEqual(RAM);
      for (const [low, end] of regions) expect(base + size <= low || base >= end, `2^${log2} at 0x${base.toString(16)} overlaps [0x${low.toString(16)}, 0x${end.toString(16)})`).toBe(true);
      regions.push([base, base + size]);
      // The window holds the region page for page.
      const window = 0x50000000 + i * 0x01000000;
      expect(frameAt(b, window)).toBe(base);
      expect(frameAt(b, window + size - PAGE)).toBe(base + size - PAGE);
    });
  });

  it('requests are idempotent for the owning thread; another thread gets a nil fpage for what it does not own', () => {
    const OTHER = tid(200);
    const mine = 0x00a00000;
    const theirs = 0x00a10000;
    const root: Record<string, Reply> = {};
    const other: Record<string, Reply> = {};
    let anyForRoot = -1;
    let anyForOther = -1;
    let started = false;

    function* otherThread(env: ProgramEnv): Op<void> {
      other.ownedByRoot = yield* request(env, fpage(mine, 12), fpage(0x48000000, 12));
      other.anyOfRoot = yield* request(env, fpage(anyForRoot, 12), fpage(0x48001000, 12));
      other.straddling = yield* request(env, fpage(mine, 16), fpage(0x48010000, 16));
      other.free = yield* request(env, fpage(theirs, 12), fpage(0x48002000, 12));
      other.again = yield* request(env, fpage(theirs, 12), fpage(0x48003000, 12));
      other.any = yield* request(env, anyPage(12), fpage(0x48004000, 12));
      anyForOther = (other.any.mrs[2]! & 0xfffffc00) >>> 0;
      yield* loadMRs(env, [msgTag(1)]);
      yield* send(env, ROOT_ID);
    }

    const b = runWithSigma0(function* rootTask(env) {
      root.first = yield* request(env, fpage(mine, 12), fpage(0x40000000, 12));
      root.again = yield* request(env, fpage(mine, 12), fpage(0x40001000, 12));
      root.any = yield* request(env, anyPage(12), fpage(0x40002000, 12));
      anyForRoot = (root.any.mrs[2]! & 0xfffffc00) >>> 0;
      root.anyAgain = yield* request(env, fpage(anyForRoot, 12), fpage(0x40003000, 12));
      // A second thread in this space, started with a start message; it reports back when done.
      const created = yield* threadControl(env, OTHER, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000200);
      expect(created.ok).toBe(true);
      yield* loadMRs(env, [2, env.codeAddress(otherThread), 0]);
      yield* send(env, OTHER);
      const done = yield* receive(env, OTHER, timeout(1_000_000));
      started = !done.tag.error;
      root.ownedByOther = yield* request(env, fpage(theirs, 12), fpage(0x40004000, 12));
      root.anyOfOther = yield* request(env, fpage(anyForOther, 12), fpage(0x40005000, 12));
      root.mineStill = yield* request(env, fpage(mine, 12), fpage(0x40006000, 12));
    });
    expect(started).toBe(true);

    expectMapped(root.first, mine, 12, 'root: first request');
    expectMapped(root.again, mine, 12, 'root: the same page again');
    expectMapped(root.anyAgain, anyForRoot, 12, 'root: its "any" page by address');
    expect([mine, theirs]).not.toContain(anyForRoot);
    expectNil(other.ownedByRoot, "other: root's page");
    expectNil(other.anyOfRoot, "other: root's any page");
    expectNil(other.straddling, 'other: 64 KiB holding a page of root');
    expectMapped(other.free, theirs, 12, 'other: a free page');
    expectMapped(other.again, theirs, 12, 'other: its page again');
    expectMapped(other.any, anyForOther, 12, 'other: any page');
    expect([mine, theirs, anyForRoot]).not.toContain(anyForOther);
    expectNil(root.ownedByOther, "root: other's page");
    expectNil(root.anyOfOther, "root: other's any page");
    expectMapped(root.mineStill, mine, 12, 'root: its page after all that');

    // The mapping database agrees: both threads share the space, so every window is in it.
    expect(frameAt(b, 0x40000000)).toBe(mine);
    expect(frameAt(b, 0x40001000)).toBe(mine);
    expect(frameAt(b, 0x40003000)).toBe(anyForRoot);
    for (const refused of [0x48000000, 0x48001000, 0x48010000, 0x40004000, 0x40005000]) expect(frameAt(b, refused)).toBeUndefined();
    expect(frameAt(b, 0x48002000)).toBe(theirs);
    expect(frameAt(b, 0x48003000)).toBe(theirs);
  });

  it("the kernel's memory, memory beyond RAM and sizes out of range get a nil fpage", () => {
    const cases: ReadonlyArray<[string, number]> = [
      ['the first kernel page', fpage(KERNEL_LOW, 12)],
      ['a kernel page in the middle', fpage(0x00500000, 12)],
      ['the last kernel page', fpage(KERNEL_END - PAGE, 12)],
      ['8..16 MiB, partly the kernel', fpage(8 * MIB, 23)],
      ['the first page beyond RAM', fpage(RAM, 12)],
      ['2 GiB', fpage(0x80000000, 12)],
      ['the last page of the address space', fpage(0xfffff000, 12)],
      ['the 64 MiB above RAM', fpage(RAM, 26)],
      ['a 2 KiB fpage', (0x00a00000 | (11 << 4)) >>> 0],
      ['a 2^32 fpage', (32 << 4) >>> 0],
      ['any page of 2 GiB', anyPage(31)],
    ];
    const replies: Reply[] = [];
    const after: Reply[] = [];
    const b = runWithSigma0(function* root(env) {
      for (let i = 0; i < cases.length; i++) replies.push(yield* request(env, cases[i]![1], fpage(0x40000000 + i * 0x01000000, 23)));
      // The pages just around the kernel's region are conventional and handed out.
      after.push(yield* request(env, fpage(KERNEL_LOW - PAGE, 12), fpage(0x60000000, 12)));
      after.push(yield* request(env, fpage(KERNEL_END, 12), fpage(0x60001000, 12)));
      after.push(yield* request(env, fpage(RAM - PAGE, 12), fpage(0x60002000, 12)));
    });
    cases.forEach(([what], i) => {
      expectNil(replies[i], what);
      expect(b.kernel.mdb.nodesOf(b.kernel.rootSpace!.id).filter((n) => n.address >= 0x40000000 + i * 0x01000000 && n.address < 0x40800000 + i * 0x01000000), what).toEqual([]);
    });
    expectMapped(after[0], KERNEL_LOW - PAGE, 12, 'the page below the kernel');
    expectMapped(after[1], KERNEL_END, 12, 'the page above the kernel');
    expectMapped(after[2], RAM - PAGE, 12, 'the last page of RAM');
  });

  it('boot-loader memory is handed out by exact address only, never as "any page"', () => {
    const replies: Reply[] = [];
    runWithSigma0(
      function* root(env) {
        // 2^25: [0, 32 MiB) holds the kernel, [32, 64 MiB) the boot module: nothing qualifies.
        replies.push(yield* request(env, anyPage(25), fpage(0x40000000, 25)));
        replies.push(yield* request(env, fpage(0x03000000, 12), fpage(0x44000000, 12)));
        replies.push(yield* request(env, fpage(0x03000000, 16), fpage(0x44010000, 16)));
      },
      { config: { memoryDescriptors: [{ type: 0xe, low: 0x03000000, end: 0x03010000 }] } },
    );
    expectNil(replies[0], 'any 32 MiB');
    expectMapped(replies[1], 0x03000000, 12, 'a boot page by address');
    expectMapped(replies[2], 0x03000000, 16, 'the boot region by address');
  });

  it('a malformed request gets no reply at all; sigma0 serves on', () => {
    const cases: ReadonlyArray<[string, number[]]> = [
      ['a foreign label', [msgTag(0x1234, 2), fpage(0x00a00000, 12), 0]],
      ['the label with low bits set', [msgTag(Label.Sigma0 | 1, 2), fpage(0x00a00000, 12), 0]],
      ['one untyped word', [msgTag(Label.Sigma0, 1), fpage(0x00a00000, 12)]],
      ['three untyped words', [msgTag(Label.Sigma0, 3), fpage(0x00a00000, 12), 0, 0]],
      ['no words', [msgTag(Label.Sigma0, 0)]],
      ['a page-fault label with one word', [msgTag(Label.PageFault | 2, 1), 0x00a00000]],
    ];
    const silent: Array<{ reply: Reply; waited: number }> = [];
    let typedItem: Reply | undefined;
    let afterwards: Reply | undefined;
    runWithSigma0(function* root(env) {
      for (const [, words] of cases) {
        const before = yield* systemClock(env);
        const reply = yield* sigma0Call(env, words, fpage(0x40000000, 12), timeout(SILENCE_TIMEOUT_US));
        silent.push({ reply, waited: (yield* systemClock(env)) - before });
      }
      // Typed items: the kernel refuses the message before sigma0 sees it, sigma0 having no
      // receive window (its BR0 is 0): the send phase fails with a message overflow.
      yield* setAcceptor(env, acceptor(fpage(0x40000000, 12)));
      yield* loadMRs(env, [msgTag(Label.Sigma0, 2, 2), fpage(0x00a00000, 12), 0, 0x8, fpage(0x40000000, 12, Rights.Full)]);
      const r = yield* ipc(env, SIGMA0_ID, SIGMA0_ID, timeouts(NEVER, timeout(SILENCE_TIMEOUT_US)));
      typedItem = { tag: r.tag, errorCode: r.errorCode, mrs: [] };
      afterwards = yield* request(env, fpage(0x00a00000, 12), fpage(0x40000000, 12));
    });
    cases.forEach(([what], i) => {
      const { reply, waited } = silent[i]!;
      expect({ what, error: reply.tag.error, ...decodeIpcError(reply.errorCode) }).toEqual({ what, error: true, phase: 'receive', code: 1, name: 'Timeout', offset: 0 });
      // No reply ended the wait early: it lasted the whole receive timeout.
      expect(waited, what).toBeGreaterThanOrEqual(SILENCE_TIMEOUT_US);
    });
    expect(typedItem!.tag.error).toBe(true);
    expect(decodeIpcError(typedItem!.errorCode)).toEqual({ phase: 'send', code: 4, name: 'MessageOverflow', offset: 0 });
    expectMapped(afterwards, 0x00a00000, 12, 'a good request after the bad ones');
  });

  it("page faults of a thread whose pager is sigma0 are served 1:1", () => {
    const values: number[] = [];
    const addresses = [0x00a00010, 0x00a01ffc, 0x02345678 & ~3, KERNEL_END, RAM - 4];
    let again: Reply | undefined;
    const b = runWithSigma0(function* root(env) {
      for (const [i, address] of addresses.entries()) yield* env.write32(address, 0xfa000000 + i);
      for (const address of addresses) values.push(yield* env.read32(address));
      // The faulted-in page is the root task's now: asking for it is idempotent.
      again = yield* request(env, fpage(0x00a00000, 12), fpage(0x40000000, 12));
    });
    expect(values).toEqual(addresses.map((_, i) => 0xfa000000 + i));
    for (const [i, address] of addresses.entries()) {
      const page = (address & ~0xfff) >>> 0;
      expect(frameAt(b, page), `0x${address.toString(16)}`).toBe(page);
      expect(b.machine.physical.read32(address)).toBe(0xfa000000 + i);
    }
    expect(b.kernel.counters.pageFaults).toBe(addresses.length);
    expectMapped(again, 0x00a00000, 12, 'the faulted page by request');
    expect(frameAt(b, 0x40000000)).toBe(0x00a00000);
  });
});
