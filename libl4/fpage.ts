// Flexpages: the one-word description of an aligned, power-of-two region of an address space with
// access rights, used by map and grant items, the receive window, Unmap and sigma0 requests.
//
//   31                         10 9        4 3 2 1 0
//  +-----------------------------+----------+-+-+-+-+
//  | base >> 10                  | s        |0|r|w|x|
//  +-----------------------------+----------+-+-+-+-+
//   size 2^s bytes, base aligned to it. r 4, w 2, x 1.
//
// Special words: the nil fpage is 0 (no memory); the complete address space is s = 1, base 0.
// On IA-32 the smallest region is a 4 KiB page, so a regular fpage has 12 <= s <= 32.
//
// Sizes are log2 sizes everywhere except fpageSize (bytes). The complete address space is treated
// as the region of size 2^32 at 0: fpage(0, 32, rights) encodes it (as s = 1, X.2's form), and
// fpageLog2Size of it is 32. A word with s = 32 (base 0) is accepted as a non-canonical spelling of
// the same region; re-encoding it gives the s = 1 form.
//
// fpage() validates, so a pager that passes an unaligned base learns at once. The accessors never
// throw: their input may come from another thread, and isWellFormedFpage says whether it is sane.

/** Access rights (bits 0-2 of an fpage). */
export const Rights = {
  None: 0,
  Execute: 1,
  Write: 2,
  Read: 4,
  ReadWrite: 6,
  ReadExecute: 5,
  Full: 7,
} as const;

export const NIL_FPAGE = 0;
/** The complete address space with no rights; see completeFpage for rights. */
export const COMPLETE_FPAGE = 1 << 4;
export const PAGE_SIZE_LOG2 = 12;
export const PAGE_SIZE = 1 << PAGE_SIZE_LOG2;
export const ADDRESS_SPACE_LOG2 = 32;

export const FPAGE_RIGHTS_MASK = 0x7;
export const FPAGE_RESERVED_BIT = 0x8;
export const FPAGE_SIZE_SHIFT = 4;
export const FPAGE_SIZE_MASK = 0x3f;
export const FPAGE_BASE_MASK = 0xfffffc00;
const COMPLETE_SIZE_FIELD = 1;

/** An fpage word taken apart. */
export interface Fpage {
  /** Region start (0 for nil and the complete address space). */
  base: number;
  /** log2 of the size: 0 for nil, 32 for the complete address space. */
  log2Size: number;
  /** Size in bytes: 0 for nil, 2^32 for the complete address space. */
  size: number;
  rights: number;
  nil: boolean;
  complete: boolean;
}

function checkRights(rights: number): void {
  if (!Number.isInteger(rights) || rights < 0 || rights > FPAGE_RIGHTS_MASK) {
    throw new RangeError(`fpage rights ${rights} are outside 0..7`);
  }
}

/**
 * The fpage of the 2^log2Size bytes at `base` with `rights`. log2Size is 12..32 (32 gives the
 * complete address space and needs base 0); base must be aligned to the size. RangeError otherwise.
 */
export function fpage(base: number, log2Size: number, rights: number = Rights.None): number {
  if (!Number.isInteger(log2Size) || log2Size < PAGE_SIZE_LOG2 || log2Size > ADDRESS_SPACE_LOG2) {
    throw new RangeError(`fpage log2 size ${log2Size} is outside ${PAGE_SIZE_LOG2}..${ADDRESS_SPACE_LOG2}`);
  }
  if (!Number.isInteger(base) || base < 0 || base > 0xffffffff) {
    throw new RangeError(`fpage base ${base} is not a 32-bit address`);
  }
  if (base % 2 ** log2Size !== 0) {
    throw new RangeError(`fpage base 0x${base.toString(16)} is not aligned to its size 2^${log2Size}`);
  }
  checkRights(rights);
  if (log2Size === ADDRESS_SPACE_LOG2) return completeFpage(rights);
  return (base | (log2Size << FPAGE_SIZE_SHIFT) | rights) >>> 0;
}

/** The complete address space with `rights`. */
export function completeFpage(rights: number = Rights.None): number {
  checkRights(rights);
  return (COMPLETE_FPAGE | rights) >>> 0;
}

function sizeField(word: number): number {
  return (word >>> FPAGE_SIZE_SHIFT) & FPAGE_SIZE_MASK;
}

/** True when the fpage has size 0 (the nil fpage; canonically the word 0). */
export function isNilFpage(word: number): boolean {
  return sizeField(word) === 0;
}

/** True for the complete address space (s = 1). */
export function isCompleteFpage(word: number): boolean {
  return sizeField(word) === COMPLETE_SIZE_FIELD;
}

/** The region start (0 for nil and complete). */
export function fpageBase(word: number): number {
  const s = sizeField(word);
  if (s === 0 || s === COMPLETE_SIZE_FIELD) return 0;
  return (word & FPAGE_BASE_MASK) >>> 0;
}

/** log2 of the size: 0 for nil, 32 for the complete address space, otherwise the s field. */
export function fpageLog2Size(word: number): number {
  const s = sizeField(word);
  return s === COMPLETE_SIZE_FIELD ? ADDRESS_SPACE_LOG2 : s;
}

/** The size in bytes: 0 for nil, 2^32 for the complete address space. */
export function fpageSize(word: number): number {
  const s = sizeField(word);
  if (s === 0) return 0;
  return 2 ** fpageLog2Size(word);
}

/** The rights bits (r 4, w 2, x 1). */
export function fpageRights(word: number): number {
  return word & FPAGE_RIGHTS_MASK;
}

/** The same fpage with its rights replaced by `rights`. */
export function withRights(word: number, rights: number): number {
  checkRights(rights);
  return ((word & ~FPAGE_RIGHTS_MASK) | rights) >>> 0;
}

/**
 * True for a word that describes a region: nil (base 0), complete (base 0), or 12 <= s <= 32 with
 * the base aligned to the size; bit 3 must be zero. Rights may be anything.
 */
export function isWellFormedFpage(word: number): boolean {
  if ((word & FPAGE_RESERVED_BIT) !== 0) return false;
  const s = sizeField(word);
  const baseBits = (word & FPAGE_BASE_MASK) >>> 0;
  if (s === 0 || s === COMPLETE_SIZE_FIELD) return baseBits === 0;
  if (s < PAGE_SIZE_LOG2 || s > ADDRESS_SPACE_LOG2) return false;
  return baseBits % 2 ** s === 0;
}

/** The fields of an fpage word (never throws; see isWellFormedFpage). */
export function decodeFpage(word: number): Fpage {
  return {
    base: fpageBase(word),
    log2Size: fpageLog2Size(word),
    size: fpageSize(word),
    rights: fpageRights(word),
    nil: isNilFpage(word),
    complete: isCompleteFpage(word),
  };
}

/** True when `address` lies inside the region of `word` (never for nil). */
export function fpageContains(word: number, address: number): boolean {
  const size = fpageSize(word);
  const offset = (address >>> 0) - fpageBase(word);
  return offset >= 0 && offset < size;
}
