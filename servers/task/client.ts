// The task server's client interface.
//
//   const child = yield* task.createTask(env, program(childMain), 'n=3');
//   yield* task.watch(env, child);            // this thread is told when it dies
//   const worker = yield* task.createThread(env, function* (env) { ... });
//
// A task's id is the version field of its threads' ids, so `self` needs no request. Errors
// throw a TaskError with a POSIX `code`: ESRCH no such task or thread, EPERM not allowed,
// EAGAIN no id or thread slot left, EINVAL a malformed request, ENOSYS no task server here.
//
// What a watcher receives when a task dies: a message (sent, not a call: do not reply) with
// label TaskNotice.Death (0x5440) and three words: the task, the cause (DeathCause: 0 exited, 1
// destroyed, 2 killed by physmem for ignoring a reclaim request, 3 faulted where nothing pages
// it, 4 crashed: a thread raised an exception) and its exit status (for a crash, the exception
// number; 0 for the other causes). It arrives when the watching thread next waits
// for a message from anyone; `deathNotice` decodes it.

import { TCR_EXCEPTION_HANDLER, TCR_MY_GLOBAL_ID, TCR_PAGER, ExchangeControl, type Op, type ProgramBody, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { completeFpage } from '../../libl4/fpage.ts';
import { readTcr, writeTcr } from '../../libl4/registers.ts';
import { exchangeRegisters } from '../../libl4/syscalls.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import { replyErrorName, rpc, type RpcReply } from '../rpc.ts';
import { startupOf } from '../startup.ts';
import { encodeUtf8, packWords } from '../text.ts';
import { CREATE_TASK_ARGS_BYTES, LOOKUP_NAME_BYTES, TaskNotice, TaskOp } from './protocol.ts';

export { DeathCause, DEATH_CAUSE_NAMES } from './protocol.ts';

export class TaskError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('task', code, message);
    this.name = 'TaskError';
  }
}

/** What a watcher is told when a task dies. */
export interface DeathNotice {
  readonly task: number;
  /** DeathCause. */
  readonly cause: number;
  readonly status: number;
}

function* request(env: ProgramEnv, label: number, words: readonly number[], acceptorWord?: number): Op<RpcReply> {
  const server = (yield* startupOf(env)).taskServer;
  if (!server) throw new TaskError('ENOSYS', 'there is no task server in this image');
  const reply = yield* rpc(env, server, label, words, acceptorWord);
  if (reply.label !== 0) throw new TaskError(replyErrorName(reply));
  return reply;
}

/** The caller's task id. */
export function* self(env: ProgramEnv): Op<number> {
  return (yield* readTcr(env, TCR_MY_GLOBAL_ID)) & 0x3fff;
}

/**
 * A new task whose first thread runs `body` (a program body such as `program(main)`, which
 * gets `args` as its command line; at most 240 bytes). Resolves to the task id.
 */
export function* createTask(env: ProgramEnv, body: ProgramBody, args: string = ''): Op<number> {
  const bytes = encodeUtf8(args);
  if (bytes.length > CREATE_TASK_ARGS_BYTES) throw new TaskError('EINVAL', `a command line of ${bytes.length} bytes (at most ${CREATE_TASK_ARGS_BYTES})`);
  return (yield* request(env, TaskOp.CreateTask, [env.codeAddress(body), bytes.length, ...packWords(bytes)])).words[0]!;
}

/** Destroys a task: the caller's own, one it created, or any (physmem, policy, wortel). */
export function* destroyTask(env: ProgramEnv, task: number): Op<void> {
  yield* request(env, TaskOp.DestroyTask, [task >>> 0]);
}

/**
 * A new thread in the caller's task running `body`, paged by the caller's pager, started with
 * SP = `sp` (a word the body finds in env.sp). Threads of a task share the program's state, so
 * a closure is the usual way to hand a thread what it needs. A body made with program(main)
 * runs main with an empty command line, and its end ends only that thread. Resolves to the
 * thread id.
 */
export function* createThread(env: ProgramEnv, body: ProgramBody, sp: number = 0): Op<number> {
  const ip = env.codeAddress(withExceptionHandler(body));
  const pager = yield* readTcr(env, TCR_PAGER);
  const thread = (yield* request(env, TaskOp.CreateThread, [pager])).words[0]!;
  // Threads of one space start each other with ExchangeRegisters.
  yield* exchangeRegisters(env, thread, ExchangeControl.SetIp | ExchangeControl.SetSp, sp >>> 0, ip, 0, 0, 0);
  return thread;
}

const handled = new WeakMap<ProgramBody, ProgramBody>();

/**
 * `body`, made to name the task server as its thread's exception handler first (a thread's
 * exception handler is a register of its own), so that an exception in any thread of a task
 * ends the task as one in its first thread does. The same body always gets the same wrapper.
 */
function withExceptionHandler(body: ProgramBody): ProgramBody {
  let wrapped = handled.get(body);
  if (!wrapped) {
    wrapped = function* thread(tenv: ProgramEnv): Op<void> {
      const server = (yield* startupOf(tenv)).taskServer;
      if (server) yield* writeTcr(tenv, TCR_EXCEPTION_HANDLER, server);
      yield* body(tenv);
    };
    handled.set(body, wrapped);
  }
  return wrapped;
}

/** The task a thread belongs to. */
export function* taskOf(env: ProgramEnv, thread: number): Op<number> {
  return (yield* request(env, TaskOp.TaskOf, [thread >>> 0])).words[0]!;
}

/** The global id of the live thread with thread number `number` (boot programs: 1000 + their place). */
export function* threadId(env: ProgramEnv, number: number): Op<number> {
  return (yield* request(env, TaskOp.ThreadId, [number >>> 0])).words[0]!;
}

/** Asks to be told (this thread) when `task` dies. */
export function* watch(env: ProgramEnv, task: number): Op<void> {
  yield* request(env, TaskOp.Watch, [task >>> 0]);
}

/** Ends the caller's task with exit `status`. Never returns. */
export function* exit(env: ProgramEnv, status: number): Op<never> {
  yield* request(env, TaskOp.Exit, [status >>> 0]);
  throw new TaskError('EIO', 'the task server did not end the task');
}

/** Has the task server map the caller's startup page or module page at `address` (for pagers). */
export function* mapImage(env: ProgramEnv, address: number): Op<void> {
  yield* request(env, TaskOp.MapImage, [address >>> 0], acceptor(completeFpage()));
}

/**
 * The first thread of the live task named `name` (a boot program is named by its module: the
 * store, the central pager), for finding a server the image holds. ESRCH when there is none.
 */
export function* lookup(env: ProgramEnv, name: string): Op<number> {
  const bytes = encodeUtf8(name);
  if (bytes.length > LOOKUP_NAME_BYTES) throw new TaskError('EINVAL', `a name of ${bytes.length} bytes (at most ${LOOKUP_NAME_BYTES})`);
  return (yield* request(env, TaskOp.Lookup, [bytes.length, ...packWords(bytes)])).words[0]!;
}

/** The death notice a received message (its label and untyped words) is, or null for any other. */
export function deathNotice(label: number, words: readonly number[]): DeathNotice | null {
  if (label !== TaskNotice.Death || words.length < 3) return null;
  return { task: words[0]!, cause: words[1]!, status: words[2]! };
}

