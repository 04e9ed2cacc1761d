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
 * The size field of an fpage as the bytes it names, 2^log2: 32 for the complete address space
 * (s = 1, base 0), -1 for nil, an fpage smaller than a page, or one larger than 2^32. The one
 * place these rules are written; fpageRange and fpageContains both read them here.
 */
function effectiveLog2(fpage: number): number {
  if (fpage >>> 4 === 0) return -1;
  const log2 = fpageLog2(fpage);
  if (log2 === 1 && fpageBase(fpage) === 0) return 32;
  return log2 < 12 || log2 > 32 ? -1 : log2;
}

/**
 * The range of an fpage: the complete address space (s = 1, base 0) is [0, 2^32); nil, an fpage
 * smaller than a page, or one larger than 2^32 names nothing (null).
 */
export function fpageRange(fpage: number): FpageRange | null {
  const log2 = effectiveLog2(fpage);
  if (log2 < 0) return null;
  return { base: log2 === 32 ? 0 : fpageBase(fpage), size: 2 ** log2, log2 };
}

/** Does the fpage hold [address, address + length)? (No range object: asked for every page a map item installs.) */
export function fpageContains(fpage: number, address: number, length: number): boolean {
  const log2 = effectiveLog2(fpage);
  if (log2 < 0) return false;
  const base = log2 === 32 ? 0 : fpageBase(fpage);
  return address >= base && address + length <= base + 2 ** log2;
}

/** X.2 relative timeout (16 bits: m 0-9, e 10-14, bit 15 = 0) in microseconds; 0 = never. */
export function timeoutMicroseconds(timeout: number): number {
  timeout &= 0xffff;
  if (timeout === 0) return Infinity;
  if (timeout & 0x8000) return 0; // absolute timeouts are not supported: treated as already passed
  return (timeout & 0x3ff) * 2 ** ((timeout >>> 10) & 0x1f);
}

