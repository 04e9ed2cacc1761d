// The acceptor (BR0): what a receiver is willing to take besides untyped words.
//
//   31                                   4 3 2 1 0
//  +--------------------------------------+-----+-+
//  | receive window (fpage bits 31-4)     | 0 0 0|s|
//  +--------------------------------------+-----+-+
//   s: accept string items. The window is an fpage with its rights bits dropped: map and grant
//   items land inside it; a nil window makes any map or grant item a message-overflow error.
//
// A page-fault reply needs the complete address space as window; an ordinary client of a server
// that sends no memory keeps the nil window.

import { isWellFormedFpage } from './fpage.ts';

export const ACCEPT_STRINGS = 0x1;
export const ACCEPTOR_WINDOW_MASK = 0xfffffff0;

/** BR0 taken apart. */
export interface Acceptor {
  /** The receive window as an fpage word (rights bits zero). */
  window: number;
  acceptStrings: boolean;
}

/** The BR0 word for `acceptor`. RangeError when the window is not a well-formed fpage. */
export function encodeAcceptor(acceptor: Acceptor): number {
  if (!Number.isInteger(acceptor.window) || !isWellFormedFpage(acceptor.window)) {
    throw new RangeError(`receive window 0x${(acceptor.window >>> 0).toString(16)} is not a well-formed fpage`);
  }
  return ((acceptor.window & ACCEPTOR_WINDOW_MASK) | (acceptor.acceptStrings ? ACCEPT_STRINGS : 0)) >>> 0;
}

/** Shorthand for encodeAcceptor: the window `windowFpage` (its rights are ignored). */
export function acceptor(windowFpage: number, acceptStrings = false): number {
  return encodeAcceptor({ window: windowFpage, acceptStrings });
}

/** The fields of a BR0 word (never throws). */
export function decodeAcceptor(word: number): Acceptor {
  return { window: (word & ACCEPTOR_WINDOW_MASK) >>> 0, acceptStrings: (word & ACCEPT_STRINGS) !== 0 };
}
