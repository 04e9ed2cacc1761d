// The disk controller as its driver knows it: the register layout, commands, status bits and
// error codes of the machine's disk controller (emulator/disk.ts documents them, bit by bit).
// A driver carries its device's header file; user space never imports the emulator, so the
// layout is written down again here, and test/emulator/disk.test.ts holds the two to the same
// numbers.

export const SECTOR_BYTES = 512;
export const DISK_ID = 0x4b534944; // 'DISK'

export const Register = {
  id: 0x000,
  version: 0x004,
  sectors: 0x008,
  line: 0x00c,
  maxSectors: 0x010,
  maxDescriptors: 0x014,
  sector: 0x020,
  count: 0x024,
  descriptors: 0x028,
  command: 0x02c,
  status: 0x030,
  acknowledge: 0x034,
  completed: 0x038,
  table: 0x800,
} as const;

export const Command = { Read: 1, Write: 2 } as const;
export const Status = { Busy: 1, Done: 2, Error: 4 } as const;
/** The error code in STATUS bits 8-15. */
export const ERROR_NAMES: readonly string[] = ['none', 'unknown command', 'sectors outside the disk', 'bad sector count', 'malformed descriptor table', 'DMA outside RAM', 'medium error'];
/** The longest range one descriptor may give. */
export const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;
