// The kernel: boot, the run loop, scheduling, timeouts, thread and space lifecycle, traps.
//
// The kernel is privileged TypeScript that owns the machine through the hardware interface. It
// runs the current program thread until the thread traps (a system call, a page fault, the end of
// its time slice), handles the trap, and picks the next thread. Nothing runs concurrently and
// nothing depends on host time, so a run is a pure function of the programs and the options.
//
// The L4 semantics live beside this file: ipc.ts (IPC, map and grant, page-fault IPC),
// unmap.ts (Unmap through the mapping database), syscalls.ts (argument validation and the other
// system calls). The IA-32 binding is page-table.ts; the KIP layout is kip.ts.

import { CR0_PE, CR0_PG, CR0_WP, hex32, type HardwareInterface } from '../emulator/hardware.ts';
import {
  ANYLOCALTHREAD,
  ANYTHREAD,
  ErrorCode,
  IpcError,
  Label,
  NILTHREAD,
  SYSCALL_NAMES,
  TCR_ERROR_CODE,
  TCR_EXCEPTION_HANDLER,
  TCR_MY_GLOBAL_ID,
  TCR_PAGER,
  UTCB_SIZE,
  brOffset,
  mrOffset,
  type ProgramBody,
} from '../libl4/abi.ts';
import { kernelCosts, type KernelCosts } from './costs.ts';
import { completeIpc, ipcCall } from './ipc.ts';
import { KernelMemory } from './kernel-memory.ts';
import { KIP_AREA_LOG2, MemoryType, ROOT_THREAD, SIGMA0_THREAD, writeKip, type MemoryDescriptor } from './kip.ts';
import { MappingDatabase, type MappingNode } from './mapping-database.ts';
import { PageTables, USER_TOP } from './page-table.ts';
import { TRAP_FAULT, TRAP_PREEMPT, TRAP_PRINT, TRAP_SHUTDOWN, TRAP_SYSCALL, createProgramEnv } from './program-env.ts';
import { Space } from './space.ts';
import { handleSyscall } from './syscalls.ts';
import { ProgramText } from './text.ts';
import { MAX_PRIORITY, Thread, ThreadState } from './thread.ts';
import { PAGE_WALK_PAGES, fpageBase, fpageContains, timeoutMicroseconds } from './fpage.ts';

export const DEFAULT_PRIORITY = 100;
/** Default time slice: 10 ms, as in L4Ka::Pistachio. */
export const DEFAULT_TIMESLICE_US = 10_000;
/** Where the root servers' KIP and UTCB areas go (reference/l4-x2.md). */
export const ROOT_KIP_AREA = 0xbff00000;
export const ROOT_UTCB_AREA = 0xbf000000;
const ROOT_UTCB_AREA_LOG2 = 16;
/** Acceptor for page-fault replies: the whole address space. */
const COMPLETE_ACCEPTOR = 1 << 4;
/** Most mapping-database nodes one kernel frame holds (16 bytes each). */
const NODES_PER_FRAME = 256;

export interface KernelConfig {
  /** The root task's body (thread UserBase + 2, in its own space, privileged). */
  readonly root: ProgramBody;
  /** sigma0's body (thread UserBase); without it the root task has no pager. */
  readonly sigma0?: ProgramBody;
  /** The kernel's reserved region. Default: 8 MiB from 1 MiB. */
  readonly kernelMemory?: { readonly base: number; readonly size: number };
  /** More memory descriptors for the KIP (after the kernel's own). */
  readonly memoryDescriptors?: readonly MemoryDescriptor[];
  /** Physical address of the boot information, for the KIP's BootInfo field. */
  readonly bootInfo?: number;
  /** Program bodies to register in the text before anything runs (boot modules), in order. */
  readonly programs?: readonly ProgramBody[];
  /** Time slice of the first threads, in microseconds. */
  readonly timesliceUs?: number;
  /** Receives trace events as they happen. */
  readonly trace?: (event: TraceEvent) => void;
  /**
   * Programs' bulk operations translate a page at a time (default), counted exactly as access by
   * access; false makes them translate access by access (the reference for determinism tests).
   */
  readonly batchedAccesses?: boolean;
}

export type TraceKind = 'syscall' | 'ipc' | 'fault' | 'map' | 'unmap' | 'switch' | 'halt';

export interface TraceEvent {
  readonly cycle: number;
  readonly kind: TraceKind;
  readonly thread: number;
  readonly text: string;
}

export interface KernelCounters {
  syscalls: number;
  ipcs: number;
  ipcErrors: number;
  contextSwitches: number;
  pageFaults: number;
  exceptions: number;
  timerInterrupts: number;
  pagesMapped: number;
  pagesGranted: number;
  nodesUnmapped: number;
  threadsHalted: number;
  idleCycles: number;
}

export interface RunResult {
  /** Why the run stopped: nothing left to run, the cycle limit, a shutdown, or stop(). */
  readonly reason: 'idle' | 'max-cycles' | 'shutdown' | 'stopped';
  readonly cycles: number;
  /** The status a privileged thread shut the machine down with (null unless shut down). */
  readonly exitStatus: number | null;
}

export class Kernel {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly kmem: KernelMemory;
  readonly pageTables: PageTables;
  readonly mdb: MappingDatabase;
  readonly text = new ProgramText();
  readonly kipFrame: number;
  readonly memoryDescriptors: readonly MemoryDescriptor[];
  /** A directory holding only the kernel region: CR3 when no space is current. */
  readonly kernelDirectory: number;
  readonly counters: KernelCounters = {
    syscalls: 0,
    ipcs: 0,
    ipcErrors: 0,
    contextSwitches: 0,
    pageFaults: 0,
    exceptions: 0,
    timerInterrupts: 0,
    pagesMapped: 0,
    pagesGranted: 0,
    nodesUnmapped: 0,
    threadsHalted: 0,
    idleCycles: 0,
  };
  /** System calls by number. */
  readonly syscallCounts: number[] = SYSCALL_NAMES.map(() => 0);
  /** Every thread by thread number. */
  readonly threads = new Map<number, Thread>();
  /** Every live space by id (a Map iterates in creation order). */
  private readonly spaceMap = new Map<number, Space>();
  sigma0Space: Space | null = null;
  rootSpace: Space | null = null;
  current: Thread | null = null;
  /** A thread woken by the current one that should run next (IPC hand-off). */
  handoff: Thread | null = null;
  readonly trace: ((event: TraceEvent) => void) | null;
  /** Programs' bulk operations translate a page at a time (KernelConfig.batchedAccesses). */
  private readonly batchedAccesses: boolean;

  private readonly readyQueues: Thread[][] = [];
  private readonly readyBits = new Uint32Array(8);
  /** Blocked threads with a finite deadline, ordered by (deadline, sequence). */
  private readonly timeouts: Thread[] = [];
  /** The thread that ran last (a context switch is counted when another one runs). */
  private lastRun: Thread | null = null;
  /** Set by ThreadSwitch: the current thread gives up the rest of its turn. */
  yielding = false;
  private stopRequested = false;
  /** Set by a privileged thread's shutdown. */
  exitStatus: number | null = null;
  private nextSpaceId = 0;
  private nextSequence = 0;
  /** Mapping-database nodes the kernel frames taken so far can hold. */
  private nodeCapacity = 0;
  private readonly nodeFrames: number[] = [];

  constructor(hw: HardwareInterface, config: KernelConfig) {
    this.hw = hw;
    this.costs = kernelCosts(hw.profile);
    this.trace = config.trace ?? null;
    this.batchedAccesses = config.batchedAccesses !== false;
    const region = config.kernelMemory ?? { base: 0x100000, size: 8 * 1024 * 1024 };
    this.kmem = new KernelMemory(hw.physical, region.base, region.size);
    this.pageTables = new PageTables(hw, this.kmem, region.base + region.size);
    this.mdb = new MappingDatabase();
    for (let i = 0; i <= MAX_PRIORITY; i++) this.readyQueues.push([]);

    this.memoryDescriptors = [
      { type: MemoryType.Conventional, low: 0, end: hw.physical.size },
      { type: MemoryType.Reserved, low: region.base, end: region.base + region.size },
      ...(config.memoryDescriptors ?? []),
    ];
    const kip = this.kmem.allocate();
    const directory = this.pageTables.createDirectory();
    if (kip < 0 || directory < 0) throw new RangeError('kernel memory too small to boot');
    this.kipFrame = kip;
    this.kernelDirectory = directory;
    writeKip(hw.physical, kip, {
      memory: this.memoryDescriptors,
      clockHz: hw.profile.clockHz,
      pageSizes: hw.profile.pse ? [12, 22] : [12],
      schedulePrecision: 1,
      readPrecision: 1,
      bootInfo: config.bootInfo ?? 0,
    });
    for (const body of config.programs ?? []) this.text.codeAddress(body);

    // Paging on, in the kernel's own directory.
    hw.cpu.cr4 = this.pageTables.cr4;
    hw.cpu.cr3 = directory;
    hw.cpu.cr0 = CR0_PE | CR0_PG | CR0_WP;

    const timeslice = this.usToCycles(config.timesliceUs ?? DEFAULT_TIMESLICE_US);
    if (config.sigma0) {
      const sigma0 = this.createRootServer(SIGMA0_THREAD, config.sigma0, NILTHREAD, timeslice);
      this.sigma0Space = sigma0.space;
    }
    const pager = this.sigma0Space ? (SIGMA0_THREAD << 14) | 1 : NILTHREAD;
    this.rootSpace = this.createRootServer(ROOT_THREAD, config.root, pager, timeslice).space;
  }

  // ---- Boot ----------------------------------------------------------------------------------

  private createRootServer(number: number, body: ProgramBody, pager: number, timeslice: number): Thread {
    const id = (number << 14) | 1;
    const space = this.createSpace();
    if (!space) throw new RangeError('kernel memory too small to boot');
    this.initializeSpace(space, (ROOT_KIP_AREA | (KIP_AREA_LOG2 << 4)) >>> 0, (ROOT_UTCB_AREA | (ROOT_UTCB_AREA_LOG2 << 4)) >>> 0);
    const thread = this.createThread(id, space, ROOT_UTCB_AREA, id, timeslice);
    if (!thread || this.activate(thread, pager) !== 0) throw new RangeError('kernel memory too small to boot');
    this.start(thread, this.text.codeAddress(body), 0);
    return thread;
  }

  // ---- Spaces and threads --------------------------------------------------------------------

  createSpace(): Space | null {
    const directory = this.pageTables.createDirectory();
    if (directory < 0) return null;
    const space = new Space(this.nextSpaceId++, directory);
    this.spaceMap.set(space.id, space);
    return space;
  }

  /** SpaceControl's first call: records the areas and maps the KIP read-only. 0 or an error code. */
  initializeSpace(space: Space, kipArea: number, utcbArea: number): number {
    if (!this.pageTables.map(space.pageDirectory, fpageBase(kipArea), this.kipFrame, false)) return ErrorCode.NoMemory;
    space.kipArea = kipArea;
    space.utcbArea = utcbArea;
    space.initialized = true;
    return 0;
  }

  /** A new inactive thread, or null when kernel memory is out. */
  createThread(id: number, space: Space, utcbAddress: number, scheduler: number, timeslice: number): Thread | null {
    const tcb = this.kmem.allocate();
    if (tcb < 0) return null;
    const thread = new Thread(id, space, utcbAddress, tcb, scheduler, DEFAULT_PRIORITY, timeslice, this.nextSequence++);
    this.threads.set(thread.number, thread);
    space.threads.push(thread);
    return thread;
  }

  /**
   * Gives an inactive thread its UTCB and pager; it then waits for its start message. Returns 0
   * or an error code (UTCB area, no memory).
   */
  activate(thread: Thread, pager: number): number {
    const space = thread.space;
    const location = thread.utcbAddress;
    if (!fpageContains(space.utcbArea, location, UTCB_SIZE) || location % UTCB_SIZE !== 0) return ErrorCode.UtcbArea;
    if (space.threads.some((t) => t !== thread && t.alive && t.utcbPhysical >= 0 && t.utcbAddress === location)) return ErrorCode.UtcbArea;
    const page = (location & ~0xfff) >>> 0;
    let frame = space.utcbFrames.get(page);
    if (frame === undefined) {
      frame = this.kmem.allocate();
      if (frame < 0) return ErrorCode.NoMemory;
      if (!this.pageTables.map(space.pageDirectory, page, frame, true)) {
        this.kmem.free(frame);
        return ErrorCode.NoMemory;
      }
      space.utcbFrames.set(page, frame);
    }
    thread.utcbPhysical = frame + (location & 0xfff);
    this.hw.physical.fill(thread.utcbPhysical, UTCB_SIZE, 0);
    this.writeTcr(thread, TCR_MY_GLOBAL_ID, thread.id);
    this.writeTcr(thread, TCR_PAGER, pager);
    this.writeTcr(thread, TCR_EXCEPTION_HANDLER, NILTHREAD);
    thread.env = createProgramEnv(this.hw, this.text, thread, { batched: this.batchedAccesses });
    // Activated: it waits for the start message (IP, SP) from its pager.
    thread.awaitingStart = true;
    thread.state = ThreadState.Receiving;
    thread.receiveFrom = pager;
    thread.deadline = Infinity;
    return 0;
  }

  /** Starts (or restarts) a thread's program at `ip`. Returns false if no body starts there. */
  start(thread: Thread, ip: number, sp: number): boolean {
    thread.ip = ip >>> 0;
    thread.sp = sp >>> 0;
    const body = this.text.bodyAt(ip);
    thread.awaitingStart = false;
    thread.fault = null;
    if (!body || !thread.env) {
      this.halt(thread, `no program at ${hex32(ip)}`);
      return false;
    }
    thread.body = body;
    try {
      thread.program = body(thread.env);
    } catch (error) {
      this.halt(thread, `program at ${hex32(ip)} failed to start: ${describe(error)}`);
      return false;
    }
    thread.resume = undefined;
    this.makeReady(thread);
    return true;
  }

  /** Deletes a thread: aborts its IPC and its partners', frees its memory, and its space when empty. */
  deleteThread(thread: Thread): void {
    if (!thread.alive) return;
    this.unblock(thread);
    for (const sender of thread.senders.splice(0)) {
      sender.sendTo = null;
      completeIpc(this, sender, IpcError.NonExistingPartner, 0);
    }
    // Closed receives from this thread (by its global id, or by its local id within its space) can never complete.
    for (const other of this.threads.values()) {
      const from = other.receiveFrom;
      const named = from === thread.id || (other.space === thread.space && from === thread.utcbAddress);
      if (other.state === ThreadState.Receiving && !other.awaitingStart && named) {
        completeIpc(this, other, IpcError.NonExistingPartner, 1);
      }
    }
    this.removeReady(thread);
    thread.state = ThreadState.Dead;
    thread.program = null;
    this.threads.delete(thread.number);
    const space = thread.space;
    space.threads.splice(space.threads.indexOf(thread), 1);
    this.kmem.free(thread.tcbFrame);
    if (this.handoff === thread) this.handoff = null;
    if (this.lastRun === thread) this.lastRun = null;
    if (space.threads.length === 0) this.deleteSpace(space);
  }

  /** Deletes a space whose last thread is gone (or that never got one). */
  deleteThreadlessSpace(space: Space): void {
    this.deleteSpace(space);
  }

  private deleteSpace(space: Space): void {
    if (((this.hw.cpu.cr3 & ~0xfff) >>> 0) === space.pageDirectory) this.hw.cpu.cr3 = this.kernelDirectory;
    // Every mapping of the space, and everything derived from it in other spaces, goes.
    for (const node of this.mdb.removeSpace(space.id)) {
      if (node.space !== space.id) this.unmapNodePte(node);
    }
    this.releaseNodeFrames();
    for (const frame of space.utcbFrames.values()) this.kmem.free(frame);
    this.pageTables.destroyDirectory(space.pageDirectory);
    this.spaceMap.delete(space.id);
    if (this.rootSpace === space) this.rootSpace = null;
    if (this.sigma0Space === space) this.sigma0Space = null;
  }

  /** Stops a thread for good (until ExchangeRegisters resumes it), with a console report. */
  halt(thread: Thread, reason: string): void {
    if (!thread.halted) this.counters.threadsHalted++;
    thread.halted = true;
    this.removeReady(thread);
    this.hw.console.write(`kernel: thread ${formatId(thread.id)} halted: ${reason}\n`);
    this.emit('halt', thread, reason);
  }

  /** The thread with global id `id`, if alive and of that version. */
  threadById(id: number): Thread | undefined {
    const thread = this.threads.get(id >>> 14);
    return thread && thread.id === id >>> 0 ? thread : undefined;
  }

  /** The thread with local id `local` in `space`. */
  threadByLocalId(space: Space, local: number): Thread | undefined {
    for (const thread of space.threads) if (thread.utcbAddress === local >>> 0 && thread.utcbPhysical >= 0) return thread;
    return undefined;
  }

  /** Resolves a destination id (global or local) as seen from `from`'s space. */
  resolve(from: Thread, id: number): Thread | undefined {
    id >>>= 0;
    if (id === NILTHREAD || id === ANYTHREAD || id === ANYLOCALTHREAD) return undefined;
    if (id & 0x3f) return this.threadById(id);
    return this.threadByLocalId(from.space, id);
  }

  /** Is `thread` privileged (in the root server's or sigma0's space)? */
  privileged(thread: Thread): boolean {
    return thread.space === this.rootSpace || thread.space === this.sigma0Space;
  }

  // ---- UTCB access ---------------------------------------------------------------------------

  readMr(thread: Thread, i: number): number {
    return this.hw.physical.read32(thread.utcbPhysical + mrOffset(i));
  }
  writeMr(thread: Thread, i: number, value: number): void {
    this.hw.physical.write32(thread.utcbPhysical + mrOffset(i), value);
  }
  readBr(thread: Thread, i: number): number {
    return this.hw.physical.read32(thread.utcbPhysical + brOffset(i));
  }
  writeBr(thread: Thread, i: number, value: number): void {
    this.hw.physical.write32(thread.utcbPhysical + brOffset(i), value);
  }
  readTcr(thread: Thread, offset: number): number {
    return thread.utcbPhysical < 0 ? 0 : this.hw.physical.read32(thread.utcbPhysical + offset);
  }
  writeTcr(thread: Thread, offset: number, value: number): void {
    if (thread.utcbPhysical >= 0) this.hw.physical.write32(thread.utcbPhysical + offset, value);
  }
  /** Sets the caller's ErrorCode TCR (for the non-IPC system calls). */
  setError(thread: Thread, code: number): void {
    this.writeTcr(thread, TCR_ERROR_CODE, code);
  }

  // ---- Mapping database accounting -----------------------------------------------------------

  /** Makes room for `count` more mapping nodes from kernel memory. False: out of memory. */
  reserveNodes(count: number): boolean {
    while (this.mdb.size + count > this.nodeCapacity) {
      const frame = this.kmem.allocate();
      if (frame < 0) return false;
      this.nodeFrames.push(frame);
      this.nodeCapacity += NODES_PER_FRAME;
    }
    return true;
  }

  /** Gives back node frames no longer needed. */
  releaseNodeFrames(): void {
    while (this.nodeFrames.length > 0 && this.mdb.size <= this.nodeCapacity - NODES_PER_FRAME) {
      this.kmem.free(this.nodeFrames.pop()!);
      this.nodeCapacity -= NODES_PER_FRAME;
    }
  }

  /** Every live space, in creation order. */
  get spaces(): Space[] {
    return [...this.spaceMap.values()];
  }

  spaceById(id: number): Space | undefined {
    return this.spaceMap.get(id);
  }

  /**
   * The mapping nodes of `space` in [base, base + size), in address order for a small range
   * (looked up page by page) and in the database's order for a large one (a walk over the
   * space's nodes), whichever is cheaper.
   */
  mappingsIn(space: Space, base: number, size: number): MappingNode[] {
    const nodes: MappingNode[] = [];
    if (size / 4096 <= PAGE_WALK_PAGES) {
      for (let address = base; address < base + size; address += 4096) {
        const node = this.mdb.lookup(space.id, address);
        if (node) nodes.push(node);
      }
    } else {
      for (const node of this.mdb.nodesOf(space.id)) if (node.address >= base && node.address < base + size) nodes.push(node);
    }
    return nodes;
  }

  /** Clears the PTE of a mapping node (roots have none). */
  unmapNodePte(node: MappingNode): number {
    const space = this.spaceById(node.space);
    return space ? this.pageTables.unmap(space.pageDirectory, node.address) : 0;
  }

  /** Is `pa` a page sigma0 may hand out: inside RAM, conventional, shared or boot memory, not the kernel's? */
  isSigma0Memory(pa: number): boolean {
    if (pa >= this.hw.physical.size) return false;
    let type: number = MemoryType.Undefined;
    for (const d of this.memoryDescriptors) if (!d.virtual && pa >= d.low && pa < d.end) type = d.type;
    return (type === MemoryType.Conventional || type === MemoryType.Shared || type === MemoryType.Boot) && !this.kmem.contains(pa);
  }

  // ---- Scheduling ----------------------------------------------------------------------------

  makeReady(thread: Thread): void {
    thread.state = ThreadState.Ready;
    if (thread === this.current || !thread.runnable) return;
    const queue = this.readyQueues[thread.priority]!;
    if (queue.includes(thread)) return;
    queue.push(thread);
    this.readyBits[thread.priority >>> 5]! |= 1 << (thread.priority & 31);
  }

  removeReady(thread: Thread): void {
    const queue = this.readyQueues[thread.priority]!;
    const index = queue.indexOf(thread);
    if (index >= 0) {
      queue.splice(index, 1);
      if (queue.length === 0) this.readyBits[thread.priority >>> 5]! &= ~(1 << (thread.priority & 31));
    }
  }

  /** Moves a thread to another priority (Schedule). */
  setPriority(thread: Thread, priority: number): void {
    const queued = this.readyQueues[thread.priority]!.includes(thread);
    this.removeReady(thread);
    thread.priority = priority;
    if (queued) this.makeReady(thread);
  }

  private highestReady(): number {
    for (let word = 7; word >= 0; word--) {
      const bits = this.readyBits[word]!;
      if (bits) return word * 32 + 31 - Math.clz32(bits);
    }
    return -1;
  }

  private takeNext(): Thread | null {
    const handoff = this.handoff;
    this.handoff = null;
    const top = this.highestReady();
    if (handoff && handoff.runnable && handoff.priority >= top) {
      this.removeReady(handoff);
      return handoff;
    }
    if (top < 0) return null;
    const queue = this.readyQueues[top]!;
    const thread = queue.shift()!;
    if (queue.length === 0) this.readyBits[top >>> 5]! &= ~(1 << (top & 31));
    return thread;
  }

  /** Blocks a thread until `timeout` (X.2 16-bit relative form) passes; 0 = never. */
  setDeadline(thread: Thread, timeout: number): void {
    this.clearDeadline(thread);
    const us = timeoutMicroseconds(timeout);
    if (us === Infinity) return;
    thread.deadline = this.hw.cpu.cycles + this.usToCycles(us);
    let i = this.timeouts.length;
    while (i > 0 && later(this.timeouts[i - 1]!, thread)) i--;
    this.timeouts.splice(i, 0, thread);
  }

  clearDeadline(thread: Thread): void {
    if (thread.deadline !== Infinity) {
      const index = this.timeouts.indexOf(thread);
      if (index >= 0) this.timeouts.splice(index, 1);
      thread.deadline = Infinity;
    }
  }

  /** Takes a blocked thread out of whatever it waits in (queue, timeout); its state is left to the caller. */
  unblock(thread: Thread): void {
    this.clearDeadline(thread);
    if (thread.state === ThreadState.Sending && thread.sendTo) {
      const senders = thread.sendTo.senders;
      const index = senders.indexOf(thread);
      if (index >= 0) senders.splice(index, 1);
      thread.sendTo = null;
    }
  }

  private expireTimeouts(now: number): void {
    while (this.timeouts.length > 0 && this.timeouts[0]!.deadline <= now) {
      const thread = this.timeouts.shift()!;
      thread.deadline = Infinity;
      const phase = thread.state === ThreadState.Sending ? 0 : 1;
      this.unblock(thread);
      completeIpc(this, thread, IpcError.Timeout, phase);
    }
  }

  usToCycles(us: number): number {
    return Math.ceil((us * this.hw.profile.clockHz) / 1_000_000);
  }

  /** Microseconds since boot. */
  clockMicroseconds(): number {
    return Math.floor((this.hw.cpu.cycles * 1_000_000) / this.hw.profile.clockHz);
  }

  // ---- The run loop --------------------------------------------------------------------------

  /** Asks run() to return after the current trap. */
  stop(): void {
    this.stopRequested = true;
  }

  run(options: { maxCycles?: number } = {}): RunResult {
    const limit = options.maxCycles ?? Infinity;
    const cpu = this.hw.cpu;
    this.stopRequested = false;
    for (;;) {
      const now = cpu.cycles;
      if (this.exitStatus !== null) return { reason: 'shutdown', cycles: now, exitStatus: this.exitStatus };
      if (this.stopRequested) return { reason: 'stopped', cycles: now, exitStatus: null };
      if (now >= limit) return { reason: 'max-cycles', cycles: now, exitStatus: null };
      if (this.timeouts.length > 0) this.expireTimeouts(now);
      const thread = this.takeNext();
      if (!thread) {
        if (this.timeouts.length === 0) return { reason: 'idle', cycles: now, exitStatus: null };
        // Idle until the next timeout (or the cycle limit).
        const until = Math.min(this.timeouts[0]!.deadline, limit);
        if (until > now) {
          cpu.charge(until - now);
          this.counters.idleCycles += until - now;
        }
        continue;
      }
      this.dispatch(thread, limit);
    }
  }

  private dispatch(thread: Thread, limit: number): void {
    const cpu = this.hw.cpu;
    if (this.lastRun !== thread) {
      this.counters.contextSwitches++;
      cpu.charge(this.costs.contextSwitch);
      if (this.trace) this.emit('switch', thread, `to ${formatId(thread.id)}`);
    }
    if (((cpu.cr3 & ~0xfff) >>> 0) !== thread.space.pageDirectory) cpu.cr3 = thread.space.pageDirectory;
    this.current = thread;
    this.lastRun = thread;
    const start = cpu.cycles;
    this.hw.timer.arm(Math.min(start + Math.max(1, thread.remaining), limit));
    this.runThread(thread);
    this.hw.timer.disarm();
    this.current = null;
    const used = cpu.cycles - start;
    thread.cycles += used;
    thread.space.cycles += used;
    if (!thread.alive) return;
    thread.remaining -= used;
    if (thread.remaining <= 0) {
      thread.remaining = thread.timeslice;
      // Its slice is used up: the partner it woke waits its turn in the queue, so a pair of
      // threads handing the processor to each other cannot starve their priority level.
      this.handoff = null;
    }
    // Still runnable (preempted, yielded, or making way for a higher priority): back in the queue.
    if (thread.runnable) this.makeReady(thread);
  }

  /** Runs the thread's program until it blocks, is preempted, or stops. */
  private runThread(thread: Thread): void {
    const cpu = this.hw.cpu;
    const timer = this.hw.timer;
    for (;;) {
      const program = thread.program;
      if (!program || !thread.runnable || this.current !== thread) return;
      let done: boolean | undefined;
      let trap: unknown;
      try {
        const resume = thread.resume;
        thread.resume = undefined;
        const step = program.next(resume);
        // Read inside the try as well: a body that is not a generator function (any function
        // can be given a code address) may answer with a result whose getters throw.
        done = step.done;
        trap = step.value;
      } catch (error) {
        this.halt(thread, `program raised ${describe(error)}`);
        return;
      }
      if (done) {
        // The body returned: the thread stops, quietly (it may still be deleted or restarted).
        thread.program = null;
        thread.halted = true;
        this.emit('halt', thread, 'program returned');
        return;
      }
      switch (trap) {
        case TRAP_SYSCALL:
          this.counters.syscalls++;
          handleSyscall(this, thread);
          if (this.handoff || this.stopRequested || this.yielding) {
            this.yielding = false;
            return;
          }
          // A higher-priority thread made ready by this call runs first.
          if (this.highestReady() > thread.priority) return;
          break;
        case TRAP_FAULT:
          this.pageFault(thread);
          return;
        case TRAP_PREEMPT:
          if (timer.due(cpu.cycles)) {
            this.timerInterrupt(thread);
            return;
          }
          break;
        case TRAP_PRINT:
          this.hw.console.write(thread.trapText);
          break;
        case TRAP_SHUTDOWN:
          if (!this.privileged(thread)) {
            this.halt(thread, 'shutdown refused: not a privileged thread');
            return;
          }
          this.exitStatus = thread.trapNumber;
          return;
        default:
          this.halt(thread, 'program yielded outside the environment');
          return;
      }
    }
  }

  /** The time-slice interrupt: entry and IRET are charged, the thread's slice is used up. */
  private timerInterrupt(thread: Thread): void {
    this.counters.timerInterrupts++;
    this.counters.exceptions++;
    this.hw.timer.interrupts++;
    this.hw.cpu.charge(this.hw.profile.costs.exceptionEntry + this.hw.profile.costs.exceptionReturn);
    thread.remaining = 0;
  }

  /** A page fault: resolved by the kernel for sigma0, else turned into IPC to the pager. */
  private pageFault(thread: Thread): void {
    const cpu = this.hw.cpu;
    const profile = this.hw.profile.costs;
    const address = thread.faultAddress;
    const error = thread.faultErrorCode;
    this.counters.pageFaults++;
    this.counters.exceptions++;
    cpu.charge(profile.exceptionEntry + this.costs.faultPath);
    const kind = error & 2 ? 'write' : 'read';
    if (this.trace) this.emit('fault', thread, `${kind} at ${hex32(address)} error ${error}`);
    if (address >= USER_TOP) {
      this.halt(thread, `${kind} of kernel memory at ${hex32(address)} (error code ${error})`);
      return;
    }
    if (thread.space === this.sigma0Space) {
      // sigma0's space is physical memory: its faults are served 1:1 by the kernel.
      const page = (address & ~0xfff) >>> 0;
      if (!this.isSigma0Memory(page) || !this.mapSigma0Page(page)) {
        this.halt(thread, `${kind} at ${hex32(address)}: no memory there for sigma0`);
        return;
      }
      cpu.charge(profile.exceptionReturn);
      return;
    }
    const pager = this.readTcr(thread, TCR_PAGER);
    if (pager === NILTHREAD) {
      this.halt(thread, `${kind} page fault at ${hex32(address)} with no pager`);
      return;
    }
    // The thread's fault record is reused: a fault allocates nothing.
    const fault = thread.faultRecord;
    fault.address = address;
    fault.kind = error & 2 ? 1 : 0;
    fault.saved[0] = this.readMr(thread, 0);
    fault.saved[1] = this.readMr(thread, 1);
    fault.saved[2] = this.readMr(thread, 2);
    fault.saved[3] = this.readBr(thread, 0);
    thread.fault = fault;
    const rwx = error & 2 ? 2 : 4;
    this.writeMr(thread, 0, (((Label.PageFault | rwx) << 16) | 2) >>> 0);
    this.writeMr(thread, 1, address);
    this.writeMr(thread, 2, thread.ip);
    this.writeBr(thread, 0, COMPLETE_ACCEPTOR);
    ipcCall(this, thread, pager);
  }

  /** sigma0's own mapping of a physical page, 1:1. False when kernel memory is out. */
  mapSigma0Page(page: number): boolean {
    const space = this.sigma0Space!;
    const existing = this.mdb.lookup(space.id, page);
    if (existing) return true;
    if (!this.reserveNodes(2)) return false;
    const node = this.mdb.map(this.mdb.root(page, 12), space.id, page, 12, 7);
    if (!node) return false;
    if (!this.pageTables.map(space.pageDirectory, page, page, true)) {
      this.mdb.remove(node);
      return false;
    }
    return true;
  }

  /** Called by IPC when a thread's page-fault IPC ended: restore its registers, retry or halt. */
  faultDone(thread: Thread, error: number): void {
    const fault = thread.fault!;
    thread.fault = null;
    this.writeMr(thread, 0, fault.saved[0]!);
    this.writeMr(thread, 1, fault.saved[1]!);
    this.writeMr(thread, 2, fault.saved[2]!);
    this.writeBr(thread, 0, fault.saved[3]!);
    if (error !== 0 && error !== IpcError.Canceled) {
      this.halt(thread, `page fault at ${hex32(fault.address)}: IPC to the pager failed (error ${error})`);
      return;
    }
    this.hw.cpu.charge(this.hw.profile.costs.exceptionReturn);
    // The access is retried when the thread runs again.
  }

  // ---- Tracing and checks --------------------------------------------------------------------

  emit(kind: TraceKind, thread: Thread, text: string): void {
    if (this.trace) this.trace({ cycle: this.hw.cpu.cycles, kind, thread: thread.id, text });
  }

  /**
   * Consistency of page tables and the mapping database: every present user PTE is the KIP, a
   * UTCB page, or a mapping node with the same frame and no more rights; no node maps kernel
   * memory; the database's own check. Returns the problems found (empty when all is well).
   */
  checkInvariants(): string[] {
    const problems = this.mdb.check();
    for (const space of this.spaceMap.values()) {
      for (const [linear, pte] of this.pageTables.userEntries(space.pageDirectory)) {
        const frame = (pte & ~0xfff) >>> 0;
        const writable = (pte & 2) !== 0;
        if (space.initialized && linear === fpageBase(space.kipArea)) {
          if (frame !== this.kipFrame || writable) problems.push(`space ${space.id}: bad KIP mapping at ${hex32(linear)}`);
          continue;
        }
        const utcb = space.utcbFrames.get(linear);
        if (utcb !== undefined) {
          if (frame !== utcb) problems.push(`space ${space.id}: bad UTCB mapping at ${hex32(linear)}`);
          continue;
        }
        const node = this.mdb.lookup(space.id, linear);
        if (!node) problems.push(`space ${space.id}: PTE at ${hex32(linear)} has no mapping node`);
        else if (node.frame !== frame) problems.push(`space ${space.id}: PTE at ${hex32(linear)} maps ${hex32(frame)}, node says ${hex32(node.frame)}`);
        else if (writable && !(node.rights & 2)) problems.push(`space ${space.id}: PTE at ${hex32(linear)} writable without W`);
        if (this.kmem.contains(frame)) problems.push(`space ${space.id}: user mapping of kernel memory ${hex32(frame)} at ${hex32(linear)}`);
      }
      for (const node of this.mdb.nodesOf(space.id)) {
        const pte = this.pageTables.entry(space.pageDirectory, node.address);
        if (!(pte & 1)) problems.push(`space ${space.id}: node at ${hex32(node.address)} has no PTE`);
      }
    }
    return problems;
  }
}

// ---- Helpers ----------------------------------------------------------------------------------

function later(a: Thread, b: Thread): boolean {
  return a.deadline > b.deadline || (a.deadline === b.deadline && a.sequence > b.sequence);
}

export function formatId(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}

function describe(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
    return String(error);
  } catch {
    // A program threw a value that cannot be turned into text (its toString throws).
    return 'an exception that cannot be shown';
  }
}

