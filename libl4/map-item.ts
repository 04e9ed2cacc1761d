// Map and grant items: the two-word typed message items that hand memory to the receiver.
//
//   word 0:  send base (bits 31-10) | 0 (bits 9-4) | type (bits 3-1) | 0 (bit 0)
//            type 100 = map item (word0 low bits 0x8), 101 = grant item (0xA)
//   word 1:  the fpage being sent, with the rights to pass
//
// Bit 3 marks the word as a map or grant item and bit 1 chooses grant; bit 0 is zero in both.
// The send base tells the kernel where in the receiver's window the region goes when the window
// is larger than the fpage. It is held at 1 KiB granularity, but memory on IA-32 comes in 4 KiB
// pages, so both directions here require it to be page aligned: a pager that passes the raw fault
// address instead of its page gets a RangeError rather than a silently truncated base.
//
// Encoding returns the pair as an array so items can be spread into a message's typed words.

import { PAGE_SIZE, isWellFormedFpage } from './fpage.ts';

export const MAP_ITEM_TYPE = 0x8;
export const GRANT_ITEM_TYPE = 0xa;
/** The low 10 bits of word 0 that are type and zero bits, not send base. */
export const ITEM_LOW_MASK = 0x3ff;

export type MapGrantKind = 'map' | 'grant';

/** A map or grant item taken apart. */
export interface MapGrantItem {
  kind: MapGrantKind;
  sendBase: number;
  fpage: number;
}

function checkSendBase(sendBase: number): void {
  if (!Number.isInteger(sendBase) || sendBase < 0 || sendBase > 0xffffffff) {
    throw new RangeError(`send base ${sendBase} is not a 32-bit address`);
  }
  if (sendBase % PAGE_SIZE !== 0) {
    throw new RangeError(`send base 0x${sendBase.toString(16)} is not page aligned`);
  }
}

function checkFpage(word: number): void {
  // Signed words (as a memory read may give them) are accepted; anything wider than 32 bits is not.
  if (!Number.isInteger(word) || word < -(2 ** 31) || word > 0xffffffff || !isWellFormedFpage(word)) {
    throw new RangeError(`0x${(word >>> 0).toString(16)} is not a well-formed fpage`);
  }
}

/** The two words of `item`. RangeError for an unaligned send base or a malformed fpage. */
export function encodeMapGrantItem(item: MapGrantItem): [number, number] {
  checkSendBase(item.sendBase);
  checkFpage(item.fpage);
  const type = item.kind === 'grant' ? GRANT_ITEM_TYPE : MAP_ITEM_TYPE;
  return [(item.sendBase | type) >>> 0, item.fpage >>> 0];
}

/** A map item sending `fpageWord` with send base `sendBase`. */
export function mapItem(sendBase: number, fpageWord: number): [number, number] {
  return encodeMapGrantItem({ kind: 'map', sendBase, fpage: fpageWord });
}

/** A grant item sending `fpageWord` with send base `sendBase`. */
export function grantItem(sendBase: number, fpageWord: number): [number, number] {
  return encodeMapGrantItem({ kind: 'grant', sendBase, fpage: fpageWord });
}

/** True when `word0` is the first word of a map or grant item (whatever else it holds). */
export function isMapGrantItem(word0: number): boolean {
  return (word0 & 0x8) !== 0 && (word0 & 0x4) === 0;
}

/**
 * The map or grant item in `word0`, `word1`. RangeError when word 0 is not exactly a map or grant
 * item (type bits, zero bits), the send base is not page aligned, or the fpage is malformed.
 */
export function decodeMapGrantItem(word0: number, word1: number): MapGrantItem {
  const low = word0 & ITEM_LOW_MASK;
  let kind: MapGrantKind;
  if (low === MAP_ITEM_TYPE) kind = 'map';
  else if (low === GRANT_ITEM_TYPE) kind = 'grant';
  else throw new RangeError(`0x${(word0 >>> 0).toString(16)} is not the first word of a map or grant item`);
  const sendBase = (word0 & ~ITEM_LOW_MASK) >>> 0;
  checkSendBase(sendBase);
  checkFpage(word1);
  return { kind, sendBase, fpage: word1 >>> 0 };
}
