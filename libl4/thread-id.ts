// Thread ids as the kernel sees them: plain 32-bit numbers, built and taken apart here.
//
// A thread id stays a number (not an object) because it travels in system-call argument words,
// message registers and thread control registers exactly as it is, and servers keep ids in maps
// and compare them with ===. Every function returns an unsigned value (0 .. 2^32 - 1), so ids
// read back from memory compare equal to ids built here.
//
// L4 X.2 (reference/l4-x2.md, abi.ts):
//   global id   thread number (18 bits, 31-14) | version (14 bits, 13-0); the version's low 6 bits
//               are never all zero, which is what tells a global id from a local one
//   local id    the address of the thread's UTCB (low 6 bits zero), valid only inside its space
//   nil 0, anythread 0xFFFFFFFF, anylocalthread 0xFFFFFFC0
//
// The predicates look only at the bits: anythread has non-zero low bits, so it counts as global
// (it is the wildcard written in the global form), and anylocalthread counts as local. The nil id
// is neither global nor local.

import { ANYLOCALTHREAD, ANYTHREAD, NILTHREAD, THREAD_NUMBER_SHIFT, THREAD_VERSION_MASK } from './abi.ts';

/** A thread id word (global, local, nil or a wildcard). */
export type ThreadId = number;

export const THREAD_NUMBER_BITS = 18;
export const THREAD_VERSION_BITS = 14;
export const MAX_THREAD_NUMBER = (1 << THREAD_NUMBER_BITS) - 1;
export const MAX_THREAD_VERSION = THREAD_VERSION_MASK;
/** The low bits of an id that are zero in a local id and not all zero in a global one. */
export const LOCAL_ID_ZERO_MASK = 0x3f;

/**
 * The global id of thread `number` with `version`. Throws a RangeError unless the number fits in
 * 18 bits and the version in 14 bits with its low 6 bits not all zero.
 */
export function globalId(number: number, version: number): ThreadId {
  if (!Number.isInteger(number) || number < 0 || number > MAX_THREAD_NUMBER) {
    throw new RangeError(`thread number ${number} does not fit in ${THREAD_NUMBER_BITS} bits`);
  }
  if (!Number.isInteger(version) || version < 0 || version > MAX_THREAD_VERSION) {
    throw new RangeError(`thread version ${version} does not fit in ${THREAD_VERSION_BITS} bits`);
  }
  if ((version & LOCAL_ID_ZERO_MASK) === 0) {
    throw new RangeError(`thread version 0x${version.toString(16)} has its low 6 bits all zero (that is a local id)`);
  }
  return ((number << THREAD_NUMBER_SHIFT) | version) >>> 0;
}

/** The thread number field (bits 31-14) of a global id. */
export function threadNumber(id: ThreadId): number {
  return id >>> THREAD_NUMBER_SHIFT;
}

/** The version field (bits 13-0) of a global id. */
export function version(id: ThreadId): number {
  return id & THREAD_VERSION_MASK;
}

/** True for the nil thread id (0). */
export function isNil(id: ThreadId): boolean {
  return id >>> 0 === NILTHREAD;
}

/** True for ids in the global form (low 6 bits not all zero), anythread included. */
export function isGlobal(id: ThreadId): boolean {
  return (id & LOCAL_ID_ZERO_MASK) !== 0;
}

/** True for ids in the local form (low 6 bits zero, not nil), anylocalthread included. */
export function isLocal(id: ThreadId): boolean {
  return (id & LOCAL_ID_ZERO_MASK) === 0 && !isNil(id);
}

/** True for the anythread wildcard. */
export function isAnyThread(id: ThreadId): boolean {
  return id >>> 0 === ANYTHREAD;
}

/** True for the anylocalthread wildcard. */
export function isAnyLocalThread(id: ThreadId): boolean {
  return id >>> 0 === ANYLOCALTHREAD;
}

/** A readable form for logs: "nil", "any", "anylocal", "17.1" (number.version) or "@bf000200". */
export function formatThreadId(id: ThreadId): string {
  if (isNil(id)) return 'nil';
  if (isAnyThread(id)) return 'any';
  if (isAnyLocalThread(id)) return 'anylocal';
  if (isGlobal(id)) return `${threadNumber(id)}.${version(id)}`;
  return `@${(id >>> 0).toString(16).padStart(8, '0')}`;
}
