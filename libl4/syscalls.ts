// The system calls as generator functions over a ProgramEnv, and the usual IPC forms built on Ipc.
//
// Each wrapper passes exactly the argument words of abi.ts's table to `env.syscall`, then turns
// the result words into a named object, reading the UTCB where the kernel leaves the rest (the
// ErrorCode TCR after a failure, MR0 after an IPC). A program uses them as
//   const r = yield* call(env, server);
// so every system call and every UTCB access stays a yield* point of the thread.
//
// Result words are taken as unsigned 32-bit values; a missing result word reads as 0. Message
// registers are not touched by the IPC wrappers on the send side: load the message first
// (loadMessage or loadMRs in registers.ts), then call.
//
// Timeouts of the forms (X.2's convenience functions):
//   call       Ipc(to, to, timeouts)        default never/never
//   send       Ipc(to, nil, send:t)         default never; the unused receive half is never (0)
//   reply      Ipc(to, nil, send:zero)      fails at once if the partner is not waiting
//   receive    Ipc(nil, from, receive:t)    default never; the unused send half is never (0)
//   wait       Ipc(nil, anythread, receive:t)
//   replyWait  Ipc(to, anythread, send:zero receive:t)

import { ANYTHREAD, NILTHREAD, Syscall, TCR_ERROR_CODE, mrOffset } from './abi.ts';
import type { Op, ProgramEnv } from './abi.ts';
import { decodeMsgTag } from './msg-tag.ts';
import type { MsgTag } from './msg-tag.ts';
import { loadMRs, readTcr, storeMRs } from './registers.ts';
import { NEVER, ZERO_TIME, timeouts as timeoutsWord } from './timeout.ts';
import type { Timeout } from './timeout.ts';
import type { ThreadId } from './thread-id.ts';

export { loadMRs, storeMRs, setAcceptor, readTcr, writeTcr, loadMessage, storeMessage } from './registers.ts';

export const UNMAP_FLUSH = 0x40;
export const UNMAP_COUNT_MASK = 0x3f;

function word(results: readonly number[], index: number): number {
  return (results[index] ?? 0) >>> 0;
}

function* errorCodeIf(env: ProgramEnv, failed: boolean): Op<number> {
  return failed ? yield* readTcr(env, TCR_ERROR_CODE) : 0;
}

// ---- KernelInterface, SystemClock, ThreadSwitch ------------------------------------------------

export interface KernelInterfaceResult {
  /** The KIP's address in the caller's space. */
  kip: number;
  apiVersion: number;
  apiFlags: number;
  kernelId: number;
}

export function* kernelInterface(env: ProgramEnv): Op<KernelInterfaceResult> {
  const r = yield* env.syscall(Syscall.KernelInterface, []);
  return { kip: word(r, 0), apiVersion: word(r, 1), apiFlags: word(r, 2), kernelId: word(r, 3) };
}

/** Microseconds since boot (low + high * 2^32; exact up to 2^53 µs). */
export function* systemClock(env: ProgramEnv): Op<number> {
  const r = yield* env.syscall(Syscall.SystemClock, []);
  return word(r, 0) + word(r, 1) * 2 ** 32;
}

/** Gives up the processor: to `dest` if it is ready, or to anyone (dest nil). */
export function* threadSwitch(env: ProgramEnv, dest: ThreadId = NILTHREAD): Op<void> {
  yield* env.syscall(Syscall.ThreadSwitch, [dest >>> 0]);
}

// ---- Thread and space management -----------------------------------------------------------------

export interface ExchangeRegistersResult {
  /** The thread's id (nil when dest does not name a thread of the caller's space). */
  result: ThreadId;
  control: number;
  sp: number;
  ip: number;
  flags: number;
  userHandle: number;
  pager: ThreadId;
}

export function* exchangeRegisters(
  env: ProgramEnv,
  dest: ThreadId,
  control: number,
  sp: number,
  ip: number,
  flags: number,
  userHandle: number,
  pager: ThreadId,
): Op<ExchangeRegistersResult> {
  const args = [dest, control, sp, ip, flags, userHandle, pager].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.ExchangeRegisters, args);
  return {
    result: word(r, 0),
    control: word(r, 1),
    sp: word(r, 2),
    ip: word(r, 3),
    flags: word(r, 4),
    userHandle: word(r, 5),
    pager: word(r, 6),
  };
}

/** The outcome of a privileged call: ok, or the ErrorCode TCR's value (0 when ok). */
export interface ControlResult {
  ok: boolean;
  errorCode: number;
}

export function* threadControl(
  env: ProgramEnv,
  dest: ThreadId,
  space: ThreadId,
  scheduler: ThreadId,
  pager: ThreadId,
  utcbLocation: number,
): Op<ControlResult> {
  const args = [dest, space, scheduler, pager, utcbLocation].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.ThreadControl, args);
  const ok = word(r, 0) !== 0;
  return { ok, errorCode: yield* errorCodeIf(env, !ok) };
}

export interface SpaceControlResult extends ControlResult {
  control: number;
}

export function* spaceControl(
  env: ProgramEnv,
  space: ThreadId,
  control: number,
  kipArea: number,
  utcbArea: number,
  redirector: ThreadId,
): Op<SpaceControlResult> {
  const args = [space, control, kipArea, utcbArea, redirector].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.SpaceControl, args);
  const ok = word(r, 0) !== 0;
  return { ok, control: word(r, 1), errorCode: yield* errorCodeIf(env, !ok) };
}

export interface ScheduleResult {
  /** The kernel's result word; 0 means the call failed (errorCode says why). */
  result: number;
  timeControl: number;
  errorCode: number;
}

export function* schedule(
  env: ProgramEnv,
  dest: ThreadId,
  timeControl: number,
  processorControl: number,
  priority: number,
  preemptionControl: number,
): Op<ScheduleResult> {
  const args = [dest, timeControl, processorControl, priority, preemptionControl].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.Schedule, args);
  const result = word(r, 0);
  return { result, timeControl: word(r, 1), errorCode: yield* errorCodeIf(env, result === 0) };
}

export function* processorControl(
  env: ProgramEnv,
  processorNo: number,
  internalFrequency: number,
  externalFrequency: number,
  voltage: number,
): Op<ControlResult> {
  const args = [processorNo, internalFrequency, externalFrequency, voltage].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.ProcessorControl, args);
  const ok = word(r, 0) !== 0;
  return { ok, errorCode: yield* errorCodeIf(env, !ok) };
}

/** MemoryControl(control, attribute0..3); the fpages it acts on are in MR0.. (load them first). */
export function* memoryControl(env: ProgramEnv, control: number, attributes: readonly number[]): Op<ControlResult> {
  if (attributes.length > 4) throw new RangeError(`MemoryControl takes 4 attribute words, not ${attributes.length}`);
  const args = [control, ...attributes].map((value) => value >>> 0);
  const r = yield* env.syscall(Syscall.MemoryControl, args);
  const ok = word(r, 0) !== 0;
  return { ok, errorCode: yield* errorCodeIf(env, !ok) };
}

// ---- Unmap ---------------------------------------------------------------------------------------

/** Unmap(control): acts on the fpages already in MR0..MR(control & 0x3f). */
export function* unmap(env: ProgramEnv, control: number): Op<void> {
  yield* env.syscall(Syscall.Unmap, [control >>> 0]);
}

/**
 * Unmaps `fpages` (1 to 64; each fpage's rights are the rights to revoke), also from the caller's
 * own mapping when `flush`. Returns the MRs as the kernel rewrote them: each fpage with its rights
 * bits replaced by the accessed/dirty status of its mappings.
 */
export function* unmapFpages(env: ProgramEnv, fpages: readonly number[], flush: boolean): Op<number[]> {
  if (fpages.length < 1 || fpages.length > UNMAP_COUNT_MASK + 1) {
    throw new RangeError(`Unmap takes 1 to ${UNMAP_COUNT_MASK + 1} fpages, not ${fpages.length}`);
  }
  yield* loadMRs(env, fpages);
  yield* unmap(env, (flush ? UNMAP_FLUSH : 0) | (fpages.length - 1));
  return yield* storeMRs(env, fpages.length);
}

// ---- IPC -----------------------------------------------------------------------------------------

export interface IpcResult {
  /** The sender of the received message (what the kernel returns; nil-ish for a send only). */
  from: ThreadId;
  /** MR0 after the call, decoded: the received tag, or the sent one with E set on a send error. */
  tag: MsgTag;
  /** The ErrorCode TCR when tag.error, else 0 (decode it with decodeIpcError). */
  errorCode: number;
}

function* ipcWith(env: ProgramEnv, syscallNumber: number, to: ThreadId, fromSpecifier: ThreadId, timeouts: number): Op<IpcResult> {
  const r = yield* env.syscall(syscallNumber, [to >>> 0, fromSpecifier >>> 0, timeouts >>> 0]);
  const tag = decodeMsgTag((yield* env.read32(env.utcb + mrOffset(0))) >>> 0);
  return { from: word(r, 0), tag, errorCode: yield* errorCodeIf(env, tag.error) };
}

/** Ipc(to, fromSpecifier, timeouts): the message to send must already be in the MRs. */
export function ipc(env: ProgramEnv, to: ThreadId, fromSpecifier: ThreadId, timeouts: number): Op<IpcResult> {
  return ipcWith(env, Syscall.Ipc, to, fromSpecifier, timeouts);
}

/** Lipc: Ipc between threads of one space, addressed by local ids. */
export function lipc(env: ProgramEnv, to: ThreadId, fromSpecifier: ThreadId, timeouts: number): Op<IpcResult> {
  return ipcWith(env, Syscall.Lipc, to, fromSpecifier, timeouts);
}

/** Send to `to`, then receive its answer. `timeouts` is the full word (default never/never). */
export function call(env: ProgramEnv, to: ThreadId, timeouts: number = timeoutsWord(NEVER, NEVER)): Op<IpcResult> {
  return ipc(env, to, to, timeouts);
}

/** Send to `to`, waiting up to `timeout` for it to receive (default never). */
export function send(env: ProgramEnv, to: ThreadId, timeout: Timeout = NEVER): Op<IpcResult> {
  return ipc(env, to, NILTHREAD, timeoutsWord(timeout, NEVER));
}

/** Send to `to` only if it is already waiting (zero send timeout). */
export function reply(env: ProgramEnv, to: ThreadId): Op<IpcResult> {
  return send(env, to, ZERO_TIME);
}

/** Receive from `from` only (a closed receive), waiting up to `timeout` (default never). */
export function receive(env: ProgramEnv, from: ThreadId, timeout: Timeout = NEVER): Op<IpcResult> {
  return ipc(env, NILTHREAD, from, timeoutsWord(NEVER, timeout));
}

/** Receive from any thread (an open receive), waiting up to `timeout` (default never). */
export function wait(env: ProgramEnv, timeout: Timeout = NEVER): Op<IpcResult> {
  return receive(env, ANYTHREAD, timeout);
}

/** Reply to `to` (zero send timeout), then receive from any thread, waiting up to `timeout`. */
export function replyWait(env: ProgramEnv, to: ThreadId, timeout: Timeout = NEVER): Op<IpcResult> {
  return ipc(env, to, ANYTHREAD, timeoutsWord(ZERO_TIME, timeout));
}
