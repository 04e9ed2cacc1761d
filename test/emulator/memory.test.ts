// Physical memory: little-endian views, unaligned access, the edge of RAM, a lazily committed
// 4 GiB machine.
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../emulator/memory.ts';

describe('PhysicalMemory', () => {
  it('reads and writes little-endian, aligned and unaligned', () => {
    const memory = new PhysicalMemory(8192);
    memory.write32(0x100, 0x11223344);
    expect([memory.read8(0x100), memory.read8(0x103)]).toEqual([0x44, 0x11]);
    expect(memory.read16(0x101)).toBe(0x2233);
    memory.write32(0x201, 0xdeadbeef);
    expect(memory.read32(0x201)).toBe(0xdeadbeef);
    expect(memory.read32(0x200)).toBe(0xadbeef00);
    memory.write16(0xfff, 0xabcd);
    expect(memory.hex(0xfff, 2)).toBe('cdab');
  });

  it('masks written values to the access size', () => {
    const memory = new PhysicalMemory(4096);
    memory.write8(0, 0x1ff);
    memory.write16(2, -1);
    expect([memory.read8(0), memory.read16(2), memory.read8(4)]).toEqual([0xff, 0xffff, 0]);
  });

  it('reads all ones and drops writes past the end of RAM, and counts them', () => {
    const memory = new PhysicalMemory(4096);
    expect(memory.read32(4096)).toBe(0xffffffff);
    expect(memory.read32(4094)).toBe(0xffff0000);
    memory.write32(4094, 0x12345678);
    expect(memory.read16(4094)).toBe(0x5678);
    expect(memory.read8(0xffffffff)).toBe(0xff);
    expect(memory.unbackedReads).toBeGreaterThan(0);
    expect(memory.unbackedWrites).toBe(2);
  });

  it('copies byte ranges in and out', () => {
    const memory = new PhysicalMemory(4096);
    memory.writeBytes(4090, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect([...memory.readBytes(4088, 10)]).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 0xff, 0xff]);
    memory.fill(0, 16, 0xaa);
    expect(memory.hex(0, 4)).toBe('aaaaaaaa');
    expect(() => memory.readBytes(-1, 4)).toThrow(RangeError);
    expect(() => memory.writeBytes(2 ** 32 - 2, new Uint8Array(4))).toThrow(RangeError);
  });

  it('refuses sizes that are not whole frames up to 4 GiB', () => {
    for (const size of [0, 100, 4097, 2 ** 32 + 4096, -4096, Number.NaN]) {
      expect(() => new PhysicalMemory(size)).toThrow(RangeError);
    }
  });

  it('makes a 4 GiB machine without committing host memory', () => {
    const before = process.memoryUsage().rss;
    const memory = new PhysicalMemory(2 ** 32);
    memory.write32(0xfffffffc, 0xcafef00d);
    memory.write32(0x80000000, 1);
    expect(memory.read32(0xfffffffc)).toBe(0xcafef00d);
    expect(memory.read32(0x80000000)).toBe(1);
    expect(memory.size).toBe(2 ** 32);
    // Touching two pages commits two pages, not 4 GiB.
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});
