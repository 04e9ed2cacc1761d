// The program runtime: what turns main(env, args) into a program module.
//
// A program module's bundle default-exports program(main). When its first thread starts, SP
// is the address of its startup page (startup.ts), written by whoever started it. The runtime
// reads it (the command line is main's `args`); in a task of the task server it starts the
// task's default pager first (default-pager.ts), so main may touch memory right away. main
// returns an exit status; an exception in main prints `NAME: error: ...` and makes the status 1.
// Then the runtime ends the program:
//   - a task of the task server calls its exit (the task server destroys the task and tells
//     wortel and the task's watchers the status);
//   - a program wortel started itself (the bootstrap servers, programs of a bare image) sends
//     the status to its pager, wortel, with label EXIT_LABEL and one word, and waits there for
//     good: wortel deletes it.
// The program's exception handler (libl4/exception.ts) is whoever started it: a task's thread
// that raises an exception ends the task (the task server reports it as crashed), a program
// wortel started is reported by wortel. Threads created later inherit nothing: a thread sets
// its own handler, and one without a handler is halted and reported by the kernel.
// A thread started elsewhere than at the startup page (task.createThread with program(main) as
// its body) is not a program's first thread: it runs main with no command line, and its end
// ends only that thread.
// Console output: print (console.ts).

import { TCR_EXCEPTION_HANDLER, TCR_PAGER, type Op, type ProgramBody, type ProgramEnv } from '../libl4/abi.ts';
import { loadMessage, readTcr, writeTcr } from '../libl4/registers.ts';
import { call } from '../libl4/syscalls.ts';
import { print } from './console.ts';
import { startDefaultPager } from './default-pager.ts';
import { STARTUP_PAGE, StartupFlags, startupOf } from './startup.ts';
import * as task from './task/client.ts';
import { WortelOp } from './wortel-protocol.ts';

export { print, printText } from './console.ts';
export { decodeUtf8, encodeUtf8 } from './text.ts';
export { MODULE_BASE, STARTUP_MAGIC, STARTUP_PAGE } from './startup.ts';
export { PRINT_CHUNK } from './wortel-protocol.ts';
export const EXIT_LABEL = WortelOp.Exit;
export const PRINT_LABEL = WortelOp.Print;

export type ProgramMain = (env: ProgramEnv, args: string) => Op<number>;

export function program(main: ProgramMain): ProgramBody {
  return function* start(env: ProgramEnv): Op<void> {
    if (env.sp !== STARTUP_PAGE && (yield* startupOf(env)).task !== 0) {
      yield* main(env, '');
      return;
    }
    const startup = yield* startupOf(env, env.sp);
    const inTask = (startup.flags & StartupFlags.Task) !== 0;
    // Whoever started the program hears of its exceptions: the task server, or wortel.
    const handler = inTask ? startup.taskServer : startup.wortel;
    if (handler) yield* writeTcr(env, TCR_EXCEPTION_HANDLER, handler);
    let status: number;
    try {
      if (inTask) yield* startDefaultPager(env, startup);
      status = yield* main(env, startup.commandLine);
    } catch (error) {
      yield* print(env, `${startup.name || 'program'}: ${describe(error)}\n`);
      status = 1;
    }
    if (inTask) yield* task.exit(env, status);
    const pager = yield* readTcr(env, TCR_PAGER);
    yield* loadMessage(env, { label: EXIT_LABEL, words: [status >>> 0] });
    // Call: the pager answers by deleting us, so this never returns.
    for (;;) yield* call(env, pager);
  };
}

function describe(error: unknown): string {
  try {
    return error !== null && typeof error === 'object' && 'message' in error ? `error: ${String((error as { message: unknown }).message)}` : `error: ${String(error)}`;
  } catch {
    return 'error: an exception that cannot be shown';
  }
}

/** `key=value` words of a command line (words without '=' map to ''). */
export function commandLineOptions(args: string): Record<string, string> {
  const options: Record<string, string> = {};
  for (const word of args.split(' ')) {
    if (!word) continue;
    const at = word.indexOf('=');
    if (at < 0) options[word] = '';
    else options[word.slice(0, at)] = word.slice(at + 1);
  }
  return options;
}

/** A whole number option, or `fallback` when absent; a malformed one throws. */
export function numberOption(options: Record<string, string>, name: string, fallback: number): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name}=${text}: a whole number is needed`);
  return value;
}
