// ExchangeRegisters: read and change a thread of the caller's own space, or a thread whose pager
// lives in the caller's space: cancel its IPC, halt or resume it, set its SP, IP, flags, user
// handle and pager; the old values come back. (The pager's reach is L4Ka::Pistachio's
// "pagerexregs" extension of X.2, which l4test's pagers use to abort their clients' faults; a
// local id names a thread of the caller's own space only.)
//
// Control bits (libl4/abi.ts ExchangeControl): h 0 (with HaltValid 8: the new halt state), r 1
// cancel receive, s 2 cancel send, S 3, I 4, F 5, u 6, p 7 set SP, IP, flags, handle, pager. The
// returned control word has halted in bit 0, receiving in bit 1, sending in bit 2. A program
// thread's IP names its entry: setting another thread's IP restarts its body there. Cancelling
// a thread's side of a string transfer (or the fault IPC it makes for one) aborts the transfer.

import { ANYLOCALTHREAD, ErrorCode, IpcError, NILTHREAD, TCR_PAGER, TCR_USER_DEFINED_HANDLE } from '../../libl4/abi.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import { ThreadState, type Thread } from '../generic/thread.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import { RECEIVE, SEND, type Ipc } from './ipc.ts';
import type { StringTransfers } from './string-transfer.ts';
import type { ThreadLifecycle } from './threads.ts';

const XR_HALT = 1 << 0;
const XR_CANCEL_RECEIVE = 1 << 1;
const XR_CANCEL_SEND = 1 << 2;
const XR_SET_SP = 1 << 3;
const XR_SET_IP = 1 << 4;
const XR_SET_FLAGS = 1 << 5;
const XR_SET_USER_HANDLE = 1 << 6;
const XR_SET_PAGER = 1 << 7;
const XR_HALT_VALID = 1 << 8;

export interface ExchangeRegistersParts {
  readonly threads: ThreadTable;
  readonly utcbs: Utcbs;
  readonly ipc: Ipc;
  readonly strings: StringTransfers;
  readonly scheduler: Scheduler;
  readonly lifecycle: ThreadLifecycle;
}

export function exchangeRegisters(
  parts: ExchangeRegistersParts,
  caller: Thread,
  dest: number,
  control: number,
  sp: number,
  ip: number,
  flags: number,
  userHandle: number,
  pager: number,
): number[] {
  const { threads, utcbs, ipc, strings, scheduler, lifecycle } = parts;
  const target = dest & 0x3f ? threads.byId(dest) : dest !== NILTHREAD && dest !== ANYLOCALTHREAD ? threads.byLocalId(caller.space, dest) : undefined;
  if (!target || (target.space !== caller.space && threads.byId(utcbs.readTcr(target, TCR_PAGER))?.space !== caller.space)) {
    utcbs.setError(caller, ErrorCode.InvalidThread);
    return [NILTHREAD, 0, 0, 0, 0, 0, 0];
  }
  const hasUtcb = target.utcbPhysical >= 0;
  // In a string transfer (waiting for the copy, not in its own fault IPC), it is in the phase of its side.
  const transfer = target.fault === null ? target.transfer : null;
  const receiving = transfer ? transfer.receiver === target : target.state === ThreadState.Receiving;
  const sending = transfer ? transfer.sender === target : target.state === ThreadState.Sending;
  const old = [
    dest & 0x3f ? target.utcbAddress : target.id,
    (target.halted ? 1 : 0) | (receiving ? 2 : 0) | (sending ? 4 : 0),
    target.sp,
    target.ip,
    target.flags,
    utcbs.readTcr(target, TCR_USER_DEFINED_HANDLE),
    utcbs.readTcr(target, TCR_PAGER),
  ];
  if (transfer && control & (sending ? XR_CANCEL_SEND : XR_CANCEL_RECEIVE)) {
    // Cancelling a side of a string transfer aborts it (error 7 for both). A side in its fault
    // IPC is cancelled below: the aborted fault ends the transfer the same way.
    strings.abortTransferOf(target);
  }
  if (control & XR_CANCEL_SEND && target.state === ThreadState.Sending && !target.awaitingStart) {
    ipc.unblock(target);
    ipc.complete(target, IpcError.Canceled, SEND);
  }
  if (control & XR_CANCEL_RECEIVE && target.state === ThreadState.Receiving && !target.awaitingStart) {
    ipc.unblock(target);
    ipc.complete(target, IpcError.Canceled, RECEIVE);
  }
  if (control & XR_SET_SP) target.sp = sp;
  if (control & XR_SET_FLAGS) target.flags = flags;
  if (control & XR_SET_USER_HANDLE && hasUtcb) utcbs.writeTcr(target, TCR_USER_DEFINED_HANDLE, userHandle);
  if (control & XR_SET_PAGER && hasUtcb) utcbs.writeTcr(target, TCR_PAGER, pager);
  if (control & XR_HALT_VALID && !(control & XR_HALT) && target.halted) {
    target.halted = false;
    if (target.state === ThreadState.Ready && target !== caller) scheduler.makeReady(target);
  }
  if (control & XR_SET_IP) {
    if (target === caller) {
      // A program thread's own IP names its entry; changing it does not move a running body.
      caller.ip = ip;
    } else if (hasUtcb && (target.awaitingStart || target.state === ThreadState.Ready)) {
      // Starts an activated thread, or restarts a running one, at the new IP.
      ipc.unblock(target);
      scheduler.removeReady(target);
      lifecycle.start(target, ip, target.sp);
    } else target.ip = ip;
  }
  if (control & XR_HALT_VALID && control & XR_HALT && !target.halted) {
    target.halted = true;
    scheduler.removeReady(target);
  }
  return old.map((value) => value >>> 0);
}
