// Physical memory: the machine's RAM as one ArrayBuffer with 8- and 32-bit views.
//
// Everything the MMU walks (page directories, page tables) and everything the kernel keeps in
// "hardware formats" (KIP, UTCBs) lives here, so a debugger reading physical memory sees exactly
// what the hardware sees. The buffer is allocated with the host's lazily-committed zeroed pages:
// a 4 GiB machine whose guest touches a few megabytes costs the host a few megabytes.
//
// Physical addresses are 32 bits and wrap at 4 GiB. An address at or above `size` has no RAM
// behind it: reads see an undriven bus (all ones, as on a PC), writes are dropped. Both are
// counted, so a guest that wanders off the end of RAM shows up in the counters instead of
// crashing the emulator.
//
// Above RAM, devices may decode pages of their own (memory-mapped I/O: `mapDevice`): their
// registers answer the 8-, 16- and 32-bit accessors there. Only the accessors' unbacked paths
// look for a device, so RAM accesses cost nothing more, and the MMU never caches a device page's
// translation in its host-side shadow (it shadows only pages wholly in RAM): every access to a
// register reaches it. Registers are 32 bits wide: a narrower read sees the bytes of the
// registers it covers, a write of fewer than 4 aligned bytes is dropped and counted
// (`deviceNarrowWrites`). The bulk copies (readBytes, writeBytes, fill, copy) are for RAM and see
// a device page as unbacked.
//
// Little-endian; unaligned 16- and 32-bit accesses are allowed (IA-32 permits them).

import { uint8ArrayToHex } from 'uint8array-extras';

/** Largest RAM the 32-bit physical address space can hold. */
export const MAX_PHYSICAL_MEMORY = 2 ** 32;
/** RAM sizes are whole 4 KiB frames. */
export const FRAME_SIZE = 4096;

/** A device's registers in a range of the physical address space (offsets from its base). */
export interface MmioDevice {
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

interface MmioRange {
  readonly base: number;
  readonly end: number;
  readonly device: MmioDevice;
}

export class PhysicalMemory {
  /** Bytes of RAM, a multiple of 4 KiB, at most 4 GiB. */
  readonly size: number;
  /** Byte view of RAM. For the emulator's own fast paths; other layers use the methods. */
  readonly bytes: Uint8Array;
  /** 32-bit view of RAM (index = physical address / 4). For the emulator's own fast paths. */
  readonly words: Uint32Array;
  /** Reads of addresses with no RAM behind them (each byte counted once). */
  unbackedReads = 0;
  /** Writes to addresses with no RAM behind them (each byte counted once). */
  unbackedWrites = 0;
  /** Writes to device registers narrower than a whole aligned register (dropped). */
  deviceNarrowWrites = 0;
  /** Device register ranges above RAM, in no particular order (a machine has a few). */
  private readonly devices: MmioRange[] = [];

  constructor(bytes: number) {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > MAX_PHYSICAL_MEMORY || bytes % FRAME_SIZE !== 0) {
      throw new RangeError(
        `physical memory size must be a whole number of 4 KiB frames between 4 KiB and 4 GiB, got ${String(bytes)}`,
      );
    }
    this.size = bytes;
    const buffer = new ArrayBuffer(bytes);
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
  }

  /** True when the whole range [pa, pa + length) is backed by RAM (no wrap). */
  isBacked(pa: number, length = 1): boolean {
    return pa >= 0 && length >= 0 && pa + length <= this.size;
  }

  /**
   * Lets `device` decode [base, base + size) (page aligned, above RAM, overlapping no other
   * device): accesses there reach its registers.
   */
  mapDevice(base: number, size: number, device: MmioDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(size) || base % FRAME_SIZE !== 0 || size <= 0 || size % FRAME_SIZE !== 0 || base < this.size || base + size > MAX_PHYSICAL_MEMORY) {
      throw new RangeError(`a device range must be whole pages above RAM (${this.size} bytes) and below 4 GiB, got ${String(base)} + ${String(size)}`);
    }
    if (this.devices.some((d) => base < d.end && d.base < base + size)) throw new RangeError(`the device range at ${base} overlaps another device`);
    this.devices.push({ base, end: base + size, device });
  }

  /** The device decoding `pa` (above RAM), or null. */
  private deviceAt(pa: number): MmioRange | null {
    for (const range of this.devices) if (pa >= range.base && pa < range.end) return range;
    return null;
  }

  /** One byte of a device register (or of the undriven bus). */
  private readUnbacked8(pa: number): number {
    const range = this.devices.length > 0 ? this.deviceAt(pa) : null;
    if (range) return (range.device.read32((pa - range.base) & ~3) >>> ((pa & 3) * 8)) & 0xff;
    this.unbackedReads++;
    return 0xff;
  }

  read8(pa: number): number {
    pa >>>= 0;
    if (pa < this.size) return this.bytes[pa];
    return this.readUnbacked8(pa);
  }

  read16(pa: number): number {
    pa >>>= 0;
    if (pa + 1 < this.size) return this.bytes[pa] | (this.bytes[pa + 1] << 8);
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }

  read32(pa: number): number {
    pa >>>= 0;
    if ((pa & 3) === 0 && pa < this.size) return this.words[pa >>> 2];
    if (pa + 3 < this.size) {
      const b = this.bytes;
      return (b[pa] | (b[pa + 1] << 8) | (b[pa + 2] << 16) | (b[pa + 3] << 24)) >>> 0;
    }
    if ((pa & 3) === 0 && this.devices.length > 0) {
      const range = this.deviceAt(pa);
      if (range) return range.device.read32(pa - range.base) >>> 0;
    }
    return (this.read8(pa) | (this.read8(pa + 1) << 8) | (this.read8(pa + 2) << 16) | (this.read8(pa + 3) << 24)) >>> 0;
  }

  write8(pa: number, value: number): void {
    pa >>>= 0;
    if (pa < this.size) this.bytes[pa] = value;
    else this.writeUnbacked8(pa);
  }

  /** A byte written above RAM: dropped (a device's registers take only whole aligned words). */
  private writeUnbacked8(pa: number): void {
    if (this.devices.length > 0 && this.deviceAt(pa)) this.deviceNarrowWrites++;
    else this.unbackedWrites++;
  }

  write16(pa: number, value: number): void {
    pa >>>= 0;
    if (pa + 1 < this.size) {
      this.bytes[pa] = value;
      this.bytes[pa + 1] = value >>> 8;
      return;
    }
    this.write8(pa, value);
    this.write8(pa + 1, value >>> 8);
  }

  write32(pa: number, value: number): void {
    pa >>>= 0;
    if ((pa & 3) === 0 && pa < this.size) {
      this.words[pa >>> 2] = value;
      return;
    }
    if (pa + 3 < this.size) {
      const b = this.bytes;
      b[pa] = value;
      b[pa + 1] = value >>> 8;
      b[pa + 2] = value >>> 16;
      b[pa + 3] = value >>> 24;
      return;
    }
    if ((pa & 3) === 0 && this.devices.length > 0) {
      const range = this.deviceAt(pa);
      if (range) {
        range.device.write32(pa - range.base, value >>> 0);
        return;
      }
    }
    this.write8(pa, value);
    this.write8(pa + 1, value >>> 8);
    this.write8(pa + 2, value >>> 16);
    this.write8(pa + 3, value >>> 24);
  }

  /** Copies `length` bytes starting at `pa` out of RAM (unbacked bytes read as 0xFF). */
  readBytes(pa: number, length: number): Uint8Array {
    checkRange(pa, length);
    const out = new Uint8Array(length);
    const backed = Math.max(0, Math.min(length, this.size - pa));
    out.set(this.bytes.subarray(pa, pa + backed));
    if (backed < length) {
      out.fill(0xff, backed);
      this.unbackedReads += length - backed;
    }
    return out;
  }

  /** Copies `data` into RAM at `pa` (bytes past the end of RAM are dropped and counted). */
  writeBytes(pa: number, data: Uint8Array): void {
    checkRange(pa, data.length);
    const backed = Math.max(0, Math.min(data.length, this.size - pa));
    this.bytes.set(data.subarray(0, backed), pa);
    this.unbackedWrites += data.length - backed;
  }

  /** Fills [pa, pa + length) with `value`. */
  fill(pa: number, length: number, value: number): void {
    checkRange(pa, length);
    const backed = Math.max(0, Math.min(length, this.size - pa));
    this.bytes.fill(value, pa, pa + backed);
    this.unbackedWrites += length - backed;
  }

  /** Copies `length` bytes from `from` to `to` within RAM (overlap allowed, like memmove). */
  copy(to: number, from: number, length: number): void {
    checkRange(to, length);
    checkRange(from, length);
    if (to + length <= this.size && from + length <= this.size) {
      this.bytes.copyWithin(to, from, from + length);
      return;
    }
    this.writeBytes(to, this.readBytes(from, length));
  }

  /** Lower-case hex of [pa, pa + length), for loaders, debuggers and golden files. */
  hex(pa: number, length: number): string {
    return uint8ArrayToHex(this.readBytes(pa, length));
  }
}

function checkRange(pa: number, length: number): void {
  if (!Number.isInteger(pa) || !Number.isInteger(length) || pa < 0 || length < 0 || pa + length > MAX_PHYSICAL_MEMORY) {
    throw new RangeError(`physical range [${String(pa)}, +${String(length)}) is outside the 4 GiB physical address space`);
  }
}
