// The cast of the mapping tests (mapping.test.ts, mapping-large.test.ts), after l4test's memory
// tests: the root task A (root space, paged by sigma0) takes pages from sigma0 and maps them
// onward to worker threads B, C, D, each alone in a new space with A as its pager. A worker runs
// a command loop: it waits (open, with the whole address space as receive window, so map and
// grant items from anyone land in it), and answers A's commands: read a word, write a word, map or
// grant one of its fpages to another worker, unmap. A worker's page faults go to A as page-fault
// IPC in the middle of a command; A records each fault (who, rwx of the access, address) and
// resolves it with a fresh page from sigma0 holding FAULT_MARKER, so "the next access faults" is
// observable both in A's fault log and in the value read. White-box checks look at the mapping
// database and the page tables at chosen points of the run (`view`, between system calls).

import { expect } from 'vitest';
import { Label, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { Rights, acceptor, completeFpage, fpage, grantItem, mapItem, msgTag } from '../../libl4/message.ts';
import { call, loadMessage, loadMRs, reply, send, setAcceptor, spaceControl, storeMRs, threadControl, unmapFpages, wait } from '../../libl4/syscalls.ts';
import { ROOT_ID, SIGMA0_ID, tid, type Booted } from './support.ts';

export const B = tid(101);
export const C = tid(102);
export const D = tid(103);

/** Labels: a command from A to a worker, and a message that only carries map or grant items. */
export const COMMAND = 0x100;
export const MAP_MESSAGE = 0x200;
const READ = 1;
const WRITE = 2;
const MAP = 3;
const GRANT = 4;
const UNMAP = 5;

/** sigma0 request fpage for "any 4 KiB page". */
export const ANY_PAGE = (0xfffffc00 | (12 << 4)) >>> 0;
/** Where A keeps the pages it uses to resolve workers' faults. */
export const SCRATCH = 0x48000000;
export const FAULT_MARKER = 0xfa0175;
export const RUN_LIMIT = 400_000_000;

/** A worker: see the top of the file. */
export function* worker(env: ProgramEnv): Op<void> {
  for (;;) {
    yield* setAcceptor(env, acceptor(completeFpage()));
    const request = yield* wait(env);
    if (request.tag.error || request.tag.label !== COMMAND) continue; // a map message: nothing to answer
    const [op, a1, a2, a3, a4, a5] = yield* storeMRs(env, request.tag.untyped, 1);
    let result: number[] = [];
    if (op === READ) result = [yield* env.read32(a1!)];
    else if (op === WRITE) yield* env.write32(a1!, a2!);
    else if (op === MAP || op === GRANT) {
      // a1: destination thread, a2: own fpage's base, a3: address in the destination, a4: rights,
      // a5: the fpage's log2 size (12 when not given).
      const page = fpage(a2!, a5 ?? 12, a4!);
      yield* loadMessage(env, { label: MAP_MESSAGE, items: op === GRANT ? grantItem(a3!, page) : mapItem(a3!, page) });
      const sent = yield* send(env, a1!);
      result = [sent.errorCode];
    } else if (op === UNMAP) {
      // a1: the fpage (its rights are the rights to revoke), a2: flush.
      result = yield* unmapFpages(env, [a1!], a2 !== 0);
    }
    yield* loadMessage(env, { label: 0, words: result });
    yield* reply(env, request.from);
  }
}

export interface Fault {
  thread: number;
  /** rwx of the faulting access (label low 4 bits): 4 read, 2 write. */
  rwx: number;
  address: number;
}

/** The root task's side: sigma0 requests, starting workers, commands, mapping, fault service. */
export class Rig {
  readonly faults: Fault[] = [];
  readonly errors: string[] = [];
  private nextScratch = SCRATCH;

  constructor(private readonly env: ProgramEnv) {}

  /**
   * Asks sigma0 for a page (`requested`: an fpage, default any 4 KiB page), received at `at` in a
   * window of 2^windowLog2 bytes. Returns the fpage sigma0 sent (0: refused).
   */
  *page(at: number, requested: number = ANY_PAGE, windowLog2 = 12): Op<number> {
    const env = this.env;
    yield* setAcceptor(env, acceptor(fpage(at, windowLog2)));
    yield* loadMRs(env, [msgTag(Label.Sigma0, 2, 0), requested, 0]);
    const r = yield* call(env, SIGMA0_ID);
    if (r.tag.error) this.errors.push(`sigma0 request failed: ${r.errorCode}`);
    const [, , sent] = yield* storeMRs(env, 3);
    return sent!;
  }

  /** Creates `id` as the only thread of a new space, paged by the root task, running `body`. */
  *spawn(id: number, body: (env: ProgramEnv) => Op<void> = worker): Op<void> {
    const env = this.env;
    const steps = [
      yield* threadControl(env, id, id, ROOT_ID, 0, 0xbf000000),
      yield* spaceControl(env, id, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0),
      yield* threadControl(env, id, id, ROOT_ID, ROOT_ID, 0xbf000000),
    ];
    steps.forEach((step, i) => {
      if (!step.ok) this.errors.push(`spawn ${id >>> 14} step ${i}: error ${step.errorCode}`);
    });
    yield* loadMRs(env, [msgTag(0, 2, 0), env.codeAddress(body), 0]);
    const r = yield* send(env, id);
    if (r.tag.error) this.errors.push(`start ${id >>> 14}: error ${r.errorCode}`);
  }

  /** Runs a command on a worker, serving its page faults meanwhile. Returns the reply's words. */
  *command(id: number, words: readonly number[]): Op<number[]> {
    const env = this.env;
    yield* loadMessage(env, { label: COMMAND, words });
    let r = yield* call(env, id);
    for (;;) {
      if (r.tag.error) {
        this.errors.push(`command ${words.join(',')} to ${id >>> 14}: error ${r.errorCode}`);
        return [];
      }
      if (r.tag.label >>> 4 !== Label.PageFault >>> 4) return yield* storeMRs(env, r.tag.untyped, 1);
      const [address] = yield* storeMRs(env, 1, 1);
      this.faults.push({ thread: id, rwx: r.tag.label & 0xf, address: address! });
      // Resolve it with a fresh page holding the marker, then wait for the command's answer.
      const scratch = this.nextScratch;
      this.nextScratch += 4096;
      yield* this.page(scratch);
      yield* env.write32(scratch, FAULT_MARKER);
      yield* loadMessage(env, { label: 0, items: mapItem((address! & ~0xfff) >>> 0, fpage(scratch, 12, Rights.Full)) });
      r = yield* call(env, id);
    }
  }

  /** Maps (or grants) the root task's fpage of 2^log2 bytes at `source` to `id` at `destination` with `rights`. */
  *mapTo(id: number, source: number, destination: number, rights: number, grant = false, log2 = 12): Op<void> {
    const page = fpage(source, log2, rights);
    yield* loadMessage(this.env, { label: MAP_MESSAGE, items: grant ? grantItem(destination, page) : mapItem(destination, page) });
    const r = yield* send(this.env, id);
    if (r.tag.error) this.errors.push(`map to ${id >>> 14}: error ${r.errorCode}`);
  }

  /** A worker's read of `address` (with fault service). */
  *read(id: number, address: number): Op<number> {
    return (yield* this.command(id, [READ, address]))[0]!;
  }

  *write(id: number, address: number, value: number): Op<void> {
    yield* this.command(id, [WRITE, address, value]);
  }

  /** Makes a worker unmap one of its fpages; returns the status word the kernel wrote back. */
  *workerUnmap(id: number, fpageWord: number, flush: boolean): Op<number> {
    return (yield* this.command(id, [UNMAP, fpageWord, flush ? 1 : 0]))[0]!;
  }

  /** Makes worker `from` map (or grant) its fpage of 2^log2 bytes at `source` to worker `to` at `destination`. */
  *workerMap(from: number, to: number, source: number, destination: number, rights: number, grant = false, log2 = 12): Op<void> {
    const [error] = yield* this.command(from, [grant ? GRANT : MAP, to, source, destination, rights, log2]);
    if (error !== 0) this.errors.push(`${grant ? 'grant' : 'map'} from ${from >>> 14}: error ${error}`);
  }
}

/** What the kernel holds for (thread's space, address): the mapping node and the PTE. */
export interface View {
  mapped: boolean;
  frame: number;
  rights: number;
  /** The parent node's (space, address), or null (none, or a root). */
  parent: { space: number; address: number } | null;
  present: boolean;
  writable: boolean;
  pteFrame: number;
}

export function spaceOf(b: Booted, id: number): number {
  return b.kernel.threadById(id)!.space.id;
}

export function view(b: Booted, id: number, address: number): View {
  const space = b.kernel.threadById(id)!.space;
  const node = b.kernel.mdb.lookup(space.id, address);
  const pte = b.kernel.pageTables.entry(space.pageDirectory, address);
  const parent = node?.parent ?? null;
  return {
    mapped: node !== undefined,
    frame: node?.frame ?? -1,
    rights: node?.rights ?? 0,
    parent: parent && parent.space >= 0 ? { space: parent.space, address: parent.address } : null,
    present: (pte & 1) !== 0,
    writable: (pte & 2) !== 0,
    pteFrame: (pte & ~0xfff) >>> 0,
  };
}

export function finish(b: Booted, getRig: () => Rig | undefined): void {
  const result = b.run(RUN_LIMIT);
  const rig = getRig();
  expect(b.output()).not.toContain('halted');
  expect(rig?.errors ?? ['root never ran']).toEqual([]);
  expect(result.reason).toBe('idle');
  expect(b.kernel.checkInvariants()).toEqual([]);
  expect(b.machine.cpu.counters.staleTranslations).toBe(0);
}

