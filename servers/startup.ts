// The startup page: what a program finds at its stack pointer when it starts.
//
// Whoever starts a program (wortel for the bootstrap servers and in bare images, the task server
// for every task) writes this page and maps it at STARTUP_PAGE in the program's space, then
// starts the program's first thread with SP = STARTUP_PAGE. Little-endian u32 words:
//
//   +0   magic 'STUP' (0x50555453)     +24  task server's thread id (0: none, a bare image)
//   +4   layout version (2)            +28  policy server's thread id (0: none)
//   +8   flags (StartupFlags)          +32  address of the module's pages in the space (0: none)
//   +12  the program's task id         +36  module length in bytes
//   +16  wortel's thread id (console)  +40  name length in bytes (up to 31)
//   +20  physmem's thread id (0: none) +44  command-line length in bytes (up to 4016)
//   +48  name, UTF-8, 32 bytes         +80  command line, UTF-8
//
// The page is read-only for the program. Server clients (servers/*/client.ts) find their
// servers here, so every thread of a task can reach them without being told.

import type { Op, ProgramEnv } from '../libl4/abi.ts';
import { decodeUtf8, encodeUtf8, packWords, unpackWords } from './text.ts';

export const STARTUP_MAGIC = 0x50555453;
export const STARTUP_VERSION = 2;
export const STARTUP_PAGE = 0x00300000;
/** Where a program's module pages appear in its space. */
export const MODULE_BASE = 0x00400000;
export const STARTUP_NAME_BYTES = 32;
const HEADER_BYTES = 80;
export const STARTUP_COMMAND_LINE_BYTES = 4096 - HEADER_BYTES;

export const StartupFlags = {
  /** A task of the task server: the runtime starts its default pager and exits through the task server. */
  Task: 1,
} as const;

export interface Startup {
  readonly flags: number;
  readonly task: number;
  readonly wortel: number;
  readonly physmem: number;
  readonly taskServer: number;
  readonly policy: number;
  readonly moduleBase: number;
  readonly moduleLength: number;
  readonly name: string;
  readonly commandLine: string;
}

/** The page's contents as words, for writeWords at the page's start (name and command line cut to fit). */
export function startupWords(startup: Startup): number[] {
  const name = cut(encodeUtf8(startup.name), STARTUP_NAME_BYTES - 1);
  const commandLine = cut(encodeUtf8(startup.commandLine), STARTUP_COMMAND_LINE_BYTES);
  const words = [
    STARTUP_MAGIC,
    STARTUP_VERSION,
    startup.flags,
    startup.task,
    startup.wortel,
    startup.physmem,
    startup.taskServer,
    startup.policy,
    startup.moduleBase,
    startup.moduleLength,
    name.length,
    commandLine.length,
  ].map((word) => word >>> 0);
  return [...words, ...packWords(name, STARTUP_NAME_BYTES), ...packWords(commandLine)];
}

/** Reads the startup page at `address`; null when it holds no startup page of this layout. */
export function* readStartup(env: ProgramEnv, address: number = STARTUP_PAGE): Op<Startup | null> {
  const head = yield* env.readWords(address, HEADER_BYTES / 4);
  if (head[0] !== STARTUP_MAGIC || head[1] !== STARTUP_VERSION) return null;
  const nameLength = Math.min(head[10]!, STARTUP_NAME_BYTES - 1);
  const commandLineLength = Math.min(head[11]!, STARTUP_COMMAND_LINE_BYTES);
  return {
    flags: head[2]!,
    task: head[3]!,
    wortel: head[4]!,
    physmem: head[5]!,
    taskServer: head[6]!,
    policy: head[7]!,
    moduleBase: head[8]!,
    moduleLength: head[9]!,
    name: decodeUtf8(unpackWords(head.slice(12, 20), nameLength)),
    commandLine: decodeUtf8(yield* env.readBytes(address + HEADER_BYTES, commandLineLength)),
  };
}

const cache = new WeakMap<ProgramEnv, Startup>();
const NONE: Startup = { flags: 0, task: 0, wortel: 0, physmem: 0, taskServer: 0, policy: 0, moduleBase: 0, moduleLength: 0, name: '', commandLine: '' };

/**
 * The startup data of the calling thread's task, read once per thread from `address` (default
 * STARTUP_PAGE; a program's first thread finds it at its SP). A program started without a
 * startup page sees no servers (every id 0).
 */
export function* startupOf(env: ProgramEnv, address: number = STARTUP_PAGE): Op<Startup> {
  const known = cache.get(env);
  if (known) return known;
  const startup = (yield* readStartup(env, address)) ?? NONE;
  cache.set(env, startup);
  return startup;
}

function cut(bytes: Uint8Array, limit: number): Uint8Array {
  return bytes.length <= limit ? bytes : bytes.subarray(0, limit);
}
