// System-call entry: the cost of the trap, argument decoding, and the call itself.
//
// A program may pass anything: any count of arguments, any value in each. Every word is taken
// modulo 2^32 (non-numbers read as 0), and every call checks every argument before it changes
// anything, answering a bad one with the X.2 error code in the ErrorCode TCR. Nothing a program
// passes makes the kernel throw. The calls themselves live beside this file, one mechanism each.

import type { HardwareInterface } from '../../emulator/hardware.ts';
import { ErrorCode, ExceptionNumber, Syscall } from '../../libl4/abi.ts';
import type { Clock } from '../generic/clock.ts';
import type { Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { ResumeKind, type Exceptions } from './exceptions.ts';
import { exchangeRegisters, type ExchangeRegistersParts } from './exchange-registers.ts';
import { fpageBase } from './fpage.ts';
import type { Ipc } from './ipc.ts';
import { OK, fail } from './results.ts';
import { schedule, threadSwitch, type ScheduleParts } from './schedule.ts';
import { spaceControl, threadControl, type ThreadControlParts } from './thread-control.ts';
import { unmap, type UnmapParts } from './unmap.ts';

export interface SystemCallParts extends ThreadControlParts, ExchangeRegistersParts, ScheduleParts, UnmapParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly clock: Clock;
  readonly tracer: Tracer;
  readonly ipc: Ipc;
  readonly exceptions: Exceptions;
  /** System calls by number (counted here). */
  readonly syscallCounts: number[];
}

/** Decodes the trap's arguments and runs the call; the results go to `thread.resume` when it completes. */
export function handleSyscall(parts: SystemCallParts, thread: Thread): void {
  const number = thread.trapNumber;
  const args = thread.trapArgs;
  const costs = parts.hw.profile.costs;
  if (number < parts.syscallCounts.length) parts.syscallCounts[number]!++;
  if (parts.tracer.enabled) {
    parts.tracer.emit('syscall', thread.id, `${syscallName(number)}(${Array.from({ length: thread.trapArgCount }, (_, i) => word(args, i).toString(16)).join(', ')})`);
  }
  if (number === Syscall.Ipc || number === Syscall.Lipc) {
    parts.hw.cpu.charge(costs.systemCallEntry + costs.systemCallExit + parts.costs.ipcPath);
    parts.ipc.ipc(thread, word(args, 0), word(args, 1), word(args, 2));
    return;
  }
  parts.hw.cpu.charge(costs.systemCallEntry + costs.systemCallExit + parts.costs.syscallPath);
  const a = (i: number): number => word(args, i);
  let results: number[];
  switch (number) {
    case Syscall.KernelInterface:
      results = [fpageBase(thread.space.kipArea), 0x84050000, 0, (0x68 << 24) | (0x01 << 16)];
      break;
    case Syscall.ExchangeRegisters:
      results = exchangeRegisters(parts, thread, a(0), a(1), a(2), a(3), a(4), a(5), a(6));
      break;
    case Syscall.ThreadControl:
      results = [threadControl(parts, thread, a(0), a(1), a(2), a(3), a(4))];
      break;
    case Syscall.SystemClock: {
      const us = parts.clock.microseconds();
      results = [us % 2 ** 32, Math.floor(us / 2 ** 32)];
      break;
    }
    case Syscall.ThreadSwitch:
      threadSwitch(parts, thread, a(0));
      results = [];
      break;
    case Syscall.Schedule:
      results = schedule(parts, thread, a(0), a(1), a(2), a(3), a(4));
      break;
    case Syscall.Unmap:
      unmap(parts, thread, a(0));
      results = [];
      break;
    case Syscall.SpaceControl:
      results = spaceControl(parts, thread, a(0), a(1), a(2), a(3), a(4));
      break;
    case Syscall.ProcessorControl:
      results = [privilegedNoop(parts, thread, a(0) === 0)];
      break;
    case Syscall.MemoryControl:
      results = [privilegedNoop(parts, thread, (a(0) & 0x3f) < 64)];
      break;
    default:
      // Not a system call: #GP, with the number in EAX.
      parts.exceptions.raise(thread, ExceptionNumber.GeneralProtection, number, ResumeKind.SystemCall, `invalid system call ${number}`);
      return;
  }
  thread.resume = results;
}

/** Argument word `i`: missing or non-numeric words read as 0, others modulo 2^32. */
function word(args: readonly number[], i: number): number {
  const value = args[i];
  return typeof value === 'number' && Number.isFinite(value) ? value >>> 0 : 0;
}

function syscallName(number: number): string {
  const names = Object.keys(Syscall);
  return names[number] ?? `syscall${number}`;
}

/** ProcessorControl and MemoryControl: validated, privileged, and without effect here. */
function privilegedNoop(parts: SystemCallParts, caller: Thread, valid: boolean): number {
  if (!parts.spaces.isPrivileged(caller.space)) return fail(parts.utcbs, caller, ErrorCode.NoPrivilege);
  if (!valid) return fail(parts.utcbs, caller, ErrorCode.InvalidParameter);
  return OK;
}
