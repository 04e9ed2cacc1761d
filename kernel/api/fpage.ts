// Decoding of the X.2 words the kernel reads from programs: fpages and relative timeouts.
// (libl4 has the user side's encoders; the kernel keeps its own small decoders so that it never
// trusts a program's library.)

export function fpageBase(fpage: number): number {
  const log2 = (fpage >>> 4) & 0x3f;
  if (log2 >= 32) return 0;
  return (fpage & ~0x3ff & ~((2 ** log2 - 1) | 0)) >>> 0;
}

export function fpageLog2(fpage: number): number {
  return (fpage >>> 4) & 0x3f;
}

/** Ranges of up to this many pages are visited page by page, larger ones through the mappings. */
export const PAGE_WALK_PAGES = 1024;

/** The bytes an fpage names. */
export interface FpageRange {
  readonly base: number;
  /** Bytes: 2^log2, 2^32 for the complete address space. */
  readonly size: number;
  readonly log2: number;
}

/**
 * The range of an fpage: the complete address space (s = 1, base 0) is [0, 2^32); nil, an fpage
 * smaller than a page, or one larger than 2^32 names nothing (null).
 */
export function fpageRange(fpage: number): FpageRange | null {
  if (fpage >>> 4 === 0) return null;
  let log2 = fpageLog2(fpage);
  if (log2 === 1 && fpageBase(fpage) === 0) log2 = 32;
  if (log2 < 12 || log2 > 32) return null;
  return { base: log2 === 32 ? 0 : fpageBase(fpage), size: 2 ** log2, log2 };
}

/** Does the fpage hold [address, address + length)? */
export function fpageContains(fpage: number, address: number, length: number): boolean {
  // fpageRange's rules, without the object: this is asked for every page a map item installs.
  if (fpage >>> 4 === 0) return false;
  const log2 = fpageLog2(fpage);
  const base = fpageBase(fpage);
  if (log2 === 1 && base === 0) return address >= 0 && address + length <= 2 ** 32;
  if (log2 < 12 || log2 > 32) return false;
  const start = log2 === 32 ? 0 : base;
  return address >= start && address + length <= start + 2 ** log2;
}

/** X.2 relative timeout (16 bits: m 0-9, e 10-14, bit 15 = 0) in microseconds; 0 = never. */
export function timeoutMicroseconds(timeout: number): number {
  timeout &= 0xffff;
  if (timeout === 0) return Infinity;
  if (timeout & 0x8000) return 0; // absolute timeouts are not supported: treated as already passed
  return (timeout & 0x3ff) * 2 ** ((timeout >>> 10) & 0x1f);
}

