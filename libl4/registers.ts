// Access to the virtual registers in the caller's UTCB: message registers (MR0..MR63), buffer
// registers (BR0..BR32) and thread control registers, plus loading and storing whole messages.
//
// The UTCB is ordinary memory of the thread's address space (abi.ts gives the layout), so every
// access is a yield* point through the ProgramEnv and may fault. Whole messages are moved with one
// readWords/writeWords call rather than word by word. Names follow L4: "load" puts values into
// the registers, "store" takes them out. Values read back are unsigned 32-bit numbers.

import { BR_COUNT, MR_COUNT, UTCB_BR_OFFSET, brOffset, mrOffset } from './abi.ts';
import type { Op, ProgramEnv } from './abi.ts';
import { MAX_MESSAGE_WORDS, decodeMsgTag, encodeMsgTag } from './msg-tag.ts';
import type { MsgTag } from './msg-tag.ts';

/** A message to send: the label and the words after MR0 (the tag is made from their counts). */
export interface OutgoingMessage {
  label: number;
  /** Untyped words, MR1..MRu. */
  words?: readonly number[];
  /** Typed words (map and grant items, ...), after the untyped ones. */
  items?: readonly number[];
}

/** A message as found in the message registers. */
export interface StoredMessage {
  tag: MsgTag;
  /** Untyped words MR1..MRu. */
  words: number[];
  /** Typed words MR(u+1)..MR(u+t). */
  items: number[];
}

function checkRange(what: string, first: number, count: number, limit: number): void {
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > limit) {
    throw new RangeError(`${what} ${first}..${first + count - 1} are outside 0..${limit - 1}`);
  }
}

/** Writes `words` into MR(first).. (first defaults to MR0). */
export function* loadMRs(env: ProgramEnv, words: readonly number[], first = 0): Op<void> {
  checkRange('message registers', first, words.length, MR_COUNT);
  if (words.length === 0) return;
  yield* env.writeWords(env.utcb + mrOffset(first), words.map((word) => word >>> 0));
}

/** Reads MR(first)..MR(first+count-1) (first defaults to MR0). */
export function* storeMRs(env: ProgramEnv, count: number, first = 0): Op<number[]> {
  checkRange('message registers', first, count, MR_COUNT);
  if (count === 0) return [];
  const words = yield* env.readWords(env.utcb + mrOffset(first), count);
  return words.map((word) => word >>> 0);
}

/** Writes `words` into BR(first).. (first defaults to BR0). */
export function* loadBRs(env: ProgramEnv, words: readonly number[], first = 0): Op<void> {
  checkRange('buffer registers', first, words.length, BR_COUNT);
  if (words.length === 0) return;
  yield* env.writeWords(env.utcb + brOffset(first), words.map((word) => word >>> 0));
}

/** Writes the acceptor word (see acceptor.ts) into BR0. */
export function* setAcceptor(env: ProgramEnv, acceptorWord: number): Op<void> {
  yield* env.write32(env.utcb + brOffset(0), acceptorWord >>> 0);
}

function checkTcrOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset >= UTCB_BR_OFFSET || offset % 4 !== 0) {
    throw new RangeError(`0x${offset.toString(16)} is not the offset of a thread control register`);
  }
}

/** Reads the thread control register at `offset` (a TCR_* constant of abi.ts). */
export function* readTcr(env: ProgramEnv, offset: number): Op<number> {
  checkTcrOffset(offset);
  return (yield* env.read32(env.utcb + offset)) >>> 0;
}

/** Writes the thread control register at `offset` (a TCR_* constant of abi.ts). */
export function* writeTcr(env: ProgramEnv, offset: number, value: number): Op<void> {
  checkTcrOffset(offset);
  yield* env.write32(env.utcb + offset, value >>> 0);
}

/** Loads MR0 (the tag made from the counts) and the words of `message`. RangeError past 63 words. */
export function* loadMessage(env: ProgramEnv, message: OutgoingMessage): Op<void> {
  const words = message.words ?? [];
  const items = message.items ?? [];
  if (words.length + items.length > MAX_MESSAGE_WORDS) {
    throw new RangeError(`message of ${words.length + items.length} words exceeds ${MAX_MESSAGE_WORDS} words`);
  }
  const tag = encodeMsgTag({ label: message.label, untyped: words.length, typed: items.length });
  yield* loadMRs(env, [tag, ...words, ...items]);
}

/**
 * The received message: its tag (read from MR0 unless given) and the untyped and typed words it
 * announces. Counts that run past MR63 are cut at MR63.
 */
export function* storeMessage(env: ProgramEnv, tag?: MsgTag): Op<StoredMessage> {
  const known = tag ?? decodeMsgTag((yield* storeMRs(env, 1))[0]!);
  const untyped = Math.min(known.untyped, MR_COUNT - 1);
  const typed = Math.min(known.typed, MR_COUNT - 1 - untyped);
  const body = yield* storeMRs(env, untyped + typed, 1);
  return { tag: known, words: body.slice(0, untyped), items: body.slice(untyped) };
}
