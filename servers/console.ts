// Console output for programs: print sends text to wortel, which writes it to the console, so
// the output of every program comes out in one deterministic order. A message carries the byte
// count in MR1 and up to PRINT_CHUNK bytes of UTF-8 packed into the words after it; longer text
// goes in several messages. wortel answers each with an empty message.
//
// wortel is found through the startup page; a program without one (started by hand in a
// kernel test) prints through its pager, which is how wortel is reached in that case too.

import { TCR_PAGER, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { loadMessage, readTcr } from '../libl4/registers.ts';
import { call } from '../libl4/syscalls.ts';
import { startupOf } from './startup.ts';
import { decodeUtf8, encodeUtf8, packWords, unpackWords } from './text.ts';
import { PRINT_CHUNK, WortelOp } from './wortel-protocol.ts';

/** Writes `text` to the console through wortel. */
export function* print(env: ProgramEnv, text: string): Op<void> {
  const bytes = encodeUtf8(text);
  const wortel = (yield* startupOf(env)).wortel || (yield* readTcr(env, TCR_PAGER));
  for (let offset = 0; offset < bytes.length || offset === 0; offset += PRINT_CHUNK) {
    const chunk = bytes.subarray(offset, offset + PRINT_CHUNK);
    yield* loadMessage(env, { label: WortelOp.Print, words: [chunk.length, ...packWords(chunk)] });
    yield* call(env, wortel);
    if (bytes.length === 0) break;
  }
}

/** The text of a print message whose untyped words are `words` (MR1..). */
export function printText(words: readonly number[]): string {
  const length = Math.min(words[0] ?? 0, (words.length - 1) * 4, PRINT_CHUNK);
  return decodeUtf8(unpackWords(words.slice(1), length));
}
