// The kernel: builds its parts on the machine, boots sigma0 and the root task, and runs.
//
// The kernel is privileged TypeScript that owns the machine through the hardware interface. It
// runs the current program thread until the thread traps (a system call, a page fault, the end of
// its time slice), handles the trap, and picks the next thread. Nothing runs concurrently and
// nothing depends on host time, so a run is a pure function of the programs and the options.
//
// The parts, in three layers as in L4Ka::Pistachio (kernel/README.md):
//   api/      the X.2 semantics: IPC and message transfer, page faults, the system calls, the
//             life of threads and spaces, the run loop
//   generic/  data structures: TCBs and spaces, the thread table, ready queues, timeouts, the
//             mapping database, kernel memory, the clock, counters and trace events
//   ia32/     the IA-32 binding: page tables, the KIP, UTCBs, trap entry and the program
//             environment, program text, the cycle costs of the kernel's paths
// This file only wires them together: each part gets the few others it uses.

import { CR0_PE, CR0_PG, CR0_WP, hex32, type HardwareInterface } from '../emulator/hardware.ts';
import { ExceptionNumber, NILTHREAD, SYSCALL_NAMES, UTCB_LOCATION_NOT_SET, type ProgramBody } from '../libl4/abi.ts';
import { AddressSpaces } from './api/address-spaces.ts';
import { Dispatcher, type RunResult } from './api/dispatch.ts';
import { Exceptions, ResumeKind } from './api/exceptions.ts';
import { Interrupts } from './api/interrupts.ts';
import { Ipc } from './api/ipc.ts';
import { MapItems } from './api/map-items.ts';
import { PageFaults } from './api/page-faults.ts';
import type { SystemCallParts } from './api/syscalls.ts';
import { ThreadLifecycle } from './api/threads.ts';
import { StringTransfers } from './api/string-transfer.ts';
import { MessageTransfer } from './api/transfer.ts';
import { Clock } from './generic/clock.ts';
import { newKernelCounters, type KernelCounters } from './generic/counters.ts';
import { KernelMemory } from './generic/kernel-memory.ts';
import { MappingDatabase } from './generic/mapping-database.ts';
import { Scheduler } from './generic/scheduler.ts';
import { ThreadTable } from './generic/thread-table.ts';
import { ThreadState, type Space, type Thread } from './generic/thread.ts';
import { Timeouts } from './generic/timeouts.ts';
import { Tracer, type TraceEvent } from './generic/trace.ts';
import { kernelCosts, type KernelCosts } from './ia32/costs.ts';
import { KIP_AREA_LOG2, MemoryType, ROOT_THREAD, SIGMA0_THREAD, writeKip, type MemoryDescriptor } from './ia32/kip.ts';
import { CopyArea } from './ia32/copy-area.ts';
import { PageTables } from './ia32/page-table.ts';
import { ProgramText } from './ia32/text.ts';
import { Utcbs } from './ia32/utcb.ts';

export { DEFAULT_PRIORITY } from './api/threads.ts';
export type { RunResult } from './api/dispatch.ts';
export type { KernelCounters } from './generic/counters.ts';
export { formatId, type TraceEvent, type TraceKind } from './generic/trace.ts';

/** Default time slice: 10 ms, as in L4Ka::Pistachio. */
export const DEFAULT_TIMESLICE_US = 10_000;
/** Where the root servers' KIP and UTCB areas go (reference/l4-x2.md). */
export const ROOT_KIP_AREA = 0xbff00000;
export const ROOT_UTCB_AREA = 0xbf000000;
const ROOT_UTCB_AREA_LOG2 = 16;

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
   * Told of every step of a program thread before it runs (each resumption of its generator),
   * with the thread's global id: the debugger's stop points between trace events. Observes only.
   */
  readonly programStep?: (thread: number) => void;
  /**
   * Programs' bulk operations translate a page at a time (default), counted exactly as access by
   * access; false makes them translate access by access (the reference for determinism tests).
   */
  readonly batchedAccesses?: boolean;
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
  readonly counters: KernelCounters = newKernelCounters();
  /** System calls by number. */
  readonly syscallCounts: number[] = SYSCALL_NAMES.map(() => 0);

  /** Every thread by thread number. */
  readonly threads = new ThreadTable();

  private readonly clock: Clock;
  private readonly spaceTable: AddressSpaces;
  private readonly lifecycle: ThreadLifecycle;
  private readonly dispatcher: Dispatcher;

  constructor(hw: HardwareInterface, config: KernelConfig) {
    this.hw = hw;
    this.costs = kernelCosts(hw.profile);
    const tracer = new Tracer(config.trace ?? null, hw.cpu, config.programStep ?? null);
    const region = config.kernelMemory ?? { base: 0x100000, size: 8 * 1024 * 1024 };
    this.kmem = new KernelMemory(hw.physical, region.base, region.size);
    this.pageTables = new PageTables(hw, this.kmem, region.base + region.size);
    this.mdb = new MappingDatabase();
    this.clock = new Clock(hw.cpu, hw.profile.clockHz);

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

    // The parts, each given what it uses. IPC ends a fault or a start message through the page
    // faults and the thread life cycle, which are built after it: it calls them through these.
    const utcbs = new Utcbs(hw.physical);
    const scheduler = new Scheduler();
    const timeouts = new Timeouts();
    const counters = this.counters;
    const spaces = new AddressSpaces(hw, {
      kmem: this.kmem,
      pageTables: this.pageTables,
      mdb: this.mdb,
      kipFrame: kip,
      kernelDirectory: directory,
      memoryDescriptors: this.memoryDescriptors,
    });
    this.spaceTable = spaces;
    const mapItems = new MapItems(spaces, hw.cpu, hw.physical.size, this.costs, counters, tracer);
    let faults: PageFaults | null = null;
    let ipc: Ipc | null = null;
    const strings = new StringTransfers({
      hw,
      costs: this.costs,
      counters,
      clock: this.clock,
      scheduler,
      utcbs,
      spaces,
      mapItems,
      copyArea: new CopyArea(hw, region.base + region.size),
      askPager: (thread, address, write) => faults!.transferFault(thread, address, write),
      finish: (t, senderError, receiverError) => ipc!.finishTransfer(t, senderError, receiverError),
    });
    const transfer = new MessageTransfer(utcbs, hw.cpu, this.costs, mapItems, strings);
    let exceptions: Exceptions | null = null;
    let interrupts: Interrupts | null = null;
    let lifecycle: ThreadLifecycle | null = null;
    ipc = new Ipc({
      threads: this.threads,
      scheduler,
      timeouts,
      clock: this.clock,
      utcbs,
      transfer,
      counters,
      tracer,
      completions: {
        faultDone: (thread, error) => faults!.faultDone(thread, error),
        exceptionDone: (thread, error) => exceptions!.exceptionDone(thread, error),
        interruptDone: (thread, error) => interrupts!.done(thread, error),
        start: (thread, ip, sp) => void lifecycle!.start(thread, ip, sp),
      },
    });
    lifecycle = new ThreadLifecycle({ hw, kmem: this.kmem, threads: this.threads, spaces, utcbs, scheduler, ipc, strings, text: this.text, counters, tracer, batchedAccesses: config.batchedAccesses !== false });
    this.lifecycle = lifecycle;
    const halt = lifecycle.halt.bind(lifecycle);
    const transferFaultDone = (thread: Thread, error: number): void => strings.faultDone(thread, error);
    const unservable = (thread: Thread, reason: string, errorCode: number): void => exceptions!.raise(thread, ExceptionNumber.PageFault, 0, ResumeKind.Continue, reason, errorCode);
    faults = new PageFaults({ hw, costs: this.costs, counters, tracer, spaces, utcbs, ipc, halt, transferFaultDone, unservable });
    const start = (thread: Thread, ip: number, sp: number): void => void lifecycle!.start(thread, ip, sp);
    exceptions = new Exceptions({ hw, costs: this.costs, counters, tracer, utcbs, ipc, halt, start });
    const createThread = (id: number, space: Space, scheduler: number): Thread | null => lifecycle!.create(id, space, UTCB_LOCATION_NOT_SET, scheduler, 0);
    interrupts = new Interrupts({ hw, costs: this.costs, counters, tracer, threads: this.threads, ipc, createThread, kernelDirectory: directory });
    const syscalls: SystemCallParts = {
      hw,
      cpu: hw.cpu,
      costs: this.costs,
      clock: this.clock,
      tracer,
      counters,
      threads: this.threads,
      spaces,
      lifecycle,
      utcbs,
      ipc,
      exceptions,
      interrupts,
      strings,
      scheduler,
      syscallCounts: this.syscallCounts,
    };
    this.dispatcher = new Dispatcher({ hw, costs: this.costs, counters, tracer, scheduler, timeouts, spaces, ipc, faults, exceptions, interrupts, strings, lifecycle, syscalls });

    // Paging on, in the kernel's own directory.
    hw.cpu.cr4 = this.pageTables.cr4;
    hw.cpu.cr3 = directory;
    hw.cpu.cr0 = CR0_PE | CR0_PG | CR0_WP;

    const timeslice = this.clock.usToCycles(config.timesliceUs ?? DEFAULT_TIMESLICE_US);
    if (config.sigma0) {
      const sigma0 = this.createRootServer(SIGMA0_THREAD, config.sigma0, NILTHREAD, timeslice);
      spaces.sigma0Space = sigma0.space;
    }
    const pager = spaces.sigma0Space ? (SIGMA0_THREAD << 14) | 1 : NILTHREAD;
    spaces.rootSpace = this.createRootServer(ROOT_THREAD, config.root, pager, timeslice).space;
  }

  /** A root server's thread in a space of its own, with the root servers' KIP and UTCB areas, started. */
  private createRootServer(number: number, body: ProgramBody, pager: number, timeslice: number): Thread {
    const id = (number << 14) | 1;
    const space = this.spaceTable.create();
    if (!space) throw new RangeError('kernel memory too small to boot');
    this.spaceTable.initialize(space, (ROOT_KIP_AREA | (KIP_AREA_LOG2 << 4)) >>> 0, (ROOT_UTCB_AREA | (ROOT_UTCB_AREA_LOG2 << 4)) >>> 0);
    const thread = this.lifecycle.create(id, space, ROOT_UTCB_AREA, id, timeslice);
    if (!thread || this.lifecycle.activate(thread, pager) !== 0) throw new RangeError('kernel memory too small to boot');
    this.lifecycle.start(thread, this.text.codeAddress(body), 0);
    return thread;
  }

  // ---- Running ---------------------------------------------------------------------------------

  run(options: { maxCycles?: number } = {}): RunResult {
    return this.dispatcher.run(options);
  }

  /** Asks run() to return after the current trap. */
  stop(): void {
    this.dispatcher.stop();
  }

  /** The status a privileged thread shut the machine down with (null until then). */
  get exitStatus(): number | null {
    return this.dispatcher.exitStatus;
  }

  // ---- What tools, the debugger and tests look at ---------------------------------------------

  /** The thread with global id `id`, if alive and of that version. */
  threadById(id: number): Thread | undefined {
    return this.threads.byId(id);
  }

  /** Every live space, in creation order. */
  get spaces(): Space[] {
    return this.spaceTable.all;
  }

  spaceById(id: number): Space | undefined {
    return this.spaceTable.spaceById(id);
  }

  get sigma0Space(): Space | null {
    return this.spaceTable.sigma0Space;
  }

  get rootSpace(): Space | null {
    return this.spaceTable.rootSpace;
  }

  /**
   * What every thread is doing, a line each in thread-number order: waiting in an IPC (for
   * whom), in a page fault or exception IPC (to whom), ready, or halted. For the console when a
   * run ends without a shutdown, and for the debugger.
   */
  threadReport(): string[] {
    const name = (id: number): string => (id === 0xffffffff ? 'any thread' : id & 0x3f ? `${id >>> 14}.${id & 0x3fff}` : `local ${hex32(id)}`);
    return [...this.threads.values()]
      .sort((a, b) => a.number - b.number)
      .map((t) => {
        const id = name(t.id);
        if (t.halted) return `${id}: halted`;
        if (t.fault) return `${id}: page fault at ${hex32(t.fault.address)}, waiting for its pager ${name(t.sendTo?.id ?? t.receiveFrom)}`;
        if (t.exception) return `${id}: exception ${t.exception.number}, waiting for its handler ${name(t.sendTo?.id ?? t.receiveFrom)}`;
        if (t.awaitingStart) return `${id}: not started (waiting for its pager ${name(t.receiveFrom)})`;
        if (t.state === ThreadState.Sending) return `${id}: sending to ${name(t.sendTo?.id ?? 0)}`;
        if (t.state === ThreadState.Receiving) return `${id}: receiving from ${name(t.receiveFrom)}`;
        if (t.state === ThreadState.Locked) return `${id}: in a string transfer`;
        if (t.state === ThreadState.Inactive) return `${id}: inactive`;
        return `${id}: ready`;
      });
  }

  /** Microseconds since boot. */
  clockMicroseconds(): number {
    return this.clock.microseconds();
  }

  /**
   * Consistency of page tables and the mapping database: every present user PTE is the KIP, a
   * UTCB page, or a mapping node with the same frame and no more rights; no node maps kernel
   * memory; the database's own check. Returns the problems found (empty when all is well).
   */
  checkInvariants(): string[] {
    return this.spaceTable.checkInvariants();
  }
}
