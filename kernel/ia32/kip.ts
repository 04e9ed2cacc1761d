// The kernel interface page (KIP): the X.2 layout for 32-bit IA-32, written into one kernel
// frame and mapped read-only into the KIP area of every address space.
//
//   offset  field                              offset  field
//   0x00    magic 'L4', 230, 'K'               0xA8    UtcbInfo   s 0-5 | a 6-11 | m 12-21
//   0x04    API version 0x84, subversion 0x05  0xAC    KipAreaInfo s 0-5
//   0x08    API flags (little endian, 32-bit)  0xB8    BootInfo
//   0x0C    KernDescPtr (offset)               0xBC    ProcDescPtr (offset)
//   0x20    sigma0  sp, ip, low, high          0xC0    ClockInfo  schedule precision 0-15 | read precision 16-31
//   0x30    sigma1  sp, ip, low, high          0xC4    ThreadInfo t 0-7 | SystemBase 8-19 | UserBase 20-31
//   0x40    root    sp, ip, low, high          0xC8    PageInfo   rwx 0-2 | page-size mask (bit n = 2^n) 10-31
//   0x54    MemoryInfo: desc offset 16-31 | n  0xCC    ProcessorInfo: processors - 1
//                                              0xD0-0xF8 system-call entry offsets
//
// Memory descriptors (two words each): low address | virtual 9 | subtype 4-7 | type 0-3, and
// the inclusive high address rounded down to 1 KiB. Later descriptors take precedence.

import { Syscall } from '../../libl4/abi.ts';
import type { PhysicalMemoryPort } from '../../emulator/hardware.ts';

export const KIP_MAGIC = 0x4be6344c; // bytes 'L' '4' 0xE6 'K'
export const KIP_API_VERSION = 0x84050000;
export const KIP_SIZE = 4096;

export const KIP_OFFSET = {
  magic: 0x00,
  apiVersion: 0x04,
  apiFlags: 0x08,
  kernelDescriptor: 0x0c,
  sigma0: 0x20,
  sigma1: 0x30,
  rootServer: 0x40,
  memoryInfo: 0x54,
  utcbInfo: 0xa8,
  kipAreaInfo: 0xac,
  bootInfo: 0xb8,
  processorDescriptors: 0xbc,
  clockInfo: 0xc0,
  threadInfo: 0xc4,
  pageInfo: 0xc8,
  processorInfo: 0xcc,
  spaceControl: 0xd0,
  threadControl: 0xd4,
  processorControl: 0xd8,
  memoryControl: 0xdc,
  ipc: 0xe0,
  lipc: 0xe4,
  unmap: 0xe8,
  exchangeRegisters: 0xec,
  systemClock: 0xf0,
  threadSwitch: 0xf4,
  schedule: 0xf8,
} as const;

/** Memory descriptor types. */
export const MemoryType = { Undefined: 0, Conventional: 1, Reserved: 2, Dedicated: 3, Shared: 4, Boot: 0xe, Arch: 0xf } as const;

export interface MemoryDescriptor {
  readonly type: number;
  readonly subtype?: number;
  readonly virtual?: boolean;
  /** First byte. */
  readonly low: number;
  /** One past the last byte. */
  readonly end: number;
}

/** The thread-number layout: SystemBase and UserBase of the ThreadInfo field. */
export const SYSTEM_BASE = 32;
export const USER_BASE = 64;
export const THREAD_NUMBER_BITS = 18;
/** sigma0, sigma1 and the root server's thread numbers. */
export const SIGMA0_THREAD = USER_BASE;
export const SIGMA1_THREAD = USER_BASE + 1;
export const ROOT_THREAD = USER_BASE + 2;

/** UTCB layout advertised in UtcbInfo: 512-byte UTCBs, 512-byte aligned, 4 KiB minimum area. */
export const UTCB_AREA_MIN_LOG2 = 12;
export const UTCB_ALIGN_LOG2 = 9;
export const KIP_AREA_LOG2 = 12;

const KERNEL_DESCRIPTOR = 0x100;
const PROCESSOR_DESCRIPTOR = 0x140;
const MEMORY_DESCRIPTORS = 0x200;
/** Room for 128 descriptors (0x200-0x600). */
export const MAX_MEMORY_DESCRIPTORS = 128;
const SYSCALL_STUBS = 0x800;

export interface KipContents {
  readonly memory: readonly MemoryDescriptor[];
  /** Clock rate of the modelled CPU (for the processor descriptor, in kHz). */
  readonly clockHz: number;
  /** Page sizes the MMU can map (log2), e.g. [12, 22]. */
  readonly pageSizes: readonly number[];
  /** Microseconds per schedule decision and per clock read. */
  readonly schedulePrecision: number;
  readonly readPrecision: number;
  /** Physical address of the boot loader's boot information (0: none). */
  readonly bootInfo?: number;
}

/** Writes the KIP into the frame at `frame`. */
export function writeKip(memory: PhysicalMemoryPort, frame: number, contents: KipContents): void {
  if (contents.memory.length > MAX_MEMORY_DESCRIPTORS) throw new RangeError('too many memory descriptors for the KIP');
  const w = (offset: number, value: number): void => memory.write32(frame + offset, value >>> 0);
  memory.fill(frame, KIP_SIZE, 0);
  w(KIP_OFFSET.magic, KIP_MAGIC);
  w(KIP_OFFSET.apiVersion, KIP_API_VERSION);
  w(KIP_OFFSET.apiFlags, 0);
  w(KIP_OFFSET.kernelDescriptor, KERNEL_DESCRIPTOR);
  w(KIP_OFFSET.memoryInfo, (MEMORY_DESCRIPTORS << 16) | contents.memory.length);
  w(KIP_OFFSET.utcbInfo, UTCB_AREA_MIN_LOG2 | (UTCB_ALIGN_LOG2 << 6) | (1 << 12));
  w(KIP_OFFSET.kipAreaInfo, KIP_AREA_LOG2);
  w(KIP_OFFSET.processorDescriptors, PROCESSOR_DESCRIPTOR);
  w(KIP_OFFSET.bootInfo, contents.bootInfo ?? 0);
  w(KIP_OFFSET.clockInfo, (contents.readPrecision << 16) | contents.schedulePrecision);
  w(KIP_OFFSET.threadInfo, THREAD_NUMBER_BITS | (SYSTEM_BASE << 8) | (USER_BASE << 20));
  const sizeMask = contents.pageSizes.reduce((mask, log2) => mask | (1 << log2), 0);
  w(KIP_OFFSET.pageInfo, (sizeMask & ~0x3ff) | 0x6);
  w(KIP_OFFSET.processorInfo, 0);
  const calls: Array<[number, number]> = [
    [KIP_OFFSET.spaceControl, Syscall.SpaceControl],
    [KIP_OFFSET.threadControl, Syscall.ThreadControl],
    [KIP_OFFSET.processorControl, Syscall.ProcessorControl],
    [KIP_OFFSET.memoryControl, Syscall.MemoryControl],
    [KIP_OFFSET.ipc, Syscall.Ipc],
    [KIP_OFFSET.lipc, Syscall.Lipc],
    [KIP_OFFSET.unmap, Syscall.Unmap],
    [KIP_OFFSET.exchangeRegisters, Syscall.ExchangeRegisters],
    [KIP_OFFSET.systemClock, Syscall.SystemClock],
    [KIP_OFFSET.threadSwitch, Syscall.ThreadSwitch],
    [KIP_OFFSET.schedule, Syscall.Schedule],
  ];
  // Entry points are offsets into the KIP, 16 bytes per call; program threads enter the kernel
  // through env.syscall, so the stubs hold only the call number.
  for (const [offset, number] of calls) {
    w(offset, SYSCALL_STUBS + number * 16);
    w(SYSCALL_STUBS + number * 16, number);
  }
  // Kernel descriptor: kernel id and subid, generation date, version, supplier, version string.
  w(KERNEL_DESCRIPTOR, (0x68 << 24) | (0x01 << 16));
  w(KERNEL_DESCRIPTOR + 4, ((2026 - 2000) << 9) | (11 << 5) | 22);
  w(KERNEL_DESCRIPTOR + 8, 0x00010000);
  writeAscii(memory, frame + KERNEL_DESCRIPTOR + 12, 'L4HD');
  writeAscii(memory, frame + KERNEL_DESCRIPTOR + 16, 'l4hurd kernel\0');
  // Processor descriptor: external and internal frequency in kHz.
  w(PROCESSOR_DESCRIPTOR, Math.round(contents.clockHz / 1000));
  w(PROCESSOR_DESCRIPTOR + 4, Math.round(contents.clockHz / 1000));
  contents.memory.forEach((d, i) => {
    const low = (Math.floor(d.low / 1024) * 1024) >>> 0;
    const high = (Math.floor((d.end - 1) / 1024) * 1024) >>> 0;
    w(MEMORY_DESCRIPTORS + i * 8, low | (d.virtual ? 0x200 : 0) | ((d.subtype ?? 0) << 4) | d.type);
    w(MEMORY_DESCRIPTORS + i * 8 + 4, high);
  });
}

/** ASCII text into physical memory (the kernel runs without host text encoders). */
function writeAscii(memory: PhysicalMemoryPort, pa: number, text: string): void {
  for (let i = 0; i < text.length; i++) memory.write8(pa + i, text.charCodeAt(i) & 0x7f);
}

/** Reads the memory descriptors back (as sigma0 and tests do). */
export function readMemoryDescriptors(read32: (offset: number) => number): MemoryDescriptor[] {
  const info = read32(KIP_OFFSET.memoryInfo);
  const offset = info >>> 16;
  const count = info & 0xffff;
  const out: MemoryDescriptor[] = [];
  for (let i = 0; i < count; i++) {
    const word0 = read32(offset + i * 8);
    const word1 = read32(offset + i * 8 + 4);
    out.push({
      type: word0 & 0xf,
      subtype: (word0 >>> 4) & 0xf,
      virtual: (word0 & 0x200) !== 0,
      low: (word0 & ~0x3ff) >>> 0,
      end: ((word1 & ~0x3ff) >>> 0) + 1024,
    });
  }
  return out;
}
