// wortel: the root task. It reads the boot information the loader left (its address is in the
// KIP's BootInfo field), starts the image's programs, is everyone's console, and shuts the
// machine down when the image's programs are done.
//
// An image that has program modules named physmem, task and policy boots the Hurd's memory
// system (hurd-l4's order: physmem, then the task server, then the rest):
//   - wortel starts those three servers itself, each in its own space with one thread, and is
//     their pager (their startup pages from sigma0, their module pages from the boot modules).
//     physmem then takes all remaining conventional memory from sigma0;
//   - the task server asks wortel for every other program module (BootProgram) and starts each
//     as a task; from then on every program gets its memory from physmem containers;
//   - wortel makes the privileged system calls the task server needs (it is the only privileged
//     task) and learns each boot program's fate from the task server (TaskDied).
// An image without physmem is a bare image: wortel starts every program itself and pages it
// from sigma0, with nothing of the Hurd in between.
//
// Thread numbers: the program module at place i among the image's programs (in module order)
// has first thread 1000 + i. Task ids: wortel is task 1; physmem 2, task 3, policy 4; the task
// server gives the others theirs. In a bare image every thread has version 1.
//
// The machine is shut down with the status of the first boot program (in module order) that
// failed, or 0, once all have ended. Boot programs that serve the others and never end (the
// store, the central pager: SERVICES) are not waited for; one that did end counts like any.
//
// Boot information (written by the loader, tools/loader.ts), little-endian u32 words:
//   +0 magic 'BOOT' (0x544f4f42), +4 version 1, +8 module count, +12 entry size (128),
//   +16 entries: name (32 bytes, NUL-padded), kind (+32: 1 kernel, 2 sigma0, 3 root, 4 program,
//   5 data), physical base (+36), length (+40), entry IP (+44, programs only), command line
//   (+48, 80 bytes, NUL-padded)

import { ANYTHREAD, ExceptionNumber, Label, Syscall, TCR_ERROR_CODE, UTCB_MR_OFFSET, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { acceptor } from '../libl4/acceptor.ts';
import { fpage, Rights } from '../libl4/fpage.ts';
import { mapItem } from '../libl4/map-item.ts';
import { globalId } from '../libl4/thread-id.ts';
import { printText } from './console.ts';
import { MODULE_BASE, STARTUP_PAGE, startupWords, type Startup } from './startup.ts';
import { DEATH_CAUSE_NAMES, DeathCause } from './task/protocol.ts';
import { Errno } from './errno.ts';
import { cString, counted, encodeUtf8, packWords } from './text.ts';
import { BOOT_COMMAND_LINE_WORDS, BOOT_NAME_WORDS, DEVICE_DRIVERS, DEVICE_LINE_OFFSET, WortelOp } from './wortel-protocol.ts';

export const BOOT_INFO_MAGIC = 0x544f4f42;
export const BOOT_ENTRY_SIZE = 128;
export const BootModuleKind = { kernel: 1, sigma0: 2, root: 3, program: 4, data: 5 } as const;

const SIGMA0 = globalId(64, 1);
const KIP_BOOT_INFO = 0xb8;
/** Windows in wortel's own space. */
const BOOT_INFO_WINDOW = 0x20000000;
const MODULE_WINDOW = 0x30000000;
const ANON_WINDOW = 0x60000000;
const STARTUP_WINDOW = 0x5ff00000;
/** Where wortel holds the devices' register pages. */
const DEVICE_WINDOW = 0x50000000;
const KIP_MEMORY_INFO = 0x54;
const MEMORY_DEDICATED = 3;
/** Thread numbers of the programs' first threads: 1000 + their place among the programs. */
const FIRST_PROGRAM_THREAD = 1000;
/** The Hurd's servers, in the order wortel starts them, with their task ids. */
const SYSTEM_SERVERS = [
  { name: 'physmem', task: 2 },
  { name: 'task', task: 3 },
  { name: 'policy', task: 4 },
] as const;
const PAGE = 4096;
/** Boot programs that serve the other programs until the machine stops: not waited for. */
const SERVICES: readonly string[] = ['store', 'central-pager', 'deva', 'ext2fs'];

/** A device found in the KIP's dedicated memory. */
interface Device {
  readonly id: number;
  /** Its register page's physical address, and where wortel holds it. */
  readonly physical: number;
  readonly window: number;
  readonly line: number;
}

interface BootModule {
  readonly name: string;
  readonly kind: number;
  readonly base: number;
  readonly length: number;
  readonly entry: number;
  readonly commandLine: string;
}

/** A program of the image and what became of it. */
interface Program {
  readonly module: BootModule;
  /** Its place among the image's programs. */
  readonly place: number;
  /** One of physmem, task, policy (not a boot program: its status does not count). */
  system: boolean;
  /** Its first thread, once started (0: not yet, or never). */
  thread: number;
  /** Its task id, once started. */
  task: number;
  /** Paged by wortel (the system servers, and every program of a bare image). */
  paged: boolean;
  /** Its startup page in wortel's space (paged programs). */
  startup: number;
  /** Its exit status once it ended (null: still running or not started). */
  status: number | null;
}

export default wortel;

export function* wortel(env: ProgramEnv): Op<void> {
  const mr = (i: number): number => env.utcb + UTCB_MR_OFFSET + 4 * i;
  const self = (yield* env.readWords(env.utcb, 1))[0]!;
  let nextAnon = ANON_WINDOW;
  let nextModulePage = MODULE_WINDOW;

  /** Asks sigma0 for the page(s) `request` (an fpage word) into our window `window`. */
  function* fromSigma0(request: number, window: number): Op<boolean> {
    yield* env.write32(env.utcb + 0x40, acceptor(window));
    yield* env.writeWords(mr(0), [((Label.Sigma0 << 16) | 2) >>> 0, request >>> 0, 0]);
    yield* env.syscall(Syscall.Ipc, [SIGMA0, SIGMA0, 0]);
    yield* env.write32(env.utcb + 0x40, 0);
    const [tag, , fpageWord] = yield* env.readWords(mr(0), 3);
    return !(tag! & 0x8000) && ((tag! >>> 6) & 0x3f) === 2 && fpageWord !== 0;
  }

  function* fail(message: string): Op<void> {
    yield* env.print(`wortel: ${message}\n`);
    yield* env.shutdown(1);
  }

  const [kip] = yield* env.syscall(Syscall.KernelInterface, []);
  const bootInfo = yield* env.read32(kip! + KIP_BOOT_INFO);
  if (bootInfo === 0) return yield* fail('no boot information');
  // The boot information's first page, then as many more as its module table needs.
  if (!(yield* fromSigma0(fpage(bootInfo, 12), fpage(BOOT_INFO_WINDOW, 12)))) return yield* fail(`sigma0 refused the boot information at 0x${bootInfo.toString(16)}`);
  const [magic, , count] = yield* env.readWords(BOOT_INFO_WINDOW, 3);
  if (magic !== BOOT_INFO_MAGIC || count! > 64) return yield* fail('bad boot information');
  const bytes = 16 + count! * BOOT_ENTRY_SIZE;
  for (let page = PAGE; page < bytes; page += PAGE) yield* fromSigma0(fpage(bootInfo + page, 12), fpage(BOOT_INFO_WINDOW + page, 12));
  const modules: BootModule[] = [];
  for (let i = 0; i < count!; i++) {
    const at = BOOT_INFO_WINDOW + 16 + i * BOOT_ENTRY_SIZE;
    const [kind, base, length, entry] = yield* env.readWords(at + 32, 4);
    modules.push({ name: cString(yield* env.readBytes(at, 32)), kind: kind!, base: base!, length: length!, entry: entry!, commandLine: cString(yield* env.readBytes(at + 48, 80)) });
  }
  const programModules = modules.filter((m) => m.kind === BootModuleKind.program);
  const hurd = programModules.some((m) => m.name === 'physmem');
  const isSystem = (m: BootModule): boolean => hurd && SYSTEM_SERVERS.some((s) => s.name === m.name);
  const programs: Program[] = programModules.map((module, place) => ({ module, place, system: isSystem(module), thread: 0, task: 0, paged: false, startup: 0, status: null }));
  // Each system server once: a second module of the same name is an ordinary program.
  for (const server of SYSTEM_SERVERS) {
    const all = programs.filter((p) => p.system && p.module.name === server.name);
    for (const extra of all.slice(1)) extra.system = false;
  }
  const bootPrograms = programs.filter((p) => !p.system);
  yield* env.print(`wortel: ${counted(modules.length, 'boot module')}, ${counted(programs.length, 'program')}${hurd ? ' (physmem, task and policy: the Hurd)' : ' (a bare image)'}\n`);

  const serverThread = (name: string): number => {
    const place = programs.findIndex((p) => p.system && p.module.name === name);
    const server = SYSTEM_SERVERS.find((s) => s.name === name)!;
    return place < 0 ? 0 : globalId(FIRST_PROGRAM_THREAD + place, server.task);
  };
  if (hurd) {
    const missing = SYSTEM_SERVERS.filter((s) => !serverThread(s.name)).map((s) => s.name);
    if (missing.length > 0) return yield* fail(`the image has physmem but no ${missing.join(' and no ')} module`);
  }
  const physmemThread = hurd ? serverThread('physmem') : 0;
  const taskThread = hurd ? serverThread('task') : 0;
  const policyThread = hurd ? serverThread('policy') : 0;

  /** Creates a program wortel pages: its space, its thread and its startup page (started later). */
  function* prepare(program: Program, task: number): Op<boolean> {
    const module = program.module;
    const id = globalId(FIRST_PROGRAM_THREAD + program.place, task);
    yield* env.print(`wortel: starting ${module.name} as ${hurd ? `task ${task}, ` : ''}thread ${FIRST_PROGRAM_THREAD + program.place}${module.commandLine ? ` (${module.commandLine})` : ''}\n`);
    yield* env.syscall(Syscall.ThreadControl, [id, id, self, 0, 0xbf000000]);
    yield* env.syscall(Syscall.SpaceControl, [id, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0]);
    const [ok] = yield* env.syscall(Syscall.ThreadControl, [id, id, self, self, 0xbf000000]);
    if (!ok) {
      program.status = 1;
      yield* env.print(`wortel: cannot create a task for ${module.name}\n`);
      return false;
    }
    program.thread = id;
    program.task = task;
    program.paged = true;
    program.startup = STARTUP_WINDOW - program.place * PAGE;
    // Its startup page, filled here and mapped on its first fault there.
    yield* fromSigma0(0xfffffc00 | (12 << 4), fpage(program.startup, 12));
    const startup: Startup = {
      flags: 0,
      task,
      wortel: self,
      physmem: physmemThread,
      taskServer: taskThread,
      policy: policyThread,
      moduleBase: MODULE_BASE,
      moduleLength: module.length,
      name: module.name,
      commandLine: module.commandLine,
    };
    yield* env.writeWords(program.startup, startupWords(startup));
    return true;
  }

  function* start(program: Program): Op<void> {
    // IP = the module's entry, SP = its startup page.
    yield* env.writeWords(mr(0), [2, program.module.entry, STARTUP_PAGE]);
    yield* env.syscall(Syscall.Ipc, [program.thread, 0, 0]);
  }

  // Start what wortel starts: the Hurd's servers (all prepared before physmem takes the memory
  // sigma0 has left), or every program of a bare image.
  const started = hurd ? SYSTEM_SERVERS.map((s) => programs.find((p) => p.system && p.module.name === s.name)!) : programs;
  const ready: Program[] = [];
  for (const program of started) {
    const task = hurd ? SYSTEM_SERVERS.find((s) => s.name === program.module.name)!.task : 1;
    if (yield* prepare(program, task)) ready.push(program);
  }
  for (const program of ready) yield* start(program);

  /** Every boot program was handed to the task server (hurd) or started (bare). */
  let allStarted = !hurd;
  const done = (): boolean => allStarted && bootPrograms.every((p) => p.status !== null || (hurd && SERVICES.includes(p.module.name)));
  const ended = function* (program: Program, status: number, how: string): Op<void> {
    program.status = status;
    yield* env.print(`wortel: ${program.module.name} ${how}\n`);
  };

  /** The devices wortel found, once the first driver asked (probeDevices). */
  let devices: Device[] | null = null;

  // Serve until every boot program has ended.
  let from = 0;
  let reply = false;
  while (!done()) {
    [from] = reply ? yield* env.syscall(Syscall.Ipc, [from, ANYTHREAD, 0x04000000]) : yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    reply = false;
    const [tag, ...words] = yield* env.readWords(mr(0), 8);
    if (tag! & 0x8000) continue;
    const label = tag! >>> 16;
    const untyped = tag! & 0x3f;
    const typed = (tag! >>> 6) & 0x3f;
    const word = (i: number): number => (i < untyped ? words[i]! : 0) >>> 0;
    if (typed !== 0) continue;
    if (label === WortelOp.Print && untyped >= 1) {
      // Console output of a program: write it, answer with an empty message.
      yield* env.print(printText(yield* env.readWords(mr(1), untyped)));
      yield* env.write32(mr(0), 0);
      reply = true;
      continue;
    }
    if (from === taskThread && from !== 0 && (yield* taskServerRequest(label, word))) {
      reply = true;
      continue;
    }
    if (label === WortelOp.Device && hurd) {
      yield* deviceRequest(from, word);
      reply = true;
      continue;
    }
    const program = programs.find((p) => p.paged && p.thread === from && p.status === null);
    if (!program) continue;
    if (label === Label.Exception && untyped === 12) {
      // A program wortel started raised an exception (the kernel's console line says why).
      yield* ended(program, 1, `crashed: ${exceptionName(word(2))}`);
      yield* env.syscall(Syscall.ThreadControl, [program.thread, 0, 0, 0, 0]);
      if (program.system) {
        yield* env.print(`wortel: the Hurd cannot run without ${program.module.name}: shutting down\n`);
        yield* env.shutdown(1);
        return;
      }
      continue;
    }
    if (label === WortelOp.Exit) {
      yield* ended(program, untyped >= 1 ? word(0) : 1, `exited with status ${untyped >= 1 ? word(0) : 1}`);
      yield* env.syscall(Syscall.ThreadControl, [program.thread, 0, 0, 0, 0]);
      continue;
    }
    if ((label & 0xfff0) !== Label.PageFault || untyped !== 2) continue;
    const page = Math.floor(word(0) / PAGE) * PAGE;
    let source = -1;
    let rights: number = Rights.Full;
    if (page === STARTUP_PAGE) {
      source = program.startup;
      rights = Rights.ReadExecute;
    } else if (page >= MODULE_BASE && page < MODULE_BASE + program.module.length) {
      source = nextModulePage;
      nextModulePage += PAGE;
      if (!(yield* fromSigma0(fpage(program.module.base + (page - MODULE_BASE), 12), fpage(source, 12)))) source = -1;
      rights = Rights.ReadExecute;
    } else if (page < 0xbf000000 && !hurd) {
      source = nextAnon;
      nextAnon += PAGE;
      if (!(yield* fromSigma0(0xfffffc00 | (12 << 4), fpage(source, 12)))) source = -1;
    }
    if (source < 0) {
      yield* env.print(`wortel: ${program.module.name} faulted at 0x${word(0).toString(16)}: no memory there\n`);
      continue;
    }
    const [item0, item1] = mapItem(page, fpage(source, 12, rights));
    yield* env.writeWords(mr(0), [2 << 6, item0, item1]);
    reply = true;
  }

  /** The devices in the KIP's dedicated memory, taken from sigma0 (once). */
  function* probeDevices(): Op<Device[]> {
    if (devices) return devices;
    devices = [];
    const info = yield* env.read32(kip! + KIP_MEMORY_INFO);
    for (let i = 0; i < (info & 0xffff); i++) {
      const [low, high] = yield* env.readWords(kip! + (info >>> 16) + i * 8, 2);
      if ((low! & 0xf) !== MEMORY_DEDICATED || low! & 0x200) continue;
      const base = (low! & ~0xfff) >>> 0;
      const window = DEVICE_WINDOW + devices.length * PAGE;
      if (((high! & ~0x3ff) >>> 0) < base || !(yield* fromSigma0(fpage(base, 12), fpage(window, 12)))) continue;
      devices.push({ id: yield* env.read32(window), physical: base, window, line: yield* env.read32(window + DEVICE_LINE_OFFSET) });
    }
    return devices;
  }

  /** A driver asks for its device (WortelOp.Device): the reply is loaded. */
  function* deviceRequest(from: number, word: (i: number) => number): Op<void> {
    const refuse = (errno: number): Op<void> => env.writeWords(mr(0), [errno << 16]);
    const task = from & 0x3fff;
    const driver = bootPrograms.find((p) => p.task === task && p.status === null);
    const id = word(0);
    const handler = word(1);
    if (!driver || DEVICE_DRIVERS[id] !== driver.module.name || (handler & 0x3fff) !== task) return yield* refuse(Errno.EPERM);
    const device = (yield* probeDevices()).find((d) => d.id === id);
    if (!device) return yield* refuse(Errno.ENODEV);
    const irq = globalId(device.line, 1);
    const [ok] = yield* env.syscall(Syscall.ThreadControl, [irq, irq, 0, handler, 0xffffffff]);
    if (!ok) return yield* refuse(Errno.EBUSY);
    yield* env.print(`wortel: ${driver.module.name} drives device 0x${device.id.toString(16)} at 0x${device.physical.toString(16)}, interrupt ${device.line}\n`);
    const [item0, item1] = mapItem(0, fpage(device.window, 12, Rights.ReadWrite));
    yield* env.writeWords(mr(0), [(2 << 6) | 3, device.physical, device.line, 1, item0, item1]);
  }

  /** A request of the task server; true when it was one (its reply is loaded). */
  function* taskServerRequest(label: number, word: (i: number) => number): Op<boolean> {
    switch (label) {
      case WortelOp.ThreadControl:
      case WortelOp.SpaceControl: {
        const call = label === WortelOp.ThreadControl ? Syscall.ThreadControl : Syscall.SpaceControl;
        const results = yield* env.syscall(call, [word(0), word(1), word(2), word(3), word(4)]);
        const result = (results[0] ?? 0) >>> 0;
        const errorCode = result ? 0 : yield* env.read32(env.utcb + TCR_ERROR_CODE);
        const words = call === Syscall.SpaceControl ? [result, (results[1] ?? 0) >>> 0, errorCode] : [result, errorCode];
        yield* env.writeWords(mr(0), [words.length, ...words]);
        return true;
      }
      case WortelOp.BootProgram: {
        const program = bootPrograms[word(0)];
        if (!program) {
          allStarted = true;
          yield* env.writeWords(mr(0), [1, 0]);
          return true;
        }
        const name = encodeUtf8(program.module.name).subarray(0, BOOT_NAME_WORDS * 4 - 1);
        const commandLine = encodeUtf8(program.module.commandLine).subarray(0, BOOT_COMMAND_LINE_WORDS * 4 - 1);
        const words = [1, program.module.base, program.module.length, program.module.entry, FIRST_PROGRAM_THREAD + program.place, name.length, commandLine.length, ...packWords(name, BOOT_NAME_WORDS * 4), ...packWords(commandLine, BOOT_COMMAND_LINE_WORDS * 4)];
        yield* env.writeWords(mr(0), [words.length, ...words]);
        return true;
      }
      case WortelOp.BootStarted: {
        const program = bootPrograms[word(0)];
        if (program && program.task === 0 && program.status === null) {
          if (word(1) === 0) yield* ended(program, 1, 'could not be started');
          else {
            program.task = word(1);
            program.thread = globalId(FIRST_PROGRAM_THREAD + program.place, word(1));
            yield* env.print(`wortel: ${program.module.name} is task ${program.task}, thread ${FIRST_PROGRAM_THREAD + program.place}${program.module.commandLine ? ` (${program.module.commandLine})` : ''}\n`);
          }
        }
        yield* env.write32(mr(0), 0);
        return true;
      }
      case WortelOp.TaskDied: {
        const program = bootPrograms.find((p) => p.task === word(0) && p.status === null);
        if (program) {
          const cause = word(1);
          if (cause === DeathCause.Exited) yield* ended(program, word(2), `exited with status ${word(2)}`);
          else if (cause === DeathCause.Crashed) yield* ended(program, 1, `crashed: ${exceptionName(word(2))}`);
          else yield* ended(program, 1, `was ${DEATH_CAUSE_NAMES[cause] ?? `ended (cause ${cause})`}`);
        }
        yield* env.write32(mr(0), 0);
        return true;
      }
      default:
        return false;
    }
  }

  // The task server may be waiting for the answer to the report that ended the last program.
  if (reply) yield* env.syscall(Syscall.Ipc, [from, 0, 0x04000000]);
  const failure = bootPrograms.find((p) => p.status !== null && p.status !== 0);
  const status = failure ? failure.status! : 0;
  yield* env.print(`wortel: all programs done, shutting down with status ${status}\n`);
  yield* env.shutdown(status);
}

/** What libl4's ExceptionNumber `number` means, for the console. */
function exceptionName(number: number): string {
  if (number === ExceptionNumber.HostException) return 'a host exception in its code (exception 0x100)';
  if (number === ExceptionNumber.InvalidOpcode) return 'it yielded outside its environment (#UD)';
  if (number === ExceptionNumber.GeneralProtection) return 'an invalid system call (#GP)';
  if (number === ExceptionNumber.PageFault) return 'a page fault nothing serves (#PF)';
  return `exception ${number}`;
}
