// wortel: the root task. It reads the boot information the loader left (its address is in the
// KIP's BootInfo field) and starts every program module, in module order, each in its own
// address space with one thread (task i gets thread number 1000 + i, so programs can name each
// other). It is their pager: the startup page, the module's own pages (from the boot modules,
// through sigma0) and fresh anonymous memory (from sigma0). It is their console too: their
// print messages (servers/runtime.ts) go to the console. When a program's runtime reports its
// exit status (servers/runtime.ts), wortel deletes the task. When all have, it shuts the machine
// down with the status of the first program (in module order) that failed, or 0.
//
// Boot information (written by the loader, tools/loader.ts), little-endian u32 words:
//   +0 magic 'BOOT' (0x544f4f42), +4 version 1, +8 module count, +12 entry size (128),
//   +16 entries: name (32 bytes, NUL-padded), kind (+32: 1 kernel, 2 sigma0, 3 root, 4 program,
//   5 data), physical base (+36), length (+40), entry IP (+44, programs only), command line
//   (+48, 80 bytes, NUL-padded)

import { ANYTHREAD, Label, Syscall, UTCB_MR_OFFSET, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { acceptor } from '../libl4/acceptor.ts';
import { fpage, Rights } from '../libl4/fpage.ts';
import { mapItem } from '../libl4/map-item.ts';
import { globalId } from '../libl4/thread-id.ts';
import { EXIT_LABEL, MODULE_BASE, PRINT_LABEL, STARTUP_MAGIC, STARTUP_PAGE, decodeUtf8, encodeUtf8, printText } from './runtime.ts';

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
/** Thread numbers of the tasks wortel starts. */
const TASK_BASE = 1000;
const PAGE = 4096;

interface BootModule {
  readonly name: string;
  readonly kind: number;
  readonly base: number;
  readonly length: number;
  readonly entry: number;
  readonly commandLine: string;
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
    const [tag, , fpageWord] = yield* env.readWords(mr(0), 3);
    return !(tag! & 0x8000) && ((tag! >>> 6) & 0x3f) === 2 && fpageWord !== 0;
  }

  const [kip] = yield* env.syscall(Syscall.KernelInterface, []);
  const bootInfo = yield* env.read32(kip! + KIP_BOOT_INFO);
  if (bootInfo === 0) {
    yield* env.print('wortel: no boot information\n');
    yield* env.shutdown(1);
    return;
  }
  // The boot information's first page, then as many more as its module table needs.
  if (!(yield* fromSigma0(fpage(bootInfo, 12), fpage(BOOT_INFO_WINDOW, 12)))) {
    yield* env.print(`wortel: sigma0 refused the boot information at 0x${bootInfo.toString(16)}\n`);
    yield* env.shutdown(1);
    return;
  }
  const [magic, , count] = yield* env.readWords(BOOT_INFO_WINDOW, 3);
  if (magic !== BOOT_INFO_MAGIC || count! > 64) {
    yield* env.print('wortel: bad boot information\n');
    yield* env.shutdown(1);
    return;
  }
  const bytes = 16 + count! * BOOT_ENTRY_SIZE;
  for (let page = PAGE; page < bytes; page += PAGE) yield* fromSigma0(fpage(bootInfo + page, 12), fpage(BOOT_INFO_WINDOW + page, 12));
  const modules: BootModule[] = [];
  for (let i = 0; i < count!; i++) {
    const at = BOOT_INFO_WINDOW + 16 + i * BOOT_ENTRY_SIZE;
    const [kind, base, length, entry] = yield* env.readWords(at + 32, 4);
    modules.push({
      name: cString(yield* env.readBytes(at, 32)),
      kind: kind!,
      base: base!,
      length: length!,
      entry: entry!,
      commandLine: cString(yield* env.readBytes(at + 48, 80)),
    });
  }
  const programs = modules.filter((m) => m.kind === BootModuleKind.program);
  yield* env.print(`wortel: ${modules.length} boot modules, ${programs.length} programs\n`);

  // Start every program, in module order, each in a new space with one thread paged by us.
  interface Task {
    readonly module: BootModule;
    readonly id: number;
    readonly startup: number;
    status: number | null;
  }
  const tasks: Task[] = [];
  for (let index = 0; index < programs.length; index++) {
    const module = programs[index]!;
    const id = globalId(TASK_BASE + index, 1);
    yield* env.print(`wortel: starting ${module.name} as task ${TASK_BASE + index}${module.commandLine ? ` (${module.commandLine})` : ''}\n`);
    yield* env.syscall(Syscall.ThreadControl, [id, id, self, 0, 0xbf000000]);
    yield* env.syscall(Syscall.SpaceControl, [id, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0]);
    const [ok] = yield* env.syscall(Syscall.ThreadControl, [id, id, self, self, 0xbf000000]);
    const startup = STARTUP_WINDOW - index * PAGE;
    const task: Task = { module, id, startup, status: ok ? null : 1 };
    tasks.push(task);
    if (!ok) {
      yield* env.print(`wortel: cannot create a task for ${module.name}\n`);
      continue;
    }
    // Its startup page, filled here and mapped on its first fault there.
    yield* fromSigma0(0xfffffc00 | (12 << 4), fpage(startup, 12));
    const args = encodeUtf8(module.commandLine);
    yield* env.writeWords(startup, [STARTUP_MAGIC, MODULE_BASE, module.length, args.length]);
    yield* env.writeBytes(startup + 16, args);
    // Start it: IP = the module's entry, SP = its startup page.
    yield* env.writeWords(mr(0), [2, module.entry, STARTUP_PAGE]);
    yield* env.syscall(Syscall.Ipc, [id, 0, 0]);
  }

  // Page them until each has reported its exit status.
  let running = tasks.filter((t) => t.status === null).length;
  let from = 0;
  let reply = false;
  while (running > 0) {
    [from] = reply ? yield* env.syscall(Syscall.Ipc, [from, ANYTHREAD, 0x04000000]) : yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    reply = false;
    const task = tasks.find((t) => t.id === from && t.status === null);
    if (!task) continue;
    const [tag, word1] = yield* env.readWords(mr(0), 2);
    const label = tag! >>> 16;
    if (label === PRINT_LABEL && (tag! & 0x3f) >= 1 && !(tag! & 0xfc0)) {
      // Console output of a program: write it, answer with an empty message.
      yield* env.print(printText(yield* env.readWords(mr(1), tag! & 0x3f)));
      yield* env.write32(mr(0), 0);
      reply = true;
      continue;
    }
    if (label === EXIT_LABEL) {
      task.status = (tag! & 0x3f) >= 1 ? word1! : 1;
      yield* env.print(`wortel: ${task.module.name} exited with status ${task.status}\n`);
      yield* env.syscall(Syscall.ThreadControl, [task.id, 0, 0, 0, 0]);
      running--;
      continue;
    }
    if ((label & 0xfff0) !== Label.PageFault || (tag! & 0x3f) !== 2) continue;
    const page = Math.floor(word1! / PAGE) * PAGE;
    let source = -1;
    let rights: number = Rights.Full;
    if (page === STARTUP_PAGE) source = task.startup;
    else if (page >= MODULE_BASE && page < MODULE_BASE + task.module.length) {
      source = nextModulePage;
      nextModulePage += PAGE;
      if (!(yield* fromSigma0(fpage(task.module.base + (page - MODULE_BASE), 12), fpage(source, 12)))) source = -1;
      rights = Rights.ReadExecute;
    } else if (page < 0xbf000000) {
      source = nextAnon;
      nextAnon += PAGE;
      if (!(yield* fromSigma0(0xfffffc00 | (12 << 4), fpage(source, 12)))) source = -1;
    }
    if (source < 0) {
      yield* env.print(`wortel: ${task.module.name} faulted at 0x${word1!.toString(16)}: no memory there\n`);
      continue;
    }
    const [item0, item1] = mapItem(page, fpage(source, 12, rights));
    yield* env.writeWords(mr(0), [2 << 6, item0, item1]);
    reply = true;
  }
  const failure = tasks.find((t) => t.status !== 0);
  const status = failure ? failure.status! : 0;
  yield* env.print(`wortel: all programs done, shutting down with status ${status}\n`);
  yield* env.shutdown(status);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decodeUtf8(end < 0 ? bytes : bytes.subarray(0, end));
}
