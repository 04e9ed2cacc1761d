// The disk controller: commands, DMA straight into RAM, the completion interrupt, the error
// status for every bad command (never a host exception), busy registers, the drive model's
// timing (deterministic; a sequential read finds the read-ahead buffer), and the driver's copy
// of the register layout (servers/deva/controller.ts) held to the controller's.
import { describe, expect, it } from 'vitest';
import { IntervalTimer } from '../../emulator/devices.ts';
import { DISK_ERROR_NAMES, DISK_ID, DISK_INTERRUPT_LINE, DISK_MODELS, DiskCommand, DiskController, DiskError, DiskRegister, DiskStatus, MAX_DESCRIPTOR_BYTES, MemoryDisk, SECTOR_BYTES } from '../../emulator/disk.ts';
import { InterruptController } from '../../emulator/interrupt-controller.ts';
import { PhysicalMemory } from '../../emulator/memory.ts';
import * as driverView from '../../servers/deva/controller.ts';

const RAM = 8 * 1024 * 1024;

function machine(sectors = 4096) {
  const memory = new PhysicalMemory(RAM);
  const interrupts = new InterruptController(new IntervalTimer());
  interrupts.unmask(DISK_INTERRUPT_LINE);
  const contents = new Uint8Array(sectors * SECTOR_BYTES);
  for (let i = 0; i < contents.length; i++) contents[i] = (i * 31 + (i >>> 9)) & 0xff;
  const backing = new MemoryDisk(contents);
  let now = 1000;
  const disk = new DiskController({ backing, memory, interrupts, clock: () => now, clockHz: 733_000_000, model: DISK_MODELS.p3! });
  const command = (kind: number, sector: number, count: number, ranges: readonly [number, number][]): void => {
    disk.write32(DiskRegister.sector, sector);
    disk.write32(DiskRegister.count, count);
    disk.write32(DiskRegister.descriptors, ranges.length);
    ranges.forEach(([address, bytes], i) => {
      disk.write32(DiskRegister.table + 8 * i, address);
      disk.write32(DiskRegister.table + 8 * i + 4, bytes);
    });
    disk.write32(DiskRegister.command, kind);
  };
  /** Runs the clock to the completion interrupt: the cycle it came at. */
  const complete = (): number => {
    for (let step = 0; step < 1e6; step++) {
      if (interrupts.pending(now) & (1 << DISK_INTERRUPT_LINE)) {
        interrupts.acknowledge(DISK_INTERRUPT_LINE);
        return now;
      }
      now += 1000;
    }
    throw new Error('no interrupt');
  };
  const status = (): number => disk.read32(DiskRegister.status);
  return { memory, interrupts, disk, backing, contents, command, complete, status, clock: () => now, advance: (n: number) => (now += n) };
}

describe('disk controller', () => {
  it('identifies itself as its page header says, and its driver knows the same registers and codes', () => {
    const { disk } = machine();
    expect(disk.read32(DiskRegister.id)).toBe(DISK_ID);
    expect(disk.read32(DiskRegister.line)).toBe(DISK_INTERRUPT_LINE);
    expect(disk.read32(DiskRegister.sectors)).toBe(4096);
    expect(driverView.Register).toEqual(DiskRegister);
    expect(driverView.Command).toEqual(DiskCommand);
    expect(driverView.Status).toEqual(DiskStatus);
    expect(driverView.ERROR_NAMES).toEqual(DISK_ERROR_NAMES);
    expect(driverView.DISK_ID).toBe(DISK_ID);
    expect(driverView.SECTOR_BYTES).toBe(SECTOR_BYTES);
    expect(driverView.MAX_DESCRIPTOR_BYTES).toBe(MAX_DESCRIPTOR_BYTES);
  });

  it('reads by DMA into scattered RAM at the completion, raises its line, and acknowledges', () => {
    const m = machine();
    m.command(DiskCommand.Read, 8, 3, [[0x10000, 1024], [0x30200, 512]]);
    expect(m.status() & DiskStatus.Busy).toBe(DiskStatus.Busy);
    expect(m.memory.readBytes(0x10000, 4)).toEqual(new Uint8Array(4)); // nothing moved before the completion
    // Writes to the command block while busy are ignored and counted.
    m.disk.write32(DiskRegister.sector, 99);
    expect(m.disk.counters.ignoredWrites).toBe(1);
    m.complete();
    expect(m.status()).toBe(DiskStatus.Done);
    expect(m.disk.read32(DiskRegister.completed)).toBe(3);
    expect(m.memory.readBytes(0x10000, 1024)).toEqual(m.contents.subarray(8 * 512, 10 * 512));
    expect(m.memory.readBytes(0x30200, 512)).toEqual(m.contents.subarray(10 * 512, 11 * 512));
    m.disk.write32(DiskRegister.acknowledge, 1);
    expect(m.status()).toBe(0);
    expect(m.disk.counters).toMatchObject({ commands: 1, reads: 1, sectorsRead: 3, errors: 0, interrupts: 1 });
  });

  it('writes RAM to the disk', () => {
    const m = machine();
    const data = new Uint8Array(1024).map((_, i) => 255 - (i & 0xff));
    m.memory.writeBytes(0x40000, data);
    m.command(DiskCommand.Write, 100, 2, [[0x40000, 1024]]);
    m.complete();
    expect(m.status()).toBe(DiskStatus.Done);
    expect(m.backing.bytes.subarray(100 * 512, 102 * 512)).toEqual(data);
    expect(m.disk.counters.sectorsWritten).toBe(2);
  });

  it('sets the error status for every bad command and moves nothing', () => {
    const cases: [string, number, number, number, [number, number][], number][] = [
      ['unknown command', 7, 0, 1, [[0, 512]], DiskError.BadCommand],
      ['a count of 0', DiskCommand.Read, 0, 0, [[0, 512]], DiskError.BadCount],
      ['past the end', DiskCommand.Read, 4095, 2, [[0, 1024]], DiskError.OutOfRange],
      ['no descriptors', DiskCommand.Read, 0, 1, [], DiskError.BadDescriptors],
      ['lengths that do not add up', DiskCommand.Read, 0, 2, [[0, 512]], DiskError.BadDescriptors],
      ['a length not a multiple of 512', DiskCommand.Read, 0, 1, [[0, 500]], DiskError.BadDescriptors],
      ['DMA outside RAM', DiskCommand.Read, 0, 1, [[RAM - 256, 512]], DiskError.DmaOutsideRam],
      ['DMA at the top of the address space', DiskCommand.Write, 0, 1, [[0xfffffe00, 512]], DiskError.DmaOutsideRam],
    ];
    for (const [what, kind, sector, count, ranges, error] of cases) {
      const m = machine();
      m.command(kind, sector, count, ranges);
      m.complete();
      expect(m.status(), what).toBe(DiskStatus.Done | DiskStatus.Error | (error << 8));
      expect(m.disk.read32(DiskRegister.completed), what).toBe(0);
      expect(m.disk.counters.errors, what).toBe(1);
      expect(m.memory.readBytes(0, 1024), what).toEqual(new Uint8Array(1024));
    }
  });

  it('a medium that fails is a medium error', () => {
    const m = machine();
    m.backing.read = () => false;
    m.command(DiskCommand.Read, 0, 1, [[0, 512]]);
    m.complete();
    expect(m.status()).toBe(DiskStatus.Done | DiskStatus.Error | (DiskError.Medium << 8));
  });

  it('times commands by the drive model, the same on every run; a sequential read finds the read-ahead buffer', () => {
    const run = (): { times: number[]; hits: number } => {
      const m = machine(4096);
      // A big disk whose bytes do not matter here.
      const disk = new DiskController({ backing: { sectors: 1 << 20, read: () => true, write: () => true }, memory: m.memory, interrupts: m.interrupts, clock: m.clock, clockHz: 733_000_000, model: DISK_MODELS.p3! });
      const times: number[] = [];
      for (const [sector, pause] of [[500_000, 0], [0, 0], [64, 0], [128, 7_330_000]] as const) {
        m.advance(pause);
        const start = m.clock();
        disk.write32(DiskRegister.sector, sector);
        disk.write32(DiskRegister.count, 64);
        disk.write32(DiskRegister.descriptors, 1);
        disk.write32(DiskRegister.table, 0);
        disk.write32(DiskRegister.table + 4, 64 * 512);
        disk.write32(DiskRegister.command, DiskCommand.Read);
        times.push(m.complete() - start);
        disk.write32(DiskRegister.acknowledge, 1);
      }
      return { times, hits: disk.counters.bufferHits };
    };
    const first = run();
    expect(run()).toEqual(first);
    const [far, back, next, later] = first.times;
    // A long seek and the rotation cost milliseconds (733 MHz: 733,000 cycles a millisecond)...
    expect(far!).toBeGreaterThan(733_000);
    expect(back!).toBeGreaterThan(733_000);
    // ...the next sectors stream from the platter with no seek and no rotational wait, and once
    // the read-ahead had time to read them they come from the buffer at the interface's rate.
    expect(first.hits).toBe(2);
    expect(next!).toBeLessThan(back!);
    expect(later!).toBeLessThan(next! / 1.5);
  });
});
