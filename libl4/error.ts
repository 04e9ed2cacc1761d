// Names for what the ErrorCode TCR says: the IPC error word taken apart, and the names of the
// non-IPC error codes (ThreadControl, SpaceControl, Schedule, ...).
//
// After a failed IPC (MR0 has E set) the ErrorCode TCR holds:
//   bit 0      phase: 0 the send phase failed, 1 the receive phase
//   bits 3-1   the code (abi.ts IpcError: 1 timeout ... 7 aborted)
//   bits 31-4  for codes 4-7 (overflow, transfer timeouts, abort) X.2 puts the number of bytes
//              transferred before the failure here; it is decoded as `offset` and is 0 otherwise.
// Names are the keys of abi.ts's tables, so a log line and the constant it stands for match.

import { ErrorCode, IpcError } from './abi.ts';

export type IpcPhase = 'send' | 'receive';

/** An IPC ErrorCode TCR value taken apart. */
export interface IpcErrorInfo {
  phase: IpcPhase;
  /** The IpcError code (bits 3-1). */
  code: number;
  /** The IpcError key ('Timeout', ...), 'None' for 0, 'Unknown' for a code not in the table. */
  name: string;
  /** Bits 31-4: bytes transferred before the error, for the codes that report it. */
  offset: number;
}

export const IPC_ERROR_PHASE_RECEIVE = 0x1;
export const IPC_ERROR_CODE_SHIFT = 1;
export const IPC_ERROR_CODE_MASK = 0x7;
export const IPC_ERROR_OFFSET_SHIFT = 4;

function nameIn(table: Readonly<Record<string, number>>, code: number): string {
  if (code === 0) return 'None';
  for (const [name, value] of Object.entries(table)) {
    if (value === code) return name;
  }
  return 'Unknown';
}

/** The name of an IpcError code ('Timeout', 'NonExistingPartner', ...). */
export function ipcErrorName(code: number): string {
  return nameIn(IpcError, code);
}

/** The name of a (non-IPC) ErrorCode value ('NoPrivilege', 'InvalidThread', ...). */
export function errorCodeName(code: number): string {
  return nameIn(ErrorCode, code);
}

/** The ErrorCode TCR value of a failed IPC, taken apart. */
export function decodeIpcError(tcr: number): IpcErrorInfo {
  const code = (tcr >>> IPC_ERROR_CODE_SHIFT) & IPC_ERROR_CODE_MASK;
  return {
    phase: (tcr & IPC_ERROR_PHASE_RECEIVE) !== 0 ? 'receive' : 'send',
    code,
    name: ipcErrorName(code),
    offset: tcr >>> IPC_ERROR_OFFSET_SHIFT,
  };
}

/** The ErrorCode TCR value for `code` in `phase` (what a kernel writes; useful in tests). */
export function ipcErrorWord(phase: IpcPhase, code: number, offset = 0): number {
  if (!Number.isInteger(code) || code < 0 || code > IPC_ERROR_CODE_MASK) {
    throw new RangeError(`IPC error code ${code} is outside 0..7`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset >= 2 ** 28) {
    throw new RangeError(`IPC error offset ${offset} does not fit in 28 bits`);
  }
  return ((offset << IPC_ERROR_OFFSET_SHIFT) | (code << IPC_ERROR_CODE_SHIFT) | (phase === 'receive' ? 1 : 0)) >>> 0;
}

/** A short text for logs: "receive Timeout", "send NonExistingPartner at byte 12". */
export function describeIpcError(tcr: number): string {
  const info = decodeIpcError(tcr);
  return info.offset !== 0 ? `${info.phase} ${info.name} at byte ${info.offset}` : `${info.phase} ${info.name}`;
}
