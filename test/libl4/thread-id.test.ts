// Thread ids: the global-id layout, the global/local/nil predicates on every special id, and the
// range checks of globalId.
import { describe, expect, it } from 'vitest';
import { ANYLOCALTHREAD, ANYTHREAD, NILTHREAD } from '../../libl4/abi.ts';
import {
  formatThreadId,
  globalId,
  isAnyLocalThread,
  isAnyThread,
  isGlobal,
  isLocal,
  isNil,
  threadNumber,
  version,
} from '../../libl4/thread-id.ts';

describe('globalId', () => {
  it('puts the thread number in bits 31-14 and the version in 13-0', () => {
    expect(globalId(17, 1)).toBe(0x44001);
    expect(globalId(0x3ffff, 0x3fff)).toBe(0xffffffff);
    expect(globalId(0x20000, 1)).toBe(0x80000001);
    expect(globalId(0, 0x41)).toBe(0x41);
  });

  it('round-trips number and version, unsigned', () => {
    for (const [number, ver] of [
      [0, 1],
      [1, 0x3f],
      [0x2aaaa, 0x1555],
      [0x3ffff, 0x2001],
    ] as const) {
      const id = globalId(number, ver);
      expect(id).toBeGreaterThanOrEqual(0);
      expect(threadNumber(id)).toBe(number);
      expect(version(id)).toBe(ver);
      expect(isGlobal(id)).toBe(true);
      expect(isLocal(id)).toBe(false);
    }
  });

  it('refuses numbers over 18 bits and bad versions', () => {
    expect(() => globalId(0x40000, 1)).toThrow(RangeError);
    expect(() => globalId(-1, 1)).toThrow(RangeError);
    expect(() => globalId(1.5, 1)).toThrow(RangeError);
    expect(() => globalId(1, 0x4000)).toThrow(RangeError);
    expect(() => globalId(1, 0)).toThrow(RangeError);
    expect(() => globalId(1, 0x40)).toThrow(/low 6 bits/);
    expect(() => globalId(1, 0x3fc0)).toThrow(RangeError);
    expect(() => globalId(1, Number.NaN)).toThrow(RangeError);
  });
});

describe('predicates', () => {
  it('classify nil, the wildcards, local and global ids', () => {
    expect([isNil(NILTHREAD), isGlobal(NILTHREAD), isLocal(NILTHREAD)]).toEqual([true, false, false]);
    expect([isNil(ANYTHREAD), isGlobal(ANYTHREAD), isLocal(ANYTHREAD)]).toEqual([false, true, false]);
    expect([isNil(ANYLOCALTHREAD), isGlobal(ANYLOCALTHREAD), isLocal(ANYLOCALTHREAD)]).toEqual([false, false, true]);
    const utcb = 0xbf000200;
    expect([isNil(utcb), isGlobal(utcb), isLocal(utcb)]).toEqual([false, false, true]);
    expect(isLocal(0xbf000240)).toBe(true);
    expect(isGlobal(0xbf000201)).toBe(true);
  });

  it('accept signed spellings of the same word', () => {
    expect(isAnyThread(-1)).toBe(true);
    expect(isAnyLocalThread(-64)).toBe(true);
    expect(isAnyThread(ANYLOCALTHREAD)).toBe(false);
    expect(isNil(-0)).toBe(true);
  });

  it('format ids for logs', () => {
    expect(formatThreadId(0)).toBe('nil');
    expect(formatThreadId(ANYTHREAD)).toBe('any');
    expect(formatThreadId(ANYLOCALTHREAD)).toBe('anylocal');
    expect(formatThreadId(globalId(0x40, 1))).toBe('64.1');
    expect(formatThreadId(0xbf000200)).toBe('@bf000200');
  });
});
