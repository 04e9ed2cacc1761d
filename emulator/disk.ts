// The disk controller: a block device of 512-byte sectors with a DMA engine, its registers in one
// page of the physical address space (memory-mapped I/O), a completion interrupt on a line of the
// interrupt controller, and a deterministic model of a disk of the modelled CPU's era.
//
// A driver programs it as a PC driver programs an ATA bus-master controller: it writes the first
// sector, the sector count and a scatter list of physical memory ranges (the descriptor table,
// which this controller keeps in its own register page rather than in RAM), then a command. The
// controller checks the command at once (a bad one completes with an error, nothing moved),
// computes from the drive model when the transfer is done, and at that cycle moves the data
// between the disk and RAM directly (DMA: physical addresses, no TLB, no page tables) and raises
// its interrupt line. The driver reads the status, acknowledges it, and may give the next
// command. Nothing a program writes can make the emulator throw: malformed commands, sectors
// past the end of the disk and DMA ranges outside RAM set the error status.
//
// Registers (32-bit, little-endian; byte offsets in the page; RO read-only, WO write-only):
//
//   0x000 ID          RO  'DISK' (0x4b534944): every device page of this machine starts with
//                         its id, its version at 0x004 and its interrupt line at 0x00C, as a
//                         PCI function's configuration header does (the root task probes so)
//   0x004 VERSION     RO  1
//   0x008 SECTORS     RO  the disk's size in sectors
//   0x00C LINE        RO  the interrupt line it raises (DISK_INTERRUPT_LINE)
//   0x010 MAX_SECTORS RO  the largest sector count of one command (MAX_TRANSFER_SECTORS)
//   0x014 MAX_DESC    RO  descriptors the table holds (MAX_DESCRIPTORS)
//   0x020 SECTOR      RW  the command's first sector
//   0x024 COUNT       RW  the command's sector count
//   0x028 DESCRIPTORS RW  how many descriptors of the table the command uses
//   0x02C COMMAND     WO  1 read (disk to memory), 2 write (memory to disk); reads as 0
//   0x030 STATUS      RO  bit 0 BUSY, bit 1 DONE (a command completed, not yet acknowledged),
//                         bit 2 ERROR (the last command failed), bits 8-15 the error code
//   0x034 ACK         WO  any write clears DONE (and ERROR; the error code stays until the next
//                         command)
//   0x038 COMPLETED   RO  sectors the last command moved
//   0x800 TABLE       RW  256 descriptors of 8 bytes: +0 physical address, +4 byte count (a
//                         multiple of 512, at most 4 MiB); the command's ranges, in order, must
//                         add up to COUNT sectors and lie wholly in RAM
//
// While BUSY, writes to SECTOR, COUNT, DESCRIPTORS, COMMAND and the table are ignored (and
// counted): the command in flight latched them when it was accepted.
//
// Error codes: 1 an unknown command, 2 sectors outside the disk, 3 a count of 0 or more than
// MAX_SECTORS, 4 a malformed descriptor table (0 or more than 256 descriptors, a length that is
// not a multiple of 512 or over 4 MiB, lengths that do not add up to COUNT sectors), 5 a
// descriptor range outside RAM, 6 the medium failed (the host file behind the disk could not be
// read or written). A command that fails its checks moves nothing and completes after the
// command overhead; a medium error is found when the data moves.
//
// Timing (DiskModel, below): command overhead, then for a read that the drive's read-ahead
// buffer does not already hold a seek from the head's cylinder (track-to-track plus a square-
// root curve up to the full stroke, as Ruemmler and Wilkes model seeks, "An introduction to disk
// drive modeling", IEEE Computer 1994), the rotational wait until the first sector comes under
// the head (the platters' angle is a function of the cycle count: sector 0 of every track passes
// the head at cycle 0 and every revolution after), and the media transfer of the sectors; the
// transfer to memory at the interface's burst rate overlaps it (the command is done when both
// are). After a read the drive goes on reading the following sectors into its buffer (read-
// ahead, up to the model's segment size, while no other command comes), so a sequential reader
// finds them there. Writes go through to the medium (no write cache) and drop the buffer. Head
// and track switches within one transfer are taken as hidden by track skew. Every time is a
// function of the cycle count at which the command was given and the commands before it: the
// same commands at the same cycles complete at the same cycles on every run.
//
// The backing (DiskBacking) holds the sectors: an in-memory copy (a data module of the image),
// or a host file (tools/disk-file.ts: copy-on-write by default, written through with
// --disk-writable).

import type { InterruptController } from './interrupt-controller.ts';
import type { MmioDevice } from './memory.ts';
import type { PhysicalMemory } from './memory.ts';

export const SECTOR_BYTES = 512;
/** Where the register page sits: above RAM and below the kernel area, so sigma0 can hold it 1:1. */
export const DISK_REGISTERS = 0xb0000000;
export const DISK_REGISTERS_SIZE = 4096;
/** The interrupt line (the primary ATA channel's on a PC). */
export const DISK_INTERRUPT_LINE = 14;
export const DISK_ID = 0x4b534944;
export const DISK_VERSION = 1;
/** Sectors one command may move (2 MiB). */
export const MAX_TRANSFER_SECTORS = 4096;
export const MAX_DESCRIPTORS = 256;
/** The longest range one descriptor may give. */
export const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;

export const DiskRegister = {
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

export const DiskCommand = { Read: 1, Write: 2 } as const;
export const DiskStatus = { Busy: 1, Done: 2, Error: 4 } as const;
export const DiskError = { None: 0, BadCommand: 1, OutOfRange: 2, BadCount: 3, BadDescriptors: 4, DmaOutsideRam: 5, Medium: 6 } as const;
export const DISK_ERROR_NAMES: readonly string[] = ['none', 'unknown command', 'sectors outside the disk', 'bad sector count', 'malformed descriptor table', 'DMA outside RAM', 'medium error'];

/** The sectors behind the disk. */
export interface DiskBacking {
  /** The disk's size in sectors. */
  readonly sectors: number;
  /** Reads `into.length / 512` sectors from `sector` into `into`; false when the medium failed. */
  read(sector: number, into: Uint8Array): boolean;
  /** Writes `data` (whole sectors) from `sector`; false when the medium failed. */
  write(sector: number, data: Uint8Array): boolean;
}

/** A disk in host memory: the bytes given (copied, so the caller's stay as they were), rounded up to whole sectors. */
export class MemoryDisk implements DiskBacking {
  readonly sectors: number;
  readonly bytes: Uint8Array;

  constructor(contents: Uint8Array) {
    this.sectors = Math.ceil(contents.length / SECTOR_BYTES);
    this.bytes = new Uint8Array(this.sectors * SECTOR_BYTES);
    this.bytes.set(contents);
  }

  read(sector: number, into: Uint8Array): boolean {
    into.set(this.bytes.subarray(sector * SECTOR_BYTES, sector * SECTOR_BYTES + into.length));
    return true;
  }

  write(sector: number, data: Uint8Array): boolean {
    this.bytes.set(data, sector * SECTOR_BYTES);
    return true;
  }
}

/**
 * A drive of the modelled CPU's era, as the timing model sees it. Times in milliseconds, rates
 * in bytes per second; `source` says where the figures come from.
 */
export interface DiskModel {
  readonly name: string;
  readonly source: string;
  readonly rpm: number;
  /** Sectors per track (one zone: the drive's middle zone). */
  readonly sectorsPerTrack: number;
  readonly heads: number;
  /** Cylinders of the whole drive: the seek curve's full stroke (the disk file fills the first ones). */
  readonly cylinders: number;
  readonly trackToTrackMs: number;
  readonly fullStrokeMs: number;
  /** The controller's and drive's overhead per command. */
  readonly commandOverheadMs: number;
  /** Burst rate between the drive's buffer and memory. */
  readonly interfaceBytesPerSecond: number;
  /** Sectors the drive reads ahead into its buffer after a read. */
  readonly readAheadSectors: number;
  /** Sectors its buffer holds (what was read, and what it read ahead). */
  readonly bufferSectors: number;
}

export const DISK_MODELS: Readonly<Record<string, DiskModel>> = {
  // The disk of a Pentium III machine of 2000: a 7200 rpm ATA-100 drive of the class of IBM's
  // Deskstar 75GXP (its data sheet: 8.5 ms average seek, 1.2 ms track to track, 15 ms full
  // stroke, 4.17 ms average latency, 2 MB buffer, up to 37 MB/s from the outer zone). One zone of
  // 512 sectors a track (31.5 MB/s at 7200 rpm, between its outer and inner zones); 10 heads and
  // 28,000 cylinders (about 75 GB); the 0.2 ms command overhead and the 512 KiB read-ahead
  // are estimates. The seek curve gives 8.6 ms averaged over random seeks.
  p3: {
    name: 'ATA-100 7200 rpm (2000)',
    source: 'IBM Deskstar 75GXP class; zone, overhead and segment size estimated',
    rpm: 7200,
    sectorsPerTrack: 512,
    heads: 10,
    cylinders: 28_000,
    trackToTrackMs: 1.2,
    fullStrokeMs: 15,
    commandOverheadMs: 0.2,
    interfaceBytesPerSecond: 100_000_000,
    readAheadSectors: 1024,
    bufferSectors: 4096,
  },
  // The disk of an i486 machine of 1992-1993: a 3600 rpm IDE drive of about 250 MB (the class
  // of Conner's CP30254 and Seagate's ST3283A). All estimates of that class: 14.4 ms average
  // seek from 3.5 ms track to track and a 24 ms full stroke, 48 sectors a track (1.5 MB/s),
  // 8 heads, 1,300 cylinders, 1 ms command overhead, a 64 KiB buffer reading 48 KiB ahead,
  // 2 MB/s to memory over the ISA bus.
  i486: {
    name: 'IDE 3600 rpm (1992)',
    source: 'Conner CP30254 / Seagate ST3283A class; all figures estimated',
    rpm: 3600,
    sectorsPerTrack: 48,
    heads: 8,
    cylinders: 1_300,
    trackToTrackMs: 3.5,
    fullStrokeMs: 24,
    commandOverheadMs: 1,
    interfaceBytesPerSecond: 2_000_000,
    readAheadSectors: 96,
    bufferSectors: 128,
  },
};

/** What the controller has done, for users and tests. */
export interface DiskCounters {
  /** Commands accepted (including those that failed their checks). */
  commands: number;
  reads: number;
  writes: number;
  sectorsRead: number;
  sectorsWritten: number;
  /** Commands that completed with an error. */
  errors: number;
  /** Reads whose first sector the read-ahead buffer held (no seek, no rotational wait). */
  bufferHits: number;
  /** Completion interrupts raised. */
  interrupts: number;
  /** Writes to command registers while busy (ignored). */
  ignoredWrites: number;
  /** Cycles the drive was busy with commands. */
  busyCycles: number;
}

interface Descriptor {
  readonly address: number;
  readonly bytes: number;
}

interface Command {
  readonly kind: number;
  readonly sector: number;
  readonly count: number;
  readonly descriptors: readonly Descriptor[];
  /** The error its checks found (the data is not moved then). */
  readonly error: number;
  /** Cycle at which it completes. */
  readonly completion: number;
}

/** The read-ahead segment: sectors [first, next) are in the buffer; sector next + k arrives at arrival + (k + 1) sector times. */
interface Segment {
  readonly first: number;
  readonly next: number;
  /** When the media transfer of sector next - 1 ended. */
  readonly arrival: number;
}

export interface DiskControllerOptions {
  readonly backing: DiskBacking;
  readonly memory: PhysicalMemory;
  readonly interrupts: InterruptController;
  /** The cycle count now (the CPU's). */
  readonly clock: () => number;
  readonly clockHz: number;
  readonly model: DiskModel;
  readonly line?: number;
}

export class DiskController implements MmioDevice {
  readonly counters: DiskCounters = { commands: 0, reads: 0, writes: 0, sectorsRead: 0, sectorsWritten: 0, errors: 0, bufferHits: 0, interrupts: 0, ignoredWrites: 0, busyCycles: 0 };
  readonly backing: DiskBacking;
  readonly model: DiskModel;
  readonly line: number;
  private readonly memory: PhysicalMemory;
  private readonly interrupts: InterruptController;
  private readonly clock: () => number;
  private readonly table = new Uint32Array(MAX_DESCRIPTORS * 2);
  private sector = 0;
  private count = 0;
  private descriptors = 0;
  private done = false;
  private failed = false;
  private errorCode: number = DiskError.None;
  private completed = 0;
  private busy: Command | null = null;
  /** The head's cylinder after the last command. */
  private cylinder = 0;
  private segment: Segment | null = null;
  // The model in cycles.
  private readonly revolution: number;
  private readonly sectorTime: number;
  private readonly interfaceSectorTime: number;
  private readonly overhead: number;
  private readonly trackToTrack: number;
  private readonly fullStroke: number;

  constructor(options: DiskControllerOptions) {
    this.backing = options.backing;
    this.model = options.model;
    this.memory = options.memory;
    this.interrupts = options.interrupts;
    this.clock = options.clock;
    this.line = options.line ?? DISK_INTERRUPT_LINE;
    const hz = options.clockHz;
    const ms = hz / 1000;
    this.revolution = (60 * hz) / this.model.rpm;
    this.sectorTime = this.revolution / this.model.sectorsPerTrack;
    this.interfaceSectorTime = (SECTOR_BYTES * hz) / this.model.interfaceBytesPerSecond;
    this.overhead = this.model.commandOverheadMs * ms;
    this.trackToTrack = this.model.trackToTrackMs * ms;
    this.fullStroke = this.model.fullStrokeMs * ms;
  }

  /** The disk's size in sectors. */
  get sectors(): number {
    return this.backing.sectors;
  }

  /** Is a command in flight (at the current cycle)? */
  get isBusy(): boolean {
    this.catchUp();
    return this.busy !== null;
  }

  read32(offset: number): number {
    this.catchUp();
    switch (offset) {
      case DiskRegister.id:
        return DISK_ID;
      case DiskRegister.version:
        return DISK_VERSION;
      case DiskRegister.sectors:
        return this.backing.sectors >>> 0;
      case DiskRegister.line:
        return this.line;
      case DiskRegister.maxSectors:
        return MAX_TRANSFER_SECTORS;
      case DiskRegister.maxDescriptors:
        return MAX_DESCRIPTORS;
      case DiskRegister.sector:
        return this.sector;
      case DiskRegister.count:
        return this.count;
      case DiskRegister.descriptors:
        return this.descriptors;
      case DiskRegister.status:
        return ((this.busy ? DiskStatus.Busy : 0) | (this.done ? DiskStatus.Done : 0) | (this.failed ? DiskStatus.Error : 0) | (this.errorCode << 8)) >>> 0;
      case DiskRegister.completed:
        return this.completed;
      default:
        if (offset >= DiskRegister.table && offset < DiskRegister.table + this.table.length * 4) return this.table[(offset - DiskRegister.table) >>> 2]!;
        return 0;
    }
  }

  write32(offset: number, value: number): void {
    this.catchUp();
    value >>>= 0;
    if (offset === DiskRegister.acknowledge) {
      this.done = false;
      this.failed = false;
      return;
    }
    const commandBlock = offset === DiskRegister.sector || offset === DiskRegister.count || offset === DiskRegister.descriptors || offset === DiskRegister.command || (offset >= DiskRegister.table && offset < DiskRegister.table + this.table.length * 4);
    if (!commandBlock) return; // read-only registers and holes ignore writes
    if (this.busy) {
      this.counters.ignoredWrites++;
      return;
    }
    switch (offset) {
      case DiskRegister.sector:
        this.sector = value;
        return;
      case DiskRegister.count:
        this.count = value;
        return;
      case DiskRegister.descriptors:
        this.descriptors = value;
        return;
      case DiskRegister.command:
        this.accept(value);
        return;
      default:
        this.table[(offset - DiskRegister.table) >>> 2] = value;
    }
  }

  /** A command is written: latch it, check it, and schedule its completion. */
  private accept(kind: number): void {
    const now = this.clock();
    this.counters.commands++;
    this.done = false;
    this.failed = false;
    this.errorCode = DiskError.None;
    this.completed = 0;
    const error = this.check(kind);
    const descriptors: Descriptor[] = [];
    if (error === DiskError.None) for (let i = 0; i < this.descriptors; i++) descriptors.push({ address: this.table[2 * i]!, bytes: this.table[2 * i + 1]! });
    const completion = error === DiskError.None ? this.schedule(kind, this.sector, this.count, now) : Math.ceil(now + this.overhead);
    this.counters.busyCycles += completion - now;
    const command: Command = { kind, sector: this.sector, count: this.count, descriptors, error, completion };
    this.busy = command;
    this.interrupts.raiseAt(this.line, completion, () => this.complete(command));
  }

  /** The error the command's registers give, or None. */
  private check(kind: number): number {
    if (kind !== DiskCommand.Read && kind !== DiskCommand.Write) return DiskError.BadCommand;
    if (this.count === 0 || this.count > MAX_TRANSFER_SECTORS) return DiskError.BadCount;
    if (this.sector + this.count > this.backing.sectors) return DiskError.OutOfRange;
    if (this.descriptors === 0 || this.descriptors > MAX_DESCRIPTORS) return DiskError.BadDescriptors;
    let bytes = 0;
    for (let i = 0; i < this.descriptors; i++) {
      const length = this.table[2 * i + 1]!;
      if (length === 0 || length % SECTOR_BYTES !== 0 || length > MAX_DESCRIPTOR_BYTES) return DiskError.BadDescriptors;
      bytes += length;
    }
    if (bytes !== this.count * SECTOR_BYTES) return DiskError.BadDescriptors;
    for (let i = 0; i < this.descriptors; i++) {
      if (!this.memory.isBacked(this.table[2 * i]!, this.table[2 * i + 1]!)) return DiskError.DmaOutsideRam;
    }
    return DiskError.None;
  }

  /** Completes the command in flight if its cycle has come (a register access sees the state at its own cycle). */
  private catchUp(): void {
    const busy = this.busy;
    if (busy && this.clock() >= busy.completion) this.complete(busy);
  }

  /** The command's completion: the data moves, the status is set. Runs once (at the first of a register access and the interrupt). */
  private complete(command: Command): void {
    if (this.busy !== command) return;
    this.busy = null;
    let error = command.error;
    if (error === DiskError.None) error = this.transfer(command);
    this.errorCode = error;
    this.failed = error !== DiskError.None;
    this.done = true;
    this.completed = error === DiskError.None ? command.count : 0;
    if (this.failed) this.counters.errors++;
    this.counters.interrupts++;
  }

  /** Moves the data of a checked command between the backing and RAM: an error code. */
  private transfer(command: Command): number {
    const bytes = this.memory.bytes;
    const data = new Uint8Array(command.count * SECTOR_BYTES);
    if (command.kind === DiskCommand.Read) {
      if (!this.backing.read(command.sector, data)) return DiskError.Medium;
      let at = 0;
      for (const d of command.descriptors) {
        bytes.set(data.subarray(at, at + d.bytes), d.address);
        at += d.bytes;
      }
      this.counters.reads++;
      this.counters.sectorsRead += command.count;
      return DiskError.None;
    }
    let at = 0;
    for (const d of command.descriptors) {
      data.set(bytes.subarray(d.address, d.address + d.bytes), at);
      at += d.bytes;
    }
    if (!this.backing.write(command.sector, data)) return DiskError.Medium;
    this.counters.writes++;
    this.counters.sectorsWritten += command.count;
    return DiskError.None;
  }

  // ---- The drive model ---------------------------------------------------------------------

  /** Seek time between two cylinders, in cycles. */
  private seek(from: number, to: number): number {
    const distance = Math.abs(to - from);
    if (distance === 0) return 0;
    const span = Math.max(1, this.model.cylinders - 1);
    return this.trackToTrack + (this.fullStroke - this.trackToTrack) * Math.sqrt(Math.min(1, (distance - 1) / span));
  }

  /** Cycles from `time` until the start of `sector` passes under the head. */
  private rotationalWait(time: number, sector: number): number {
    const position = time % this.revolution;
    const target = (sector % this.model.sectorsPerTrack) * this.sectorTime;
    const wait = target - position;
    return wait >= 0 ? wait : wait + this.revolution;
  }

  private cylinderOf(sector: number): number {
    return Math.floor(sector / (this.model.sectorsPerTrack * this.model.heads));
  }

  /**
   * The completion cycle of a checked command given at `now`, and the drive's state after it
   * (head position, read-ahead segment).
   */
  private schedule(kind: number, sector: number, count: number, now: number): number {
    const start = now + this.overhead;
    const last = sector + count; // one past the last sector
    const toMemory = start + count * this.interfaceSectorTime;
    if (kind === DiskCommand.Write) {
      this.segment = null;
      const positioned = start + this.seek(this.cylinder, this.cylinderOf(sector));
      const written = positioned + this.rotationalWait(positioned, sector) + count * this.sectorTime;
      this.cylinder = this.cylinderOf(last - 1);
      return Math.ceil(Math.max(toMemory, written));
    }
    // A read. When has each sector been read from the medium into the drive's buffer?
    const segment = this.segment;
    const readAhead = this.model.readAheadSectors;
    let available: (x: number) => number;
    let first = sector;
    // The buffer holds [first, next) and what the read-ahead has read since: a read from there
    // (or from the very sector the head reaches next) needs no seek and no rotational wait.
    const readBy = segment ? segment.next + Math.min(readAhead, Math.max(0, Math.floor((start - segment.arrival) / this.sectorTime))) : 0;
    if (segment && sector >= segment.first && sector <= readBy) {
      this.counters.bufferHits++;
      first = segment.first;
      if (last <= segment.next) {
        // All of it is in the buffer already; the read-ahead goes on behind it.
        const done = Math.ceil(toMemory);
        this.segment = { ...segment, first: Math.max(segment.first, segment.next + readAhead - this.model.bufferSectors) };
        return done;
      }
      // Sector next + k comes at arrival + (k + 1) sector times while the read-ahead runs; if it
      // stopped with a full segment before this command came, the rest waits for the platter.
      const { next, arrival } = segment;
      const stopped = arrival + readAhead * this.sectorTime <= start;
      const resume = next + readAhead;
      const resumed = stopped ? start + this.rotationalWait(start, resume) : 0;
      available = (x) => (x < next ? -Infinity : !stopped || x < resume ? arrival + (x - next + 1) * this.sectorTime : resumed + (x - resume + 1) * this.sectorTime);
    } else {
      const positioned = start + this.seek(this.cylinder, this.cylinderOf(sector));
      const begin = positioned + this.rotationalWait(positioned, sector);
      available = (x) => begin + (x - sector + 1) * this.sectorTime;
    }
    // The transfer to memory streams behind the medium: done when both are.
    const mediaEnd = available(last - 1);
    const done = Math.max(toMemory, mediaEnd + this.interfaceSectorTime);
    this.segment = { first: Math.max(first, last + readAhead - this.model.bufferSectors), next: last, arrival: mediaEnd };
    this.cylinder = this.cylinderOf(last - 1);
    return Math.ceil(done);
  }
}
