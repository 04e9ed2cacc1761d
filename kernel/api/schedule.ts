// Schedule and ThreadSwitch: priorities and time slices, and giving up the processor.
//
// Schedule(dest, timeControl, processorControl, priority, preemptionControl): the caller must be
// dest's scheduler or privileged; a priority may not exceed MAX_PRIORITY or the caller's own;
// time periods in timeControl use the 16-bit timeout form, 0xFFFF leaving a field as it is.
// ThreadSwitch(dest) donates the rest of the turn to dest if it is ready, else just yields. An
// interrupt thread's priority orders interrupts pending at the same time (api/interrupts.ts).

import { ErrorCode, NILTHREAD } from '../../libl4/abi.ts';
import type { Clock } from '../generic/clock.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import { MAX_PRIORITY, ThreadState, type Thread } from '../generic/thread.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { timeoutMicroseconds } from './fpage.ts';
import { fail } from './results.ts';

export interface ScheduleParts {
  readonly threads: ThreadTable;
  readonly spaces: AddressSpaces;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly utcbs: Utcbs;
}

export function threadSwitch(parts: ScheduleParts, caller: Thread, dest: number): void {
  const target = dest === NILTHREAD ? undefined : parts.threads.resolve(caller, dest);
  if (target && target !== caller && target.runnable) parts.scheduler.handoff = target;
  parts.scheduler.yielding = true;
}

export function schedule(parts: ScheduleParts, caller: Thread, dest: number, timeControl: number, processorControl: number, priority: number, preemptionControl: number): number[] {
  const { threads, spaces, scheduler, clock, utcbs } = parts;
  const target = threads.resolve(caller, dest);
  // An interrupt thread has a priority only while it is associated with a handler.
  if (!target || (target.interrupt !== null && target.interrupt.handler === NILTHREAD)) return [fail(utcbs, caller, ErrorCode.InvalidThread), 0];
  if (target.scheduler !== caller.id && !spaces.isPrivileged(caller.space)) return [fail(utcbs, caller, ErrorCode.NoPrivilege), 0];
  if (priority !== 0xffffffff && (priority > MAX_PRIORITY || priority > caller.priority)) return [fail(utcbs, caller, ErrorCode.InvalidParameter), 0];
  if (processorControl !== 0xffffffff && processorControl !== 0) return [fail(utcbs, caller, ErrorCode.InvalidParameter), 0];
  const slice = timeControl >>> 16;
  if (timeControl !== 0xffffffff && slice !== 0xffff) {
    const us = timeoutMicroseconds(slice);
    const cycles = us === Infinity ? Number.MAX_SAFE_INTEGER : clock.usToCycles(us);
    if (cycles <= 0) return [fail(utcbs, caller, ErrorCode.InvalidParameter), 0];
    target.timeslice = cycles;
    target.remaining = Math.min(target.remaining, cycles);
  }
  if (priority !== 0xffffffff) scheduler.setPriority(target, priority);
  void preemptionControl;
  const state = !target.alive ? 1 : target.utcbPhysical < 0 ? 2 : target.state === ThreadState.Sending ? 4 : target.state === ThreadState.Receiving ? 6 : 3; // blocked in send: pending send (4)
  return [state, timeControl];
}
