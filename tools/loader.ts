// The boot loader (laden's job): validates an image, places its modules in physical memory like
// a multiboot loader, writes the boot information, builds the KIP's memory descriptors, evaluates
// the kernel and program bundles each in a context of its own, and starts the kernel on the
// machine through the hardware interface.
//
// Physical layout: the kernel's reserved region at 1 MiB (8 MiB, or a quarter of a smaller
// RAM, or 1/32 of a RAM over 256 MiB), then each module's payload on a 4 KiB boundary, then the
// boot information on a 16 KiB boundary. The KIP describes RAM as conventional, the kernel
// region as reserved, and the modules and boot information as boot-loader memory (type 0xE),
// which sigma0 hands out by exact address only.
//
// A disk: the machine gets a disk controller (emulator/disk.ts) when the boot is given one (the
// CLI's --disk FILE) or the image has a data module named `disk`, whose bytes are then the disk's
// (a copy: the image is never written) and which is not loaded into RAM, as a boot loader does not
// load a disk. The KIP marks the controller's register page as dedicated memory (type 3), which
// sigma0 hands out by exact address only (the root task takes it and gives it to the driver).
//
// Trust model: module code runs in a guest context (tools/guest-context.ts): a node:vm context
// created empty, with string code generation and WebAssembly off, no promises, wall clock or
// host globals, and instrumented with the step budget (tools/instrument.ts), so a loop that never
// calls its environment is stopped deterministically. It reaches the outside only through the
// objects the kernel hands it (the program environment). A vm context stops accidents and casual
// escapes; it is not a hardened sandbox: code that walks from a host object's constructor to the
// host's Function gets out. Images are meant to be built from code one trusts.

import { TextDecoder, TextEncoder } from 'node:util';
import { DISK_REGISTERS, DISK_REGISTERS_SIZE, MemoryDisk, SECTOR_BYTES, type DiskBacking } from '../emulator/disk.ts';
import { Machine } from '../emulator/machine.ts';
import { hex32 } from '../emulator/paging.ts';
import type { Kernel, KernelConfig, RunResult, TraceEvent } from '../kernel/kernel.ts';
import type { ProgramBody } from '../libl4/abi.ts';
import { evaluateGuestModule } from './guest-context.ts';
import { InstrumentError } from './instrument.ts';
import { INTROSPECTION_KEY } from '../libhurd-mm/introspect.ts';
import { COMMAND_LINE_BYTES, ModuleKind, NAME_BYTES, parseImage, type ParsedModule } from './image.ts';

export const BOOT_INFO_MAGIC = 0x544f4f42;
const BOOT_ENTRY_SIZE = 128;
const KERNEL_BASE = 0x100000;
const MEMORY_TYPE_BOOT = 0xe;
const MEMORY_TYPE_DEDICATED = 3;
/** The data module that is the machine's disk when the boot is given none. */
export const DISK_MODULE = 'disk';
export const MIN_RAM = 8 * 1024 * 1024;
/** The cycle limit when none is given: 10^10 cycles, 13.6 s of emulated time on the p3. */
export const DEFAULT_MAX_CYCLES = 1e10;

/**
 * The kernel failed while it ran: a host exception in the kernel's own code (a kernel bug, or the
 * kernel module of an image built elsewhere), not anything a program did.
 */
export class KernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelError';
  }
}

/** The image cannot be booted on this machine: the message names why, in one line. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

export interface BootOptions {
  readonly ramBytes?: number;
  readonly profile?: string;
  readonly maxCycles?: number;
  readonly checkStale?: boolean;
  /** Receives console output as it is written (the CLI passes stdout). */
  readonly console?: (text: string) => void;
  readonly trace?: (event: TraceEvent) => void;
  /**
   * Called once the kernel exists, before anything runs, with what the result will carry: for
   * tests and tools that watch the machine during the run (from a trace callback, say).
   */
  readonly onStart?: (booted: { readonly machine: Machine; readonly kernel: Kernel; readonly introspect: (module: string) => unknown }) => void;
  /** Steps a module may run while the clock stands still (tools/guest-context.ts; default STALL_STEPS). */
  readonly stallSteps?: number;
  /** The machine's disk (it overrides the image's `disk` data module). */
  readonly disk?: DiskBacking;
  /** Told of every step of a program thread before it runs (KernelConfig.programStep): the debugger's. */
  readonly programStep?: (thread: number) => void;
  /** RAM that reports accesses to watched ranges (emulator/watched-memory.ts): the debugger's. */
  readonly watchable?: boolean;
}

/** A module as the loader placed it. */
export interface LoadedModule {
  readonly name: string;
  readonly kind: ParsedModule['kind'];
  readonly base: number;
  readonly length: number;
  readonly commandLine: string;
  /** The code address of a program module's body (0 for the others). */
  readonly codeAddress: number;
}

/** An image loaded and its kernel started, nothing run yet: `bootImage` is loadImage(...).run(). */
export interface LoadedImage {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly modules: readonly LoadedModule[];
  /** The boot information's physical address. */
  readonly bootInfo: number;
  /** BootResult's introspect. */
  readonly introspect: (module: string) => unknown;
  /** The code address of every module's body (kernel and data modules have none). */
  readonly bodyNames: ReadonlyMap<number, string>;
  /** Runs the machine to the end of its boot (once), with the reports bootImage makes. Throws as bootImage. */
  run(): BootResult;
}

/** The final counters, with the stable names `l4hurd boot --json` prints. */
export interface BootCounters {
  cycles: number;
  accesses: number;
  tlbHits: number;
  tlbMisses: number;
  pageWalks: number;
  pageFaults: number;
  ipcs: number;
  contextSwitches: number;
  exceptions: number;
  syscalls: number;
  /** The disk controller's (machines with a disk only). */
  diskCommands?: number;
  diskSectorsRead?: number;
  diskSectorsWritten?: number;
  diskErrors?: number;
  exitStatus: number;
}

export interface BootResult {
  readonly run: RunResult;
  /** What `l4hurd boot` exits with (see tools/README.md). */
  readonly exitStatus: number;
  readonly counters: BootCounters;
  readonly output: string;
  readonly machine: Machine;
  readonly kernel: Kernel;
  /**
   * What a module's `introspect` export returns now (physmem exports one: a snapshot of its
   * containers and frames), or else what a library linked into it published (libhurd-mm: its
   * pagers' regions and pages), or undefined when the module has neither. For the debugger and the
   * tests: it reads the server's state without running anything on the machine.
   */
  readonly introspect: (module: string) => unknown;
}

/** Exit statuses of a boot that did not end in a shutdown. */
export const EXIT_MAX_CYCLES = 3;
export const EXIT_IDLE = 4;
/** Threads the idle report lists at most. */
const IDLE_REPORT_LINES = 24;

interface Placed {
  readonly module: ParsedModule;
  readonly base: number;
}

/** Validates, loads and boots an image, and runs it to its end. Throws ImageError, LoadError or KernelError, or what a sink threw. */
export function bootImage(image: Uint8Array, options: BootOptions = {}): BootResult {
  return loadImage(image, options).run();
}

/** Validates and loads an image and starts its kernel, running nothing. Throws as bootImage. */
export function loadImage(image: Uint8Array, options: BootOptions = {}): LoadedImage {
  const all = parseImage(image);
  const diskModule = all.find((m) => m.kind === 'data' && m.name === DISK_MODULE);
  // The disk module is the disk's contents, not a module to load.
  const modules = diskModule ? all.filter((m) => m !== diskModule) : all;
  const disk = options.disk ?? (diskModule ? new MemoryDisk(diskModule.payload) : undefined);
  const ramBytes = options.ramBytes ?? 64 * 1024 * 1024;
  if (ramBytes < MIN_RAM) throw new LoadError(`${ramBytes} bytes of RAM is too little: at least ${MIN_RAM} are needed`);
  // 8 MiB, or a quarter of a smaller RAM; a RAM over 256 MiB gets 1/32 of it (its mapping
  // nodes and page tables grow with the frames a pager maps).
  const kernelSize = Math.min(Math.max(8 * 1024 * 1024, Math.floor(ramBytes / 32 / 4096) * 4096), Math.floor(ramBytes / 4 / 4096) * 4096);

  // Place the payloads after the kernel region, and the boot information after them.
  let next = KERNEL_BASE + kernelSize;
  const placed: Placed[] = modules.map((module) => {
    const base = next;
    next = align(base + module.payload.length, 4096);
    return { module, base };
  });
  const bootInfo = align(next, 16384);
  const bootInfoEnd = bootInfo + align(16 + modules.length * BOOT_ENTRY_SIZE, 4096);
  if (bootInfoEnd > ramBytes) {
    throw new LoadError(`the image's modules need RAM up to ${bootInfoEnd} bytes, the machine has ${ramBytes} (use --ram)`);
  }
  if (disk && ramBytes > DISK_REGISTERS) throw new LoadError(`with a disk the RAM may reach ${mib(DISK_REGISTERS)} at most (the disk's registers are at ${hex32(DISK_REGISTERS)}), not ${mib(ramBytes)}`);

  // The console and trace sinks are the caller's (the CLI writes them to standard output): an
  // exception from one ends the boot and reaches the caller as it was thrown, never as a kernel
  // failure, whatever kernel code was running when it was raised.
  let sinkFailure: { readonly error: unknown } | null = null;
  const guarded = <T,>(sink: ((value: T) => void) | undefined): ((value: T) => void) | undefined =>
    sink &&
    ((value: T) => {
      if (sinkFailure) throw sinkFailure.error;
      try {
        sink(value);
      } catch (error) {
        sinkFailure = { error };
        throw error;
      }
    });
  const rethrowSinkFailure = (): void => {
    if (sinkFailure) throw sinkFailure.error;
  };
  const machine = new Machine({ ramBytes, profile: options.profile, checkStale: options.checkStale, consoleSink: guarded(options.console), disk, watchable: options.watchable });
  const log = (line: string): void => machine.console.write(`laden: ${line}\n`);
  log(`${modules.length} modules, RAM ${mib(ramBytes)}, CPU ${machine.profile.name}`);
  log(`kernel memory ${hex32(KERNEL_BASE)}-${hex32(KERNEL_BASE + kernelSize)} (reserved)`);
  for (const { module, base } of placed) {
    machine.physical.writeBytes(base, module.payload);
    log(`${module.kind.padEnd(7)} ${module.name.padEnd(12)} ${hex32(base)}-${hex32(base + module.payload.length)}${module.commandLine ? `  ${module.commandLine}` : ''}`);
  }
  log(`boot information at ${hex32(bootInfo)}`);
  if (disk) {
    const bytes = disk.sectors * SECTOR_BYTES;
    log(`disk ${disk.sectors} sectors (${bytes >= 1024 * 1024 ? mib(bytes) : `${bytes / 1024} KiB`})${options.disk ? '' : ` from the image's ${DISK_MODULE} module`}, registers ${hex32(DISK_REGISTERS)} (dedicated), interrupt ${machine.disk!.line}, ${machine.disk!.model.name}`);
  }

  // Evaluate every bundle, each in its own empty context.
  const exportsOf = new Map<ParsedModule, Evaluated>();
  for (const { module } of placed) if (module.kind !== 'data') exportsOf.set(module, evaluateBundle(module, machine, options.stallSteps));
  const bodyOf = (module: ParsedModule): ProgramBody => {
    const body = exportsOf.get(module)!.default;
    if (typeof body !== 'function') throw new LoadError(`module ${module.name}: its bundle has no default export to run`);
    return body as ProgramBody;
  };
  const kernelModule = modules.find((m) => m.kind === 'kernel')!;
  const KernelClass = exportsOf.get(kernelModule)!.Kernel;
  if (typeof KernelClass !== 'function') throw new LoadError(`module ${kernelModule.name}: not a kernel (no Kernel export)`);
  const programs = modules.filter((m) => m.kind === 'program');
  const memoryDescriptors = [
    ...placed.map(({ module, base }) => ({ type: MEMORY_TYPE_BOOT, low: base, end: base + Math.max(4096, align(module.payload.length, 4096)) })),
    { type: MEMORY_TYPE_BOOT, low: bootInfo, end: bootInfoEnd },
    ...(disk ? [{ type: MEMORY_TYPE_DEDICATED, low: DISK_REGISTERS, end: DISK_REGISTERS + DISK_REGISTERS_SIZE }] : []),
  ];
  const config: KernelConfig = {
    root: bodyOf(modules.find((m) => m.kind === 'root')!),
    sigma0: bodyOf(modules.find((m) => m.kind === 'sigma0')!),
    kernelMemory: { base: KERNEL_BASE, size: kernelSize },
    memoryDescriptors,
    bootInfo,
    programs: programs.map(bodyOf),
    trace: guarded(options.trace),
    programStep: guarded(options.programStep),
  };
  let kernel: Kernel;
  try {
    kernel = new (KernelClass as new (hw: Machine, config: KernelConfig) => Kernel)(machine, config);
  } catch (error) {
    rethrowSinkFailure();
    throw new LoadError(`the kernel did not start: ${describe(error)}`);
  }

  // Boot information: the module table with physical places and the programs' entry points.
  const write32 = (at: number, value: number): void => machine.physical.write32(at, value >>> 0);
  write32(bootInfo, BOOT_INFO_MAGIC);
  write32(bootInfo + 4, 1);
  write32(bootInfo + 8, modules.length);
  write32(bootInfo + 12, BOOT_ENTRY_SIZE);
  placed.forEach(({ module, base }, i) => {
    const entry = bootInfo + 16 + i * BOOT_ENTRY_SIZE;
    machine.physical.writeBytes(entry, new TextEncoder().encode(module.name).subarray(0, NAME_BYTES - 1));
    write32(entry + 32, ModuleKind[module.kind]);
    write32(entry + 36, base);
    write32(entry + 40, module.payload.length);
    write32(entry + 44, module.kind === 'program' ? kernel.text.codeAddress(bodyOf(module)) : 0);
    machine.physical.writeBytes(entry + 48, new TextEncoder().encode(module.commandLine).subarray(0, COMMAND_LINE_BYTES - 1));
  });
  log('starting the kernel');
  // A module's introspection is a call into its code from outside: it runs outside the module's
  // step budget, so that looking never changes when a module would be stopped.
  const introspect = (name: string): unknown => {
    const module = modules.find((m) => m.name === name);
    const evaluated = module ? exportsOf.get(module) : undefined;
    if (!evaluated) return undefined;
    // The module's own `introspect` export (physmem's), else what a library linked into it
    // published (libhurd-mm's pagers).
    const hook = typeof evaluated.introspect === 'function' ? evaluated.introspect : evaluated.published(INTROSPECTION_KEY);
    return typeof hook === 'function' ? evaluated.unbounded(() => (hook as () => unknown)()) : undefined;
  };
  options.onStart?.({ machine, kernel, introspect });
  const loadedModules: LoadedModule[] = placed.map(({ module, base }) => ({
    name: module.name,
    kind: module.kind,
    base,
    length: module.payload.length,
    commandLine: module.commandLine,
    codeAddress: module.kind === 'program' || module.kind === 'root' || module.kind === 'sigma0' ? kernel.text.codeAddress(bodyOf(module)) : 0,
  }));
  const bodyNames = new Map(loadedModules.filter((m) => m.codeAddress !== 0).map((m) => [m.codeAddress, m.name] as const));
  let ran = false;
  const run = (): BootResult => {
    if (ran) throw new Error('the image has already run');
    ran = true;
    return runLoaded(machine, kernel, introspect, options, rethrowSinkFailure);
  };
  return { machine, kernel, modules: loadedModules, bootInfo, introspect, bodyNames, run };
}

/** Runs a loaded machine to its end and makes bootImage's reports. */
function runLoaded(machine: Machine, kernel: Kernel, introspect: (module: string) => unknown, options: BootOptions, rethrowSinkFailure: () => void): BootResult {
  let run: RunResult;
  try {
    run = kernel.run({ maxCycles: options.maxCycles ?? DEFAULT_MAX_CYCLES });
  } catch (error) {
    rethrowSinkFailure();
    // A kernel bug, not a guest's doing: report it as such.
    throw new KernelError(`kernel failure: ${describe(error)}`);
  }
  const exitStatus = run.reason === 'shutdown' ? run.exitStatus! : run.reason === 'max-cycles' ? EXIT_MAX_CYCLES : EXIT_IDLE;
  if (run.reason === 'max-cycles') machine.console.write(`laden: stopped at the cycle limit (${run.cycles} cycles)\n`);
  else if (run.reason !== 'shutdown') {
    // Say what every thread is stuck in, so that a boot that hangs tells who waits for whom.
    const report = kernel.threadReport();
    machine.console.write(`laden: the system went idle without shutting down (${run.cycles} cycles); its threads:\n`);
    for (const line of report.slice(0, IDLE_REPORT_LINES)) machine.console.write(`laden:   ${line}\n`);
    if (report.length > IDLE_REPORT_LINES) machine.console.write(`laden:   and ${report.length - IDLE_REPORT_LINES} more\n`);
  }
  const counters = bootCounters(machine, kernel, exitStatus);
  return { run, exitStatus, counters, output: machine.console.output, machine, kernel, introspect };
}

/** The counters `l4hurd boot --json` prints, as they are now. */
export function bootCounters(machine: Machine, kernel: Kernel, exitStatus: number): BootCounters {
  const mmu = machine.cpu.counters;
  return {
    cycles: mmu.cycles,
    accesses: mmu.accesses,
    tlbHits: mmu.tlbHits,
    tlbMisses: mmu.tlbMisses,
    pageWalks: mmu.walks,
    pageFaults: mmu.pageFaults,
    ipcs: kernel.counters.ipcs,
    contextSwitches: kernel.counters.contextSwitches,
    exceptions: kernel.counters.exceptions,
    syscalls: kernel.counters.syscalls,
    ...(machine.disk
      ? { diskCommands: machine.disk.counters.commands, diskSectorsRead: machine.disk.counters.sectorsRead, diskSectorsWritten: machine.disk.counters.sectorsWritten, diskErrors: machine.disk.counters.errors }
      : {}),
    exitStatus,
  };
}

/** A bundle's exports the loader uses, and the way to call into it outside its step budget. */
interface Evaluated {
  readonly default: unknown;
  readonly Kernel: unknown;
  readonly introspect: unknown;
  readonly unbounded: <T>(fn: () => T) => T;
  readonly published: (key: string) => unknown;
}

/** Runs a bundle in a guest context of its own (tools/guest-context.ts) and returns what it exported. */
function evaluateBundle(module: ParsedModule, machine: Machine, stallSteps: number | undefined): Evaluated {
  let code: string;
  try {
    code = new TextDecoder('utf-8', { fatal: true }).decode(module.payload);
  } catch {
    throw new LoadError(`module ${module.name}: payload is not UTF-8 JavaScript`);
  }
  try {
    const evaluated = evaluateGuestModule(code, { name: module.name, clock: () => machine.cpu.cycles, stallSteps, instrumented: module.kind !== 'kernel' });
    const exported = evaluated.exports;
    if (exported === null || typeof exported !== 'object') throw new LoadError(`module ${module.name}: its bundle exported nothing`);
    // Read the exports the loader uses here: they are the bundle's getters, code that may throw.
    const { default: body, Kernel, introspect } = exported as Record<string, unknown>;
    return { default: body, Kernel, introspect, unbounded: evaluated.unbounded, published: evaluated.published };
  } catch (error) {
    if (error instanceof LoadError) throw error;
    if (error instanceof InstrumentError) throw new LoadError(`module ${module.name}: ${error.message}`);
    throw new LoadError(`module ${module.name}: cannot be evaluated: ${describe(error)}`);
  }
}

function describe(error: unknown): string {
  try {
    const text =
      error !== null && typeof error === 'object' && 'message' in error
        ? `${'name' in error ? String((error as { name: unknown }).name) : 'Error'}: ${String((error as { message: unknown }).message)}`
        : String(error);
    return text.split(/[\r\n\u2028\u2029]/)[0]!;
  } catch {
    // A thrown value that cannot be turned into text (its toString throws, a revoked proxy).
    return 'an exception that cannot be shown';
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}


function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}
