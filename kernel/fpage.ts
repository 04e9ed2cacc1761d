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

/** Does the fpage hold [address, address + length)? */
export function fpageContains(fpage: number, address: number, length: number): boolean {
  const log2 = fpageLog2(fpage);
  if (fpage === 0 || log2 < 12) return false;
  const base = fpageBase(fpage);
  const size = log2 >= 32 ? 2 ** 32 : 2 ** log2;
  return address >= base && address + length <= base + size;
}

/** X.2 relative timeout (16 bits: m 0-9, e 10-14, bit 15 = 0) in microseconds; 0 = never. */
export function timeoutMicroseconds(timeout: number): number {
  timeout &= 0xffff;
  if (timeout === 0) return Infinity;
  if (timeout & 0x8000) return 0; // absolute timeouts are not supported: treated as already passed
  return (timeout & 0x3ff) * 2 ** ((timeout >>> 10) & 0x1f);
}

