// The task server: creates and destroys tasks and their threads, knows which task every thread
// belongs to, and tells watchers when a task dies.
//
// A task is an address space with threads. Its id is carried in the version field of every
// one of its threads' ids (as hurd-l4 did), so a server learns a caller's task from the sender
// id the kernel gives it, with no extra IPC; only the task server creates threads (through
// wortel, the one privileged task), so the version cannot be forged. Task ids have their low 6
// bits non-zero, as a global thread id's version must.
//
// The task server is the first pager of every task it creates: it maps the task's startup page
// (a frame of the task server's own container, written here, mapped read-only) and, for a boot
// program, its module pages (boot-loader memory from sigma0, read-only). The program's runtime
// then starts the task's own pager; a fault the task server cannot serve (anonymous memory
// before that) ends the task, reported as "faulted".
//
// Boot programs: at startup the task server asks wortel for each boot program in turn
// (BootProgram), creates it as a task whose first thread is number 1000 + its place among the
// image's programs, and tells wortel its task id (BootStarted). wortel learns of every boot
// program's death (TaskDied), physmem of every task's birth and death; other watchers get a
// TaskNotice.Death message, sent when they next wait for one.

import { Label, NILTHREAD, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { loadMessage, setAcceptor, type OutgoingMessage } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import { call, send } from '../../libl4/syscalls.ts';
import { decodeExceptionMessage, isExceptionMessage } from '../../libl4/exception.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { Refusal, refuseUnless } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import { PhysmemNotice } from '../physmem/protocol.ts';
import * as policy from '../policy/client.ts';
import { replyErrorName, rpc } from '../rpc.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { MODULE_BASE, STARTUP_PAGE, StartupFlags, startupOf, startupWords, type Startup } from '../startup.ts';
import { cString, decodeUtf8, unpackWords } from '../text.ts';
import { BOOT_COMMAND_LINE_WORDS, BOOT_NAME_WORDS, WortelOp } from '../wortel-protocol.ts';
import { CREATE_TASK_ARGS_BYTES, DeathCause, LOOKUP_NAME_BYTES, TaskNotice, TaskOp } from './protocol.ts';

const PAGE = 4096;
const SIGMA0 = (64 << 14) | 1;
/** Every task's KIP and UTCB areas: the root servers' places; 128 UTCBs of 512 bytes. */
const KIP_AREA = fpage(0xbff00000, 12);
const UTCB_BASE = 0xbf000000;
const UTCB_AREA = fpage(UTCB_BASE, 16);
const UTCB_SLOTS = 128;
/** Windows in the task server's own space: tasks' startup pages, and boot modules by physical address. */
const STARTUP_WINDOW = 0x10000000;
const MODULE_WINDOW = 0x40000000;
/** Thread numbers: boot programs' first threads are 1000 + their place; others from here on. */
const FIRST_THREAD_NUMBER = 2000;
const MAX_THREAD_NUMBER = (1 << 18) - 1;
const MAX_TASK = 0x3fff;
/** The guarantee the task server asks the policy server for (its tasks' startup pages). */
const DEFAULT_GUARANTEE = 64;

interface Task {
  readonly id: number;
  readonly name: string;
  /** The task that created it (0 for the bootstrap tasks and boot programs). */
  readonly creator: number;
  readonly threads: number[];
  /** UTCB slots in use. */
  readonly utcbs: Set<number>;
  /** Its startup page: frame `slot` of the task server's startup container (-1: none). */
  readonly slot: number;
  readonly module: { readonly base: number; readonly length: number } | null;
  readonly watchers: Set<number>;
  /** Its place among the image's boot programs, or -1. */
  readonly boot: number;
  /** Created through wortel by the task server (the bootstrap tasks are not: they are never destroyed here). */
  readonly managed: boolean;
}

export default program(function* taskServer(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const startup = yield* startupOf(env);
  const self = startup.task;
  const me = (yield* env.readWords(env.utcb, 1))[0]!;
  yield* setAcceptor(env, 0);

  const tasks = new Map<number, Task>();
  const threads = new Map<number, number>(); // thread id -> task
  const addTask = (task: Task): void => {
    tasks.set(task.id, task);
    for (const thread of task.threads) threads.set(thread, task.id);
  };
  for (const [thread, name] of [
    [startup.wortel, 'wortel'],
    [startup.physmem, 'physmem'],
    [me, 'task'],
    [startup.policy, 'policy'],
  ] as const) {
    if (thread) addTask({ id: thread & 0x3fff, name, creator: 0, threads: [thread], utcbs: new Set([0]), slot: -1, module: null, watchers: new Set(), boot: -1, managed: false });
  }

  yield* policy.negotiate(env, numberOption(options, 'guarantee', DEFAULT_GUARANTEE));
  const startupContainer = yield* physmem.create(env);
  const freeSlots: number[] = [];
  let nextSlot = 0;
  let nextTask = self + 1;
  let nextThread = FIRST_THREAD_NUMBER;
  const modulePages = new Set<number>();

  // ---- Privileged calls through wortel ----------------------------------------------------------

  function* privileged(label: number, words: readonly number[]): Op<number[]> {
    const reply = yield* rpc(env, startup.wortel, label, words);
    if (reply.label !== 0) throw new Refusal(replyErrorName(reply), 'wortel refused a privileged call');
    return reply.words;
  }

  function* threadControl(dest: number, space: number, scheduler: number, pager: number, utcb: number): Op<void> {
    const [result, errorCode] = yield* privileged(WortelOp.ThreadControl, [dest, space, scheduler, pager, utcb]);
    if (!result) throw new Refusal(errorCode === 8 ? 'ENOMEM' : 'EAGAIN', `ThreadControl failed with error ${errorCode}`);
  }

  // ---- Ids -------------------------------------------------------------------------------------

  function allocateTaskId(): number {
    for (let tries = 0; tries <= MAX_TASK; tries++) {
      const id = nextTask;
      nextTask = nextTask >= MAX_TASK ? self + 1 : nextTask + 1;
      if ((id & 0x3f) !== 0 && !tasks.has(id)) return id;
    }
    throw new Refusal('EAGAIN', 'no task id left');
  }

  function allocateThreadNumber(): number {
    const used = new Set([...threads.keys()].map((id) => id >>> 14));
    for (let tries = FIRST_THREAD_NUMBER; tries <= MAX_THREAD_NUMBER; tries++) {
      const number = nextThread;
      nextThread = nextThread >= MAX_THREAD_NUMBER ? FIRST_THREAD_NUMBER : nextThread + 1;
      if (!used.has(number)) return number;
    }
    throw new Refusal('EAGAIN', 'no thread number left');
  }

  // ---- Creation ------------------------------------------------------------------------------

  /** A new task running the program at `ip`, named `name` (or its creator's name and its id). */
  function* createTask(name: string | null, creator: Task | null, ip: number, threadNumber: number, module: Task['module'], boot: number, commandLine: string): Op<number> {
    const id = allocateTaskId();
    name ??= `${creator?.name ?? 'task'}/${id}`;
    const main = globalId(threadNumber, id);
    refuseUnless(!threads.has(main), 'EAGAIN', `thread ${threadNumber} exists`);
    const slot = freeSlots.pop() ?? nextSlot++;
    const window = STARTUP_WINDOW + slot * PAGE;
    yield* physmem.allocate(env, startupContainer, slot, 1);
    yield* physmem.map(env, startupContainer, slot, 1, window, Rights.ReadWrite);
    const data: Startup = {
      flags: StartupFlags.Task,
      task: id,
      wortel: startup.wortel,
      physmem: startup.physmem,
      taskServer: me,
      policy: startup.policy,
      moduleBase: module ? MODULE_BASE : 0,
      moduleLength: module ? module.length : 0,
      name,
      commandLine,
    };
    yield* env.writeWords(window, startupWords(data));
    try {
      yield* threadControl(main, main, me, NILTHREAD, UTCB_BASE);
    } catch (error) {
      yield* physmem.deallocate(env, startupContainer, slot, 1);
      freeSlots.push(slot);
      throw error;
    }
    const [spaceOk] = yield* privileged(WortelOp.SpaceControl, [main, 0, KIP_AREA, UTCB_AREA, 0]);
    const task: Task = { id, name, creator: creator?.id ?? 0, threads: [main], utcbs: new Set([0]), slot, module, watchers: new Set(), boot, managed: true };
    addTask(task);
    if (!spaceOk) {
      yield* destroy(task, DeathCause.Destroyed, 0);
      throw new Refusal('ENOMEM', 'SpaceControl failed');
    }
    yield* physmem.taskStarted(env, id);
    yield* threadControl(main, main, me, me, UTCB_BASE);
    // We are its pager: its first message from us is the start message (IP, SP).
    yield* loadMessage(env, { label: 0, words: [ip, STARTUP_PAGE] });
    yield* send(env, main);
    return id;
  }

  function* createThread(task: Task, pager: number): Op<number> {
    let utcb = 0;
    while (task.utcbs.has(utcb)) utcb++;
    refuseUnless(utcb < UTCB_SLOTS, 'EAGAIN', `task ${task.id} has ${UTCB_SLOTS} threads`);
    const thread = globalId(allocateThreadNumber(), task.id);
    yield* threadControl(thread, task.threads[0]!, me, pager || me, UTCB_BASE + utcb * 512);
    task.utcbs.add(utcb);
    task.threads.push(thread);
    threads.set(thread, task.id);
    return thread;
  }

  // ---- Destruction ---------------------------------------------------------------------------

  /**
   * Deletes a task's threads and so its space (the kernel removes every mapping in it), then
   * gives back its memory and tells those who must know. The space goes first, so physmem never
   * forgets a task whose mappings still exist.
   */
  function* destroy(task: Task, cause: number, status: number): Op<void> {
    tasks.delete(task.id);
    for (const thread of task.threads) threads.delete(thread);
    for (const thread of task.threads) yield* threadControl(thread, NILTHREAD, NILTHREAD, NILTHREAD, 0);
    if (task.slot >= 0) {
      yield* physmem.deallocate(env, startupContainer, task.slot, 1);
      freeSlots.push(task.slot);
    }
    yield* physmem.taskDied(env, task.id);
    if (task.boot >= 0) yield* rpc(env, startup.wortel, WortelOp.TaskDied, [task.id, cause, status]);
    for (const watcher of task.watchers) loop.post(watcher, { label: TaskNotice.Death, words: [task.id, cause, status] });
    for (const other of tasks.values()) for (const watcher of other.watchers) if ((watcher & 0x3fff) === task.id) other.watchers.delete(watcher);
  }

  // ---- Paging the first thread ----------------------------------------------------------------

  /** The map item for the task's startup or module page at `page`, or null if it has none there. */
  function* imageItem(task: Task, page: number): Op<[number, number] | null> {
    if (page === STARTUP_PAGE && task.slot >= 0) return mapItem(page, fpage(STARTUP_WINDOW + task.slot * PAGE, 12, Rights.ReadExecute));
    const module = task.module;
    if (!module || page < MODULE_BASE || page >= MODULE_BASE + module.length) return null;
    const physical = module.base + (page - MODULE_BASE);
    const window = MODULE_WINDOW + physical;
    if (!modulePages.has(window)) {
      yield* setAcceptor(env, acceptor(fpage(window, 12)));
      yield* loadMessage(env, { label: Label.Sigma0, words: [fpage(physical, 12), 0] });
      const result = yield* call(env, SIGMA0);
      yield* setAcceptor(env, 0);
      if (result.tag.error || result.tag.typed !== 2) return null;
      modulePages.add(window);
    }
    return mapItem(page, fpage(window, 12, Rights.ReadExecute));
  }

  // ---- Requests ------------------------------------------------------------------------------

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    const w = request.words;
    const word = (i: number): number => (w[i] ?? 0) >>> 0;
    const from = request.from;
    const caller = tasks.get(from & 0x3fff);
    const label = request.tag.label;
    if ((label & 0xfff0) === Label.PageFault && caller && w.length === 2) {
      const page = Math.floor(word(0) / PAGE) * PAGE;
      const item = yield* imageItem(caller, page);
      if (item) return { label: 0, items: item };
      yield* print(env, `task: ${caller.name} (task ${caller.id}) faulted at 0x${word(0).toString(16)}, where nothing pages it\n`);
      if (caller.managed) yield* destroy(caller, DeathCause.Faulted, 0);
      return null;
    }
    if (isExceptionMessage(request.tag) && caller) {
      // A thread of a task raised an exception (the kernel's console line says which and why).
      const exception = decodeExceptionMessage(w);
      if (caller.managed) yield* destroy(caller, DeathCause.Crashed, exception.exception);
      return null;
    }
    if (label === PhysmemNotice.Kill) {
      // From physmem only: a task that ignored a reclaim request.
      const victim = tasks.get(word(0));
      if (from === startup.physmem && victim?.managed) yield* destroy(victim, DeathCause.Killed, 0);
      return null;
    }
    refuseUnless(caller !== undefined, 'ESRCH', `thread ${from >>> 14}.${from & 0x3fff} is of no task`);
    switch (label) {
      case TaskOp.CreateTask: {
        const length = Math.min(word(1), CREATE_TASK_ARGS_BYTES, 4 * (w.length - 2));
        const commandLine = decodeUtf8(unpackWords(w.slice(2), length));
        const id = yield* createTask(null, caller, word(0), allocateThreadNumber(), null, -1, commandLine);
        return { label: 0, words: [id] };
      }
      case TaskOp.DestroyTask: {
        const target = tasks.get(word(0));
        refuseUnless(target !== undefined, 'ESRCH', `no task ${word(0)}`);
        const system = [startup.wortel, startup.physmem, startup.policy].some((t) => t && (t & 0x3fff) === caller.id);
        refuseUnless(target.creator === caller.id || target === caller || system, 'EPERM', `task ${caller.id} may not destroy task ${target.id}`);
        refuseUnless(target.managed, 'EPERM', `task ${target.id} is a bootstrap task`);
        yield* destroy(target, DeathCause.Destroyed, 0);
        return target === caller ? null : { label: 0 };
      }
      case TaskOp.CreateThread:
        return { label: 0, words: [yield* createThread(caller, word(0))] };
      case TaskOp.TaskOf: {
        const task = threads.get(word(0));
        refuseUnless(task !== undefined, 'ESRCH', `no thread ${word(0) >>> 14}.${word(0) & 0x3fff}`);
        return { label: 0, words: [task] };
      }
      case TaskOp.ThreadId: {
        for (const thread of threads.keys()) if (thread >>> 14 === word(0)) return { label: 0, words: [thread] };
        throw new Refusal('ESRCH', `no thread number ${word(0)}`);
      }
      case TaskOp.Watch: {
        const target = tasks.get(word(0));
        refuseUnless(target !== undefined, 'ESRCH', `no task ${word(0)}`);
        target.watchers.add(from);
        return { label: 0 };
      }
      case TaskOp.Exit:
        refuseUnless(caller.managed, 'EPERM', 'a bootstrap task cannot exit');
        yield* destroy(caller, DeathCause.Exited, word(0));
        return null;
      case TaskOp.Lookup: {
        // Boot programs are named by their modules, so a program finds a server the image
        // holds (the store, the central pager) by name. The lowest task id wins a tie.
        const length = Math.min(word(0), LOOKUP_NAME_BYTES, 4 * (w.length - 1));
        const name = decodeUtf8(unpackWords(w.slice(1), length));
        let found: Task | undefined;
        for (const candidate of tasks.values()) if (candidate.name === name && (!found || candidate.id < found.id)) found = candidate;
        refuseUnless(found !== undefined, 'ESRCH', `no task named ${name}`);
        return { label: 0, words: [found.threads[0]!] };
      }
      case TaskOp.MapImage: {
        const item = yield* imageItem(caller, Math.floor(word(0) / PAGE) * PAGE);
        refuseUnless(item !== null, 'EINVAL', `task ${caller.id} has no image page at 0x${word(0).toString(16)}`);
        return { label: 0, items: item };
      }
      default:
        throw new Refusal('EINVAL', `no operation 0x${label.toString(16)}`);
    }
  }

  const loop: ServerLoop = new ServerLoop(env, 'task', handle);

  // The image's boot programs, as wortel lists them.
  for (let index = 0; ; index++) {
    const reply = yield* rpc(env, startup.wortel, WortelOp.BootProgram, [index]);
    const [found, base, length, entry, threadNumber, nameBytes, commandLineBytes] = reply.words;
    if (reply.label !== 0 || !found) break;
    const name = cString(unpackWords(reply.words.slice(7, 7 + BOOT_NAME_WORDS), nameBytes!));
    const commandLine = cString(unpackWords(reply.words.slice(7 + BOOT_NAME_WORDS, 7 + BOOT_NAME_WORDS + BOOT_COMMAND_LINE_WORDS), commandLineBytes!));
    let id = 0;
    try {
      id = yield* createTask(name, null, entry!, threadNumber!, { base: base!, length: length! }, index, commandLine);
    } catch (error) {
      yield* print(env, `task: cannot start ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    yield* rpc(env, startup.wortel, WortelOp.BootStarted, [index, id]);
  }
  return yield* loop.run();
});
