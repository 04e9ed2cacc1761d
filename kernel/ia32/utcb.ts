// The kernel's access to a thread's UTCB: message registers, buffer registers and thread control
// registers at the offsets of libl4/abi.ts, read and written in emulated physical memory (the
// UTCB page is a kernel frame mapped into the thread's space). A thread without a UTCB yet
// (utcbPhysical < 0) reads its TCRs as 0 and ignores writes to them.

import type { PhysicalMemoryPort } from '../../emulator/hardware.ts';
import { TCR_ERROR_CODE, brOffset, mrOffset } from '../../libl4/abi.ts';
import type { Thread } from '../generic/thread.ts';

export class Utcbs {
  private readonly physical: PhysicalMemoryPort;

  constructor(physical: PhysicalMemoryPort) {
    this.physical = physical;
  }

  readMr(thread: Thread, i: number): number {
    return this.physical.read32(thread.utcbPhysical + mrOffset(i));
  }
  writeMr(thread: Thread, i: number, value: number): void {
    this.physical.write32(thread.utcbPhysical + mrOffset(i), value);
  }
  readBr(thread: Thread, i: number): number {
    return this.physical.read32(thread.utcbPhysical + brOffset(i));
  }
  writeBr(thread: Thread, i: number, value: number): void {
    this.physical.write32(thread.utcbPhysical + brOffset(i), value);
  }
  readTcr(thread: Thread, offset: number): number {
    return thread.utcbPhysical < 0 ? 0 : this.physical.read32(thread.utcbPhysical + offset);
  }
  writeTcr(thread: Thread, offset: number, value: number): void {
    if (thread.utcbPhysical >= 0) this.physical.write32(thread.utcbPhysical + offset, value);
  }
  /** Sets the ErrorCode TCR (for the non-IPC system calls). */
  setError(thread: Thread, code: number): void {
    this.writeTcr(thread, TCR_ERROR_CODE, code);
  }
  /** Copies MR1..MRwords from one thread to another. */
  copyWords(to: Thread, from: Thread, words: number): void {
    if (words > 0) this.physical.copy(to.utcbPhysical + mrOffset(1), from.utcbPhysical + mrOffset(1), 4 * words);
  }
}
