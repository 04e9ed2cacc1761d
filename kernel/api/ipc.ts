// IPC: the send and receive phases and the completion of an IPC (error codes, page-fault and
// start-message IPC).
//
// X.2 semantics (reference/l4-x2.md): a send finds its partner waiting in a matching receive and
// transfers at once, or queues (or fails at once with a zero timeout); a receive takes the first
// matching queued sender, or waits. A thread that sends and then receives (call, reply-wait)
// hands the processor to the partner it woke. Errors go to the ErrorCode TCR as (code << 1) |
// phase and set the E flag of MR0.
//
// A transfer with string items may stop at a page fault and go on later (api/string-transfer.ts):
// then both sides wait, and the transfer ends both IPCs through finishTransfer. Departures from
// X.2, as kernel/README.md lists them: propagation and redirection are not implemented.

import { ANYLOCALTHREAD, ANYTHREAD, IpcError, NILTHREAD, TCR_ERROR_CODE } from '../../libl4/abi.ts';
import type { Clock } from '../generic/clock.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import { ThreadState, type Thread } from '../generic/thread.ts';
import type { Timeouts } from '../generic/timeouts.ts';
import { formatId, type Tracer } from '../generic/trace.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import { timeoutMicroseconds } from './fpage.ts';
import { TRANSFER_PENDING, type StringTransfer } from './string-transfer.ts';
import type { MessageTransfer } from './transfer.ts';

export const SEND = 0;
export const RECEIVE = 1;
/** MR0 flag E: the IPC failed. */
const TAG_ERROR = 1 << 15;

/** What becomes of a thread whose IPC was made on its behalf by the kernel, when it ends. */
export interface IpcCompletions {
  /** The thread's page-fault IPC ended (error 0: the pager replied). */
  faultDone(thread: Thread, error: number): void;
  /** The thread's exception IPC ended (error 0: the handler replied). */
  exceptionDone(thread: Thread, error: number): void;
  /** The start message (MR1 IP, MR2 SP) arrived for an activated thread. */
  start(thread: Thread, ip: number, sp: number): void;
  /** An interrupt thread's call ended: acknowledged by its handler (error 0), or the handler went away. */
  interruptDone(thread: Thread, error: number): void;
}

export interface IpcParts {
  readonly threads: ThreadTable;
  readonly scheduler: Scheduler;
  readonly timeouts: Timeouts;
  readonly clock: Clock;
  readonly utcbs: Utcbs;
  readonly transfer: MessageTransfer;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  readonly completions: IpcCompletions;
}

export class Ipc {
  private readonly threads: ThreadTable;
  private readonly scheduler: Scheduler;
  private readonly timeouts: Timeouts;
  private readonly clock: Clock;
  private readonly utcbs: Utcbs;
  private readonly messages: MessageTransfer;
  private readonly counters: KernelCounters;
  private readonly tracer: Tracer;
  private readonly completions: IpcCompletions;

  constructor(parts: IpcParts) {
    this.threads = parts.threads;
    this.scheduler = parts.scheduler;
    this.timeouts = parts.timeouts;
    this.clock = parts.clock;
    this.utcbs = parts.utcbs;
    this.messages = parts.transfer;
    this.counters = parts.counters;
    this.tracer = parts.tracer;
    this.completions = parts.completions;
  }

  /** The Ipc system call for `thread` (the current thread). */
  ipc(thread: Thread, to: number, fromSpecifier: number, timeouts: number): void {
    to >>>= 0;
    fromSpecifier >>>= 0;
    thread.resultFrom = NILTHREAD;
    if (to !== NILTHREAD) {
      const dest = this.threads.resolve(thread, to);
      if (!dest || (dest.utcbPhysical < 0 && dest.interrupt === null)) return this.complete(thread, IpcError.NonExistingPartner, SEND);
      // The receive phase that follows (for a transfer that goes on later, and for queueing).
      thread.receiveFrom = fromSpecifier;
      thread.receiveTimeout = timeouts & 0xffff;
      if (dest.state === ThreadState.Receiving && accepts(dest, thread)) {
        const error = this.deliver(thread, dest);
        if (error === TRANSFER_PENDING) return;
        if (error) return this.complete(thread, error, SEND, this.messages.lastOffset);
        if (fromSpecifier !== NILTHREAD && dest.runnable) this.scheduler.handoff = dest;
      } else {
        const sendTimeout = timeouts >>> 16;
        if (timeoutMicroseconds(sendTimeout) === 0) return this.complete(thread, IpcError.Timeout, SEND);
        thread.state = ThreadState.Sending;
        thread.sendTo = dest;
        dest.senders.push(thread);
        this.setDeadline(thread, sendTimeout);
        return;
      }
    }
    if (fromSpecifier === NILTHREAD) return this.complete(thread, 0, SEND);
    this.receive(thread, fromSpecifier, timeouts & 0xffff);
  }

  /** A call with infinite timeouts on the thread's behalf (page-fault IPC). */
  call(thread: Thread, to: number): void {
    this.ipc(thread, to, to, 0);
  }

  /**
   * A call with infinite timeouts made by the kernel for `thread`, which is not the running
   * thread (an interrupt thread calling its handler): the same as Ipc, without the hand-off.
   */
  kernelCall(thread: Thread, dest: Thread): void {
    thread.resultFrom = NILTHREAD;
    if (dest.state === ThreadState.Receiving && accepts(dest, thread)) {
      const error = this.deliver(thread, dest);
      if (error === TRANSFER_PENDING) return;
      if (error) return this.complete(thread, error, SEND);
    } else {
      thread.state = ThreadState.Sending;
      thread.sendTo = dest;
      dest.senders.push(thread);
      thread.receiveFrom = dest.id;
      thread.receiveTimeout = 0;
      return;
    }
    this.receive(thread, dest.id, 0);
  }

  /** The receive phase of `thread` (not necessarily the current thread). */
  private receive(thread: Thread, fromSpecifier: number, timeout: number): void {
    if (fromSpecifier !== ANYTHREAD && fromSpecifier !== ANYLOCALTHREAD && !this.threads.resolve(thread, fromSpecifier)) {
      return this.complete(thread, IpcError.NonExistingPartner, RECEIVE);
    }
    thread.receiveFrom = fromSpecifier;
    const senders = thread.senders;
    for (let i = 0; i < senders.length; i++) {
      const sender = senders[i]!;
      if (!accepts(thread, sender)) continue;
      senders.splice(i, 1);
      this.clearDeadline(sender);
      sender.sendTo = null;
      const error = this.messages.transfer(sender, thread);
      if (error === TRANSFER_PENDING) return;
      const offset = error ? this.messages.lastOffset : 0;
      thread.resultFrom = fromId(thread, sender);
      this.counters.ipcs++;
      if (this.tracer.enabled) this.tracer.emit('ipc', sender.id, `to ${formatId(thread.id)}${error ? ` error ${error}` : ''}`);
      if (error) this.complete(sender, error, SEND, offset);
      else if (sender.receiveFrom !== NILTHREAD) {
        sender.state = ThreadState.Ready;
        this.receive(sender, sender.receiveFrom, sender.receiveTimeout);
      } else this.complete(sender, 0, SEND);
      return this.complete(thread, error, RECEIVE, offset);
    }
    if (timeoutMicroseconds(timeout) === 0) return this.complete(thread, IpcError.Timeout, RECEIVE);
    thread.state = ThreadState.Receiving;
    this.setDeadline(thread, timeout);
  }

  /** Transfers from `sender` to the waiting `receiver` and completes the receive. */
  private deliver(sender: Thread, receiver: Thread): number {
    this.clearDeadline(receiver);
    const error = this.messages.transfer(sender, receiver);
    if (error === TRANSFER_PENDING) return error;
    receiver.resultFrom = fromId(receiver, sender);
    this.counters.ipcs++;
    if (this.tracer.enabled) this.tracer.emit('ipc', sender.id, `to ${formatId(receiver.id)}${error ? ` error ${error}` : ''}`);
    this.complete(receiver, error, RECEIVE, error ? this.messages.lastOffset : 0);
    return error;
  }

  /**
   * Ends both IPCs of a string transfer that went on after a fault (or failed there): the
   * receiver's receive, and the sender's send, followed by its receive phase if it has one.
   */
  finishTransfer(t: StringTransfer, senderError: number, receiverError: number): void {
    const { sender, receiver, total: offset } = t;
    // The fault IPCs made meanwhile used the sender's IPC fields: its own IPC's come back.
    sender.receiveFrom = t.senderReceiveFrom;
    sender.receiveTimeout = t.senderReceiveTimeout;
    sender.resultFrom = NILTHREAD;
    receiver.resultFrom = fromId(receiver, sender);
    this.counters.ipcs++;
    if (this.tracer.enabled) this.tracer.emit('ipc', sender.id, `to ${formatId(receiver.id)} after a fault${receiverError ? ` error ${receiverError}` : ''}`);
    this.complete(receiver, receiverError, RECEIVE, receiverError ? offset : 0);
    if (senderError) this.complete(sender, senderError, SEND, offset);
    else if (sender.receiveFrom !== NILTHREAD) {
      sender.state = ThreadState.Ready;
      this.receive(sender, sender.receiveFrom, sender.receiveTimeout);
    } else this.complete(sender, 0, SEND);
  }

  /**
   * Ends `thread`'s IPC with `error` (0: success) in `phase`: sets the ErrorCode TCR and MR0's E
   * flag on failure, then resumes the thread: its system call returns, its page fault is retried,
   * its exception handler's reply is taken, or, for the start message, its program starts.
   * `offset`: the bytes of strings transferred, for the codes that report it (4 to 7).
   */
  complete(thread: Thread, error: number, phase: number, offset = 0): void {
    this.clearDeadline(thread);
    thread.sendTo = null;
    if (thread.interrupt !== null) {
      // An interrupt thread has no UTCB: its handler acknowledged it, or went away.
      if (error) this.counters.ipcErrors++;
      this.completions.interruptDone(thread, error);
      return;
    }
    if (error) {
      this.counters.ipcErrors++;
      this.utcbs.writeTcr(thread, TCR_ERROR_CODE, (offset * 16 + ((error << 1) | phase)) >>> 0);
      this.utcbs.writeMr(thread, 0, this.utcbs.readMr(thread, 0) | TAG_ERROR);
    }
    if (thread.fault) {
      thread.state = ThreadState.Ready;
      this.completions.faultDone(thread, error);
      this.scheduler.makeReady(thread);
      return;
    }
    if (thread.exception) {
      thread.state = ThreadState.Ready;
      this.completions.exceptionDone(thread, error);
      this.scheduler.makeReady(thread);
      return;
    }
    if (thread.awaitingStart) {
      if (error) {
        // The start receive was cancelled: the thread stays activated and waits on.
        thread.state = ThreadState.Receiving;
        return;
      }
      this.completions.start(thread, this.utcbs.readMr(thread, 1), this.utcbs.readMr(thread, 2));
      return;
    }
    thread.resume = [thread.resultFrom];
    this.scheduler.makeReady(thread);
  }

  // ---- Blocking and timeouts ------------------------------------------------------------------

  /** Blocks a thread until `timeout` (X.2 16-bit relative form) passes; 0 = never. */
  setDeadline(thread: Thread, timeout: number): void {
    this.timeouts.remove(thread);
    const us = timeoutMicroseconds(timeout);
    if (us === Infinity) return;
    this.timeouts.add(thread, this.clock.cycles + this.clock.usToCycles(us));
  }

  clearDeadline(thread: Thread): void {
    this.timeouts.remove(thread);
  }

  /** Takes a blocked thread out of whatever it waits in (queue, timeout); its state is left to the caller. */
  unblock(thread: Thread): void {
    this.timeouts.remove(thread);
    if (thread.state === ThreadState.Sending && thread.sendTo) {
      const senders = thread.sendTo.senders;
      const index = senders.indexOf(thread);
      if (index >= 0) senders.splice(index, 1);
      thread.sendTo = null;
    }
  }

  /** Ends the IPC of every thread whose timeout has passed at `now` with error 1. */
  expireTimeouts(now: number): void {
    for (let thread = this.timeouts.takeExpired(now); thread; thread = this.timeouts.takeExpired(now)) {
      const phase = thread.state === ThreadState.Sending ? SEND : RECEIVE;
      this.unblock(thread);
      this.complete(thread, IpcError.Timeout, phase);
    }
  }
}

/** Does `receiver`'s pending receive take a message from `sender`? */
function accepts(receiver: Thread, sender: Thread): boolean {
  const from = receiver.receiveFrom;
  if (from === ANYTHREAD) return true;
  if (from === ANYLOCALTHREAD) return sender.space === receiver.space;
  if (from & 0x3f) return sender.id === from;
  return sender.space === receiver.space && sender.utcbAddress === from;
}

/** The id the receiver sees for the sender: local within a space, global across. */
function fromId(receiver: Thread, sender: Thread): number {
  return sender.space === receiver.space ? sender.utcbAddress : sender.id;
}
