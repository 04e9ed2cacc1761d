// String items: a sender's strings in its message registers, a receiver's buffer strings in its
// buffer registers (BR1..BR32), and the transfer timeouts.
//
//   31                    10   9   8     4   3   2  1   0
//  +------------------------+---+--------+---+------+---+
//  | string length (22)     | c | j (5)  | 0 |  hh  | C |   word 0
//  +------------------------+---+--------+---+------+---+
//  | address of substring 1                              |   words 1..j+1: j+1 substrings, each
//  | ...                                                 |   `length` bytes long
//
//   c   compound: the next item continues the same logical string (with its own length and j)
//   C   in the buffer registers: another logical buffer string follows this one
//   hh  cache hints (ignored by the kernel)
//
// A logical string (its items joined by c) goes into one logical buffer string of the receiver:
// the sender gathers, the receiver scatters; the rest of that buffer is skipped. The receiver
// accepts strings with the acceptor's string bit (acceptor.ts) and lists its buffers with
// bufferStrings. A string that does not fit is a message overflow (error 4) for both sides, with
// the bytes transferred in the ErrorCode's offset (error.ts decodeIpcError).

import { TCR_XFER_TIMEOUTS } from './abi.ts';
import type { Op, ProgramEnv } from './abi.ts';
import { loadBRs, writeTcr } from './registers.ts';
import type { Timeout } from './timeout.ts';

export const STRING_LENGTH_SHIFT = 10;
export const MAX_STRING_LENGTH = 2 ** 22 - 1;
export const MAX_SUBSTRINGS = 32;
export const STRING_COMPOUND = 0x200;
export const STRING_MORE_BUFFERS = 0x1;

/** One part of a logical string: `addresses.length` substrings of `length` bytes each. */
export interface StringPart {
  readonly length: number;
  readonly addresses: readonly number[];
}

/** A decoded string item. */
export interface StringItem extends StringPart {
  /** c: the next item continues this logical string. */
  readonly compound: boolean;
  /** C: another buffer string follows (buffer registers). */
  readonly more: boolean;
  readonly cacheHints: number;
}

/** The words of one string item. RangeError for a length or substring count that does not fit. */
export function encodeStringItem(item: StringItem): number[] {
  if (!Number.isInteger(item.length) || item.length < 0 || item.length > MAX_STRING_LENGTH) {
    throw new RangeError(`string length ${item.length} is outside 0..${MAX_STRING_LENGTH}`);
  }
  const count = item.addresses.length;
  if (count < 1 || count > MAX_SUBSTRINGS) throw new RangeError(`a string item has 1 to ${MAX_SUBSTRINGS} substrings, not ${count}`);
  if (!Number.isInteger(item.cacheHints) || item.cacheHints < 0 || item.cacheHints > 3) throw new RangeError(`cache hints ${item.cacheHints} are outside 0..3`);
  const word0 = item.length * 2 ** STRING_LENGTH_SHIFT + (item.compound ? STRING_COMPOUND : 0) + ((count - 1) << 4) + (item.cacheHints << 1) + (item.more ? STRING_MORE_BUFFERS : 0);
  return [word0 >>> 0, ...item.addresses.map((address) => address >>> 0)];
}

/** The string item at `words[at]` and the number of words it takes (never throws; `null` if it runs past the words). */
export function decodeStringItem(words: readonly number[], at = 0): { item: StringItem; words: number } | null {
  const word0 = (words[at] ?? 0) >>> 0;
  const count = ((word0 >>> 4) & 0x1f) + 1;
  if (at + 1 + count > words.length) return null;
  return {
    item: {
      length: word0 >>> STRING_LENGTH_SHIFT,
      addresses: words.slice(at + 1, at + 1 + count).map((w) => w >>> 0),
      compound: (word0 & STRING_COMPOUND) !== 0,
      more: (word0 & STRING_MORE_BUFFERS) !== 0,
      cacheHints: (word0 >>> 1) & 3,
    },
    words: 1 + count,
  };
}

/** A simple string item: `length` bytes at `address`. */
export function stringItem(length: number, address: number): number[] {
  return encodeStringItem({ length, addresses: [address], compound: false, more: false, cacheHints: 0 });
}

/** One logical string of several parts (compound items), as typed words for a message. */
export function compoundString(parts: readonly StringPart[], more = false): number[] {
  if (parts.length === 0) throw new RangeError('a string has at least one part');
  return parts.flatMap((part, i) =>
    encodeStringItem({ length: part.length, addresses: part.addresses, compound: i < parts.length - 1, more: more && i === parts.length - 1, cacheHints: 0 }),
  );
}

/** The buffer registers' words for the receiver's buffer strings, in order (each a list of parts). */
export function bufferStrings(buffers: readonly (readonly StringPart[])[]): number[] {
  return buffers.flatMap((parts, i) => compoundString(parts, i < buffers.length - 1));
}

/** Loads buffer strings into BR1.. (set the acceptor's string bit in BR0 as well). */
export function* loadBufferStrings(env: ProgramEnv, buffers: readonly (readonly StringPart[])[]): Op<void> {
  yield* loadBRs(env, bufferStrings(buffers), 1);
}

/** The XferTimeouts TCR: the send half for strings this thread sends, the receive half for those it receives. */
export function* setXferTimeouts(env: ProgramEnv, send: Timeout, receive: Timeout): Op<void> {
  yield* writeTcr(env, TCR_XFER_TIMEOUTS, (((send & 0xffff) << 16) | (receive & 0xffff)) >>> 0);
}
