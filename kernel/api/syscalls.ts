// System-call entry: argument decoding and validation, and the calls other than Ipc and Unmap.
//
// A program may pass anything: any count of arguments, any value in each. Every word is taken
// modulo 2^32 (non-numbers read as 0), and every call checks every argument before it changes
// anything, answering a bad one with the X.2 error code in the ErrorCode TCR. Nothing a program
// passes makes the kernel throw.

import { TCR_PAGER, TCR_USER_DEFINED_HANDLE, ANYLOCALTHREAD, ANYTHREAD, ErrorCode, NILTHREAD, Syscall } from '../../libl4/abi.ts';
import { completeIpc, ipc } from './ipc.ts';
import { KIP_AREA_LOG2, USER_BASE } from '../ia32/kip.ts';
import { fpageBase, fpageContains, fpageRange, timeoutMicroseconds } from './fpage.ts';
import type { Kernel } from '../kernel.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import { MAX_PRIORITY, ThreadState, type Thread } from '../generic/thread.ts';
import { unmap } from './unmap.ts';

/** Result word of ThreadControl, SpaceControl and friends. */
const OK = 1;
const FAILED = 0;

/** ExchangeRegisters control bits. */
const XR_HALT = 1 << 0;
const XR_CANCEL_RECEIVE = 1 << 1;
const XR_CANCEL_SEND = 1 << 2;
const XR_SET_SP = 1 << 3;
const XR_SET_IP = 1 << 4;
const XR_SET_FLAGS = 1 << 5;
const XR_SET_USER_HANDLE = 1 << 6;
const XR_SET_PAGER = 1 << 7;
const XR_HALT_VALID = 1 << 8;

/** Decodes the trap's arguments and runs the call; the results go to `thread.resume` when it completes. */
export function handleSyscall(k: Kernel, thread: Thread): void {
  const number = thread.trapNumber;
  const args = thread.trapArgs;
  const costs = k.hw.profile.costs;
  if (number < k.syscallCounts.length) k.syscallCounts[number]!++;
  if (k.trace) k.emit('syscall', thread, `${syscallName(number)}(${Array.from({ length: thread.trapArgCount }, (_, i) => word(args, i).toString(16)).join(', ')})`);
  if (number === Syscall.Ipc || number === Syscall.Lipc) {
    k.hw.cpu.charge(costs.systemCallEntry + costs.systemCallExit + k.costs.ipcPath);
    ipc(k, thread, word(args, 0), word(args, 1), word(args, 2));
    return;
  }
  k.hw.cpu.charge(costs.systemCallEntry + costs.systemCallExit + k.costs.syscallPath);
  const a = (i: number): number => word(args, i);
  let results: number[];
  switch (number) {
    case Syscall.KernelInterface:
      results = [fpageBase(thread.space.kipArea), 0x84050000, 0, (0x68 << 24) | (0x01 << 16)];
      break;
    case Syscall.ExchangeRegisters:
      results = exchangeRegisters(k, thread, a(0), a(1), a(2), a(3), a(4), a(5), a(6));
      break;
    case Syscall.ThreadControl:
      results = [threadControl(k, thread, a(0), a(1), a(2), a(3), a(4))];
      break;
    case Syscall.SystemClock: {
      const us = k.clockMicroseconds();
      results = [us % 2 ** 32, Math.floor(us / 2 ** 32)];
      break;
    }
    case Syscall.ThreadSwitch:
      threadSwitch(k, thread, a(0));
      results = [];
      break;
    case Syscall.Schedule:
      results = schedule(k, thread, a(0), a(1), a(2), a(3), a(4));
      break;
    case Syscall.Unmap:
      unmap(k, thread, a(0));
      results = [];
      break;
    case Syscall.SpaceControl:
      results = spaceControl(k, thread, a(0), a(1), a(2), a(3), a(4));
      break;
    case Syscall.ProcessorControl:
      results = [privilegedNoop(k, thread, a(0) === 0)];
      break;
    case Syscall.MemoryControl:
      results = [privilegedNoop(k, thread, (a(0) & 0x3f) < 64)];
      break;
    default:
      k.setError(thread, ErrorCode.InvalidParameter);
      results = [FAILED];
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

/** Answers an error: sets ErrorCode and returns the failure word. */
function fail(k: Kernel, thread: Thread, code: number): number {
  k.setError(thread, code);
  return FAILED;
}

/** A global thread id a program may name for creation: a user thread number, a valid version. */
function isUserGlobalId(id: number): boolean {
  return (id & 0x3f) !== 0 && id !== ANYTHREAD && id >>> 14 >= USER_BASE;
}

// ---- ThreadControl ------------------------------------------------------------------------------

function threadControl(k: Kernel, caller: Thread, dest: number, spaceSpecifier: number, scheduler: number, pager: number, utcbLocation: number): number {
  if (!k.privileged(caller)) return fail(k, caller, ErrorCode.NoPrivilege);
  if (!isUserGlobalId(dest)) return fail(k, caller, ErrorCode.InvalidThread);
  const existing = k.threads.get(dest >>> 14);
  if (existing && existing.id !== dest) return fail(k, caller, ErrorCode.InvalidThread);

  if (spaceSpecifier === NILTHREAD) {
    // Delete.
    if (!existing || existing === caller) return fail(k, caller, ErrorCode.InvalidThread);
    k.deleteThread(existing);
    return OK;
  }

  if (scheduler !== NILTHREAD && !k.threadById(scheduler)) return fail(k, caller, ErrorCode.InvalidScheduler);

  if (!existing) {
    // Create: in the space of `spaceSpecifier`, or a new space when it names dest itself.
    let space = spaceSpecifier === dest ? null : k.threadById(spaceSpecifier)?.space;
    if (space === undefined) return fail(k, caller, ErrorCode.InvalidSpace);
    if (scheduler === NILTHREAD) return fail(k, caller, ErrorCode.InvalidScheduler);
    if (space && space.initialized && !validUtcbLocation(space.utcbArea, utcbLocation)) return fail(k, caller, ErrorCode.UtcbArea);
    if (pager !== NILTHREAD && (!space || !space.initialized)) return fail(k, caller, ErrorCode.InvalidSpace);
    if (space && space.threads.some((t) => t.alive && t.utcbAddress === utcbLocation)) return fail(k, caller, ErrorCode.UtcbArea);
    let created = false;
    if (!space) {
      space = k.createSpace();
      if (!space) return fail(k, caller, ErrorCode.NoMemory);
      created = true;
    }
    const thread = k.createThread(dest, space, utcbLocation, scheduler, caller.timeslice);
    if (!thread) {
      if (created) k.deleteThreadlessSpace(space);
      return fail(k, caller, ErrorCode.NoMemory);
    }
    if (pager !== NILTHREAD) {
      const error = k.activate(thread, pager);
      if (error) {
        k.deleteThread(thread);
        return fail(k, caller, error);
      }
    }
    return OK;
  }

  // Modify an existing thread.
  if (spaceSpecifier !== existing.id && k.threadById(spaceSpecifier)?.space !== existing.space) {
    return fail(k, caller, ErrorCode.InvalidSpace); // moving a thread to another space is not supported
  }
  const inactive = existing.utcbPhysical < 0;
  if (utcbLocation !== 0xffffffff && utcbLocation !== existing.utcbAddress) {
    if (!inactive) return fail(k, caller, ErrorCode.UtcbArea);
    if (existing.space.initialized && !validUtcbLocation(existing.space.utcbArea, utcbLocation)) return fail(k, caller, ErrorCode.UtcbArea);
    if (existing.space.threads.some((t) => t !== existing && t.alive && t.utcbAddress === utcbLocation)) return fail(k, caller, ErrorCode.UtcbArea);
  }
  if (pager !== NILTHREAD && inactive && !existing.space.initialized) return fail(k, caller, ErrorCode.InvalidSpace);
  if (utcbLocation !== 0xffffffff && inactive) existing.utcbAddress = utcbLocation;
  if (scheduler !== NILTHREAD) existing.scheduler = scheduler;
  if (pager !== NILTHREAD) {
    if (inactive) {
      const error = k.activate(existing, pager);
      if (error) return fail(k, caller, error);
    } else k.writeTcr(existing, TCR_PAGER, pager);
  }
  return OK;
}

function validUtcbLocation(utcbArea: number, location: number): boolean {
  const range = fpageRange(utcbArea);
  return range !== null && range.log2 < 32 && location % 512 === 0 && fpageContains(utcbArea, location, 512);
}

// ---- SpaceControl -------------------------------------------------------------------------------

function spaceControl(k: Kernel, caller: Thread, spaceSpecifier: number, control: number, kipArea: number, utcbArea: number, redirector: number): number[] {
  if (!k.privileged(caller)) return [fail(k, caller, ErrorCode.NoPrivilege), 0];
  const target = k.threadById(spaceSpecifier);
  if (!target || (spaceSpecifier & 0x3f) === 0) return [fail(k, caller, ErrorCode.InvalidSpace), 0];
  const space = target.space;
  if (redirector !== NILTHREAD && redirector !== ANYTHREAD && !k.threadById(redirector)) return [fail(k, caller, ErrorCode.InvalidThread), 0];
  if (!space.initialized) {
    // Both areas must lie in user space, the KIP area hold the KIP, and they must not overlap.
    const kip = fpageRange(kipArea);
    if (!kip || kip.log2 < KIP_AREA_LOG2 || kip.base + kip.size > USER_TOP) return [fail(k, caller, ErrorCode.KipArea), 0];
    const utcb = fpageRange(utcbArea);
    if (!utcb || utcb.base + utcb.size > USER_TOP) return [fail(k, caller, ErrorCode.UtcbArea), 0];
    if (kip.base < utcb.base + utcb.size && utcb.base < kip.base + kip.size) return [fail(k, caller, ErrorCode.KipArea), 0];
    if (space.threads.some((t) => !validUtcbLocation(utcbArea, t.utcbAddress))) return [fail(k, caller, ErrorCode.UtcbArea), 0];
    const error = k.initializeSpace(space, kipArea, utcbArea);
    if (error) return [fail(k, caller, error), 0];
  }
  if (redirector !== NILTHREAD) space.redirector = redirector;
  void control;
  return [OK, 0];
}

// ---- ExchangeRegisters ----------------------------------------------------------------------------

function exchangeRegisters(k: Kernel, caller: Thread, dest: number, control: number, sp: number, ip: number, flags: number, userHandle: number, pager: number): number[] {
  const target = dest & 0x3f ? k.threadById(dest) : dest !== NILTHREAD && dest !== ANYLOCALTHREAD ? k.threadByLocalId(caller.space, dest) : undefined;
  if (!target || target.space !== caller.space) {
    k.setError(caller, ErrorCode.InvalidThread);
    return [NILTHREAD, 0, 0, 0, 0, 0, 0];
  }
  const hasUtcb = target.utcbPhysical >= 0;
  const old = [
    dest & 0x3f ? target.utcbAddress : target.id,
    (target.halted ? 1 : 0) | (target.state === ThreadState.Receiving ? 2 : 0) | (target.state === ThreadState.Sending ? 4 : 0),
    target.sp,
    target.ip,
    target.flags,
    k.readTcr(target, TCR_USER_DEFINED_HANDLE),
    k.readTcr(target, TCR_PAGER),
  ];
  if (control & XR_CANCEL_SEND && target.state === ThreadState.Sending && !target.awaitingStart) {
    k.unblock(target);
    completeIpc(k, target, 3, 0);
  }
  if (control & XR_CANCEL_RECEIVE && target.state === ThreadState.Receiving && !target.awaitingStart) {
    k.unblock(target);
    completeIpc(k, target, 3, 1);
  }
  if (control & XR_SET_SP) target.sp = sp;
  if (control & XR_SET_FLAGS) target.flags = flags;
  if (control & XR_SET_USER_HANDLE && hasUtcb) k.writeTcr(target, TCR_USER_DEFINED_HANDLE, userHandle);
  if (control & XR_SET_PAGER && hasUtcb) k.writeTcr(target, TCR_PAGER, pager);
  if (control & XR_HALT_VALID && !(control & XR_HALT) && target.halted) {
    target.halted = false;
    if (target.state === ThreadState.Ready && target !== caller) k.makeReady(target);
  }
  if (control & XR_SET_IP) {
    if (target === caller) {
      // A program thread's own IP names its entry; changing it does not move a running body.
      caller.ip = ip;
    } else if (hasUtcb && (target.awaitingStart || target.state === ThreadState.Ready)) {
      // Starts an activated thread, or restarts a running one, at the new IP.
      k.unblock(target);
      k.removeReady(target);
      k.start(target, ip, target.sp);
    } else target.ip = ip;
  }
  if (control & XR_HALT_VALID && control & XR_HALT && !target.halted) {
    target.halted = true;
    k.removeReady(target);
  }
  return old.map((value) => value >>> 0);
}

// ---- Scheduling -----------------------------------------------------------------------------------

function threadSwitch(k: Kernel, caller: Thread, dest: number): void {
  const target = dest === NILTHREAD ? undefined : k.resolve(caller, dest);
  if (target && target !== caller && target.runnable) k.handoff = target;
  k.yielding = true;
}

/** Time periods in Schedule's timeControl: the 16-bit form of timeouts; 0xFFFF leaves a field as it is. */
function schedule(k: Kernel, caller: Thread, dest: number, timeControl: number, processorControl: number, priority: number, preemptionControl: number): number[] {
  const target = k.resolve(caller, dest);
  if (!target) return [fail(k, caller, ErrorCode.InvalidThread), 0];
  if (target.scheduler !== caller.id && !k.privileged(caller)) return [fail(k, caller, ErrorCode.NoPrivilege), 0];
  if (priority !== 0xffffffff && (priority > MAX_PRIORITY || priority > caller.priority)) return [fail(k, caller, ErrorCode.InvalidParameter), 0];
  if (processorControl !== 0xffffffff && processorControl !== 0) return [fail(k, caller, ErrorCode.InvalidParameter), 0];
  const slice = timeControl >>> 16;
  if (timeControl !== 0xffffffff && slice !== 0xffff) {
    const us = timeoutMicroseconds(slice);
    const cycles = us === Infinity ? Number.MAX_SAFE_INTEGER : k.usToCycles(us);
    if (cycles <= 0) return [fail(k, caller, ErrorCode.InvalidParameter), 0];
    target.timeslice = cycles;
    target.remaining = Math.min(target.remaining, cycles);
  }
  if (priority !== 0xffffffff) k.setPriority(target, priority);
  void preemptionControl;
  const state = !target.alive ? 1 : target.utcbPhysical < 0 ? 2 : target.state === ThreadState.Sending ? 4 : target.state === ThreadState.Receiving ? 6 : 3; // blocked in send: pending send (4)
  return [state, timeControl];
}

function privilegedNoop(k: Kernel, caller: Thread, valid: boolean): number {
  if (!k.privileged(caller)) return fail(k, caller, ErrorCode.NoPrivilege);
  if (!valid) return fail(k, caller, ErrorCode.InvalidParameter);
  return OK;
}
