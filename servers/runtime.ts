// The start-up and exit protocol between the root task (wortel) and a program module.
//
// wortel starts a program's first thread with SP = the address of its startup page, which it
// maps on the thread's first fault there:
//
//   +0   magic 'STUP' (0x50555453)
//   +4   address of the module's own pages in the program's space
//   +8   module length in bytes
//   +12  command-line length in bytes
//   +16  the command line (UTF-8)
//
// The program's main(env, args) returns an exit status; the runtime then sends it to its pager
// (wortel) with label EXIT_LABEL and one word, and waits there for good: wortel deletes the task.
// A program module's bundle default-exports program(main).
//
// Console output goes through wortel too: print() calls the pager with label PRINT_LABEL,
// MR1 = the byte count and MR2.. the UTF-8 bytes packed little-endian into words, at most
// PRINT_CHUNK bytes a message; wortel writes them to the console and answers with an empty
// message, so the output of several programs interleaves deterministically.

import { TCR_PAGER, UTCB_MR_OFFSET, Syscall, type Op, type ProgramBody, type ProgramEnv } from '../libl4/abi.ts';

export const STARTUP_MAGIC = 0x50555453;
export const STARTUP_PAGE = 0x00300000;
/** Where a program's module pages appear in its space. */
export const MODULE_BASE = 0x00400000;
export const EXIT_LABEL = 0x4558; // 'EX'
export const PRINT_LABEL = 0x5052; // 'PR'
/** Bytes of text in one print message: 61 words after the count. */
export const PRINT_CHUNK = 244;

export type ProgramMain = (env: ProgramEnv, args: string) => Op<number>;

export function program(main: ProgramMain): ProgramBody {
  return function* start(env: ProgramEnv): Op<void> {
    let args = '';
    if ((yield* env.read32(env.sp)) === STARTUP_MAGIC) {
      const length = yield* env.read32(env.sp + 12);
      args = decodeUtf8(yield* env.readBytes(env.sp + 16, Math.min(length, 4080)));
    }
    let status: number;
    try {
      status = yield* main(env, args);
    } catch (error) {
      yield* print(env, `${describe(error)}\n`);
      status = 1;
    }
    const pager = yield* env.read32(env.utcb + TCR_PAGER);
    yield* env.writeWords(env.utcb + UTCB_MR_OFFSET, [((EXIT_LABEL << 16) | 1) >>> 0, status >>> 0]);
    // Call: the pager answers by deleting us, so this never returns.
    for (;;) yield* env.syscall(Syscall.Ipc, [pager, pager, 0]);
  };
}

/** Writes `text` to the console through the pager (wortel). */
export function* print(env: ProgramEnv, text: string): Op<void> {
  const bytes = encodeUtf8(text);
  const pager = yield* env.read32(env.utcb + TCR_PAGER);
  for (let offset = 0; offset < bytes.length || offset === 0; offset += PRINT_CHUNK) {
    const chunk = bytes.subarray(offset, offset + PRINT_CHUNK);
    const words = [0, chunk.length];
    for (let i = 0; i < chunk.length; i += 4) {
      words.push((chunk[i]! | ((chunk[i + 1] ?? 0) << 8) | ((chunk[i + 2] ?? 0) << 16) | ((chunk[i + 3] ?? 0) << 24)) >>> 0);
    }
    words[0] = ((PRINT_LABEL << 16) | (words.length - 1)) >>> 0;
    yield* env.writeWords(env.utcb + UTCB_MR_OFFSET, words);
    yield* env.syscall(Syscall.Ipc, [pager, pager, 0]);
    if (bytes.length === 0) break;
  }
}

/** The text of a print message whose untyped words are `words` (MR1..). */
export function printText(words: readonly number[]): string {
  const length = Math.min(words[0] ?? 0, (words.length - 1) * 4, PRINT_CHUNK);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (words[1 + (i >> 2)]! >>> ((i & 3) * 8)) & 0xff;
  return decodeUtf8(bytes);
}

function describe(error: unknown): string {
  return error !== null && typeof error === 'object' && 'message' in error ? `error: ${String((error as { message: unknown }).message)}` : `error: ${String(error)}`;
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

/** UTF-8 bytes to a string, without host text decoders (programs run without them). */
export function decodeUtf8(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let code: number;
    let extra: number;
    if (b < 0x80) [code, extra] = [b, 0];
    else if (b >= 0xf0) [code, extra] = [b & 0x07, 3];
    else if (b >= 0xe0) [code, extra] = [b & 0x0f, 2];
    else if (b >= 0xc0) [code, extra] = [b & 0x1f, 1];
    else [code, extra] = [0xfffd, 0];
    for (let j = 1; j <= extra; j++) code = (code << 6) | ((bytes[i + j] ?? 0) & 0x3f);
    out += String.fromCodePoint(code > 0x10ffff ? 0xfffd : code);
    i += 1 + extra;
  }
  return out;
}

/** A string to UTF-8 bytes, without host text encoders. */
export function encodeUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) out.push(code);
    else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    else if (code < 0x10000) out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    else out.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
  }
  return new Uint8Array(out);
}
