// Error names: the IPC ErrorCode word (phase, code, offset) and the names of both code tables.
import { describe, expect, it } from 'vitest';
import { ErrorCode, IpcError } from '../../libl4/abi.ts';
import { decodeIpcError, describeIpcError, errorCodeName, ipcErrorName, ipcErrorWord } from '../../libl4/error.ts';

describe('IPC errors', () => {
  it('decodes phase and code from hand-made words', () => {
    expect(decodeIpcError(0x2)).toEqual({ phase: 'send', code: 1, name: 'Timeout', offset: 0 });
    expect(decodeIpcError(0x3)).toEqual({ phase: 'receive', code: 1, name: 'Timeout', offset: 0 });
    expect(decodeIpcError(0x4)).toMatchObject({ phase: 'send', name: 'NonExistingPartner' });
    expect(decodeIpcError(0x7)).toMatchObject({ phase: 'receive', code: 3, name: 'Canceled' });
    expect(decodeIpcError(0xc9)).toEqual({ phase: 'receive', code: 4, name: 'MessageOverflow', offset: 12 });
    expect(decodeIpcError(0xe)).toMatchObject({ phase: 'send', code: 7, name: 'Aborted' });
    expect(decodeIpcError(0)).toMatchObject({ code: 0, name: 'None' });
  });

  it('names every IpcError code and round-trips the word', () => {
    for (const [name, code] of Object.entries(IpcError)) {
      expect(ipcErrorName(code)).toBe(name);
      for (const phase of ['send', 'receive'] as const) {
        const word = ipcErrorWord(phase, code, 100);
        expect(word).toBe(((100 << 4) | (code << 1) | (phase === 'receive' ? 1 : 0)) >>> 0);
        expect(decodeIpcError(word)).toEqual({ phase, code, name, offset: 100 });
      }
    }
    expect(() => ipcErrorWord('send', 8)).toThrow(RangeError);
    expect(() => ipcErrorWord('send', 1, 2 ** 28)).toThrow(RangeError);
  });

  it('describes errors for logs', () => {
    expect(describeIpcError(0x3)).toBe('receive Timeout');
    expect(describeIpcError(0xc8)).toBe('send MessageOverflow at byte 12');
  });
});

describe('error codes', () => {
  it('names every ErrorCode value', () => {
    expect(errorCodeName(1)).toBe('NoPrivilege');
    expect(errorCodeName(8)).toBe('NoMemory');
    for (const [name, code] of Object.entries(ErrorCode)) expect(errorCodeName(code)).toBe(name);
    expect(errorCodeName(0)).toBe('None');
    expect(errorCodeName(9)).toBe('Unknown');
  });
});
