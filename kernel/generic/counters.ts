// The kernel's event counters: what a user may ask the kernel how often it did. One object,
// shared by every part of the kernel that counts, read by `l4hurd boot --json`, the debugger and
// the tests. (The machine's own counters, accesses, TLB hits and misses, walks, cycles, are the
// MMU's: emulator/mmu.ts.)

export interface KernelCounters {
  /** System calls entered (every trap of kind system call). */
  syscalls: number;
  /** Messages transferred (an IPC that failed before its transfer is not one). */
  ipcs: number;
  /** IPC operations that ended with an error code (either phase). */
  ipcErrors: number;
  /** Times another thread than the one before ran. */
  contextSwitches: number;
  /** Page faults taken (from programs' accesses). */
  pageFaults: number;
  /** CPU exceptions entered: page faults, timer interrupts and the exceptions of program threads. */
  exceptions: number;
  /** Exceptions reported to an exception handler by exception IPC. */
  exceptionIpcs: number;
  /** Device interrupts taken and delivered to their handlers as interrupt IPC. */
  interrupts: number;
  /** Logical strings copied (begun) by string items. */
  stringItems: number;
  /** Bytes copied by string items. */
  stringBytes: number;
  /** Page faults in string buffers during transfers (sent to a pager, or ending the transfer). */
  stringFaults: number;
  /** Map and grant items cut short because kernel memory ran out (page tables, mapping nodes). */
  mapNoMemory: number;
  /** Time-slice interrupts taken (the end of a slice or the cycle limit). */
  timerInterrupts: number;
  /** Pages mapped by map items, 4 KiB or 4 MiB, one each (not sigma0's own pages, which the kernel maps on its faults). */
  pagesMapped: number;
  /** Pages moved by grant items, 4 KiB or 4 MiB, one each. */
  pagesGranted: number;
  /** 4 MiB mappings made: by map and grant items, and sigma0's own (CPU with PSE). */
  largeMappings: number;
  /** 4 MiB mappings split into 1,024 4 KiB ones because a part of one was to change. */
  largeSplits: number;
  /** Mapping nodes removed by Unmap. */
  nodesUnmapped: number;
  /** Threads the kernel halted with a console report. */
  threadsHalted: number;
  /** Cycles spent with nothing to run. */
  idleCycles: number;
}

export function newKernelCounters(): KernelCounters {
  return {
    syscalls: 0,
    ipcs: 0,
    ipcErrors: 0,
    contextSwitches: 0,
    pageFaults: 0,
    exceptions: 0,
    exceptionIpcs: 0,
    interrupts: 0,
    stringItems: 0,
    stringBytes: 0,
    stringFaults: 0,
    mapNoMemory: 0,
    timerInterrupts: 0,
    pagesMapped: 0,
    pagesGranted: 0,
    largeMappings: 0,
    largeSplits: 0,
    nodesUnmapped: 0,
    threadsHalted: 0,
    idleCycles: 0,
  };
}
