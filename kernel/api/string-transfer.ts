// String items: the copy of a sender's strings into a receiver's buffer strings, which may stop at
// a page fault in either space and go on after that space's pager has answered.
//
// X.2 semantics (with L4Ka::Pistachio's choices where X.2 leaves room):
// - The receiver accepts strings with bit 0 of BR0 and gives its buffer strings in BR1..BR32
//   (api/string-items.ts has the layout). Each logical send string (simple, with substrings, or
//   compound) goes into the next logical buffer string: gather on the sending side, scatter on
//   the receiving side. What a string leaves of its buffer is skipped; the next string takes the
//   next buffer. Map and grant items may come between strings, in order.
// - A string that does not fit (no strings accepted, no buffer left, a buffer too short, an item
//   that runs past the registers, an address at or above the kernel's) is a message overflow
//   (error 4) for both sides, with the bytes copied until then in the ErrorCode's offset.
// - A fault on the sender's side is sent to the sender's pager from the sender; one on the
//   receiver's side, to the receiver's pager from the receiver (the kernel switches to that
//   thread first, as Pistachio tunnels the fault through the partner). The copy goes on after the
//   reply. While one of them waits for its pager, the other waits for the copy.
// - Transfer timeouts (the XferTimeouts TCR: the sender's send half, the receiver's receive half)
//   run from the first fault of a transfer: when the shorter expires, both sides fail with the
//   offset, the side whose own timeout was the shorter with 5 and the other with 6 (the sender's
//   counts as shorter when they are equal); a zero timeout fails at the first fault.
// - ExchangeRegisters cancelling a side (or its fault IPC), or deleting a side, aborts the
//   transfer: error 7 with the offset for both.
//
// The copy itself goes piece by piece, each piece within one page of the source and one of the
// destination: one translated access on each side (the running thread's own space directly, the
// other space through the copy area, ia32/copy-area.ts) and the rest of the piece's reads and
// writes charged as TLB hits, as `rep movs` would make them.

import type { HardwareInterface } from '../../emulator/hardware.ts';
import { Access } from '../../emulator/hardware.ts';
import { IpcError, TCR_XFER_TIMEOUTS } from '../../libl4/abi.ts';
import type { Clock } from '../generic/clock.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { Scheduler } from '../generic/scheduler.ts';
import { ThreadState, type StringTransferState, type Thread } from '../generic/thread.ts';
import type { CopyArea } from '../ia32/copy-area.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { timeoutMicroseconds } from './fpage.ts';
import type { MapItems } from './map-items.ts';
import { isStringItem, readLogicalString, type LogicalString } from './string-items.ts';

/** transfer()'s answer when the copy goes on later (or has been finished already). */
export const TRANSFER_PENDING = -1;
/** The buffer registers: BR0 the acceptor, BR1..BR32 the buffer strings. */
const BR_LIMIT = 33;
const ACCEPT_STRINGS = 1;
const MAP_ITEM = 0x8;
const GRANT_ITEM = 0xa;

/** One transfer in progress between a sender and a receiver. */
export class StringTransfer implements StringTransferState {
  readonly sender: Thread;
  readonly receiver: Thread;
  /** The thread whose context the copy goes on in (it is the running thread when it does). */
  runner: Thread;
  /** The next message register of the sender to take an item from, and the end of the message. */
  mr: number;
  readonly mrEnd: number;
  readonly window: number;
  /** Buffer registers: the next buffer string, and whether there is one. */
  br = 1;
  moreBuffers: boolean;
  send: LogicalString | null = null;
  sendPiece = 0;
  sendOffset = 0;
  buffer: LogicalString | null = null;
  bufferPiece = 0;
  bufferOffset = 0;
  /** Bytes copied so far (the ErrorCode's offset if it fails). */
  total = 0;
  /** Set at the first fault: the transfer timeouts in microseconds, and the deadline. */
  timed = false;
  sendTimeoutUs = Infinity;
  receiveTimeoutUs = Infinity;
  deadline = Infinity;
  /** In the list of transfers that wait (a thread is locked in it). */
  waiting = false;
  /** The receive phase of the sender's IPC (its fault IPCs use the same TCB fields meanwhile). */
  readonly senderReceiveFrom: number;
  readonly senderReceiveTimeout: number;

  constructor(sender: Thread, receiver: Thread, runner: Thread, mr: number, mrEnd: number, window: number, acceptStrings: boolean) {
    this.sender = sender;
    this.receiver = receiver;
    this.runner = runner;
    this.mr = mr;
    this.mrEnd = mrEnd;
    this.window = window;
    this.moreBuffers = acceptStrings;
    this.senderReceiveFrom = sender.receiveFrom;
    this.senderReceiveTimeout = sender.receiveTimeout;
  }
}

export interface StringTransferParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly utcbs: Utcbs;
  readonly spaces: AddressSpaces;
  readonly mapItems: MapItems;
  readonly copyArea: CopyArea;
  /** Sends page-fault IPC for `thread`'s buffer to its pager; false when it has none. */
  readonly askPager: (thread: Thread, address: number, write: boolean) => boolean;
  /** Ends both IPCs of a transfer that went on later (api/ipc.ts). */
  readonly finish: (t: StringTransfer, senderError: number, receiverError: number) => void;
}

export class StringTransfers {
  /** The offset of the last transfer that ended at once (read with its error). */
  lastOffset = 0;
  private readonly parts: StringTransferParts;
  /** Transfers a thread waits in, in the order they began waiting. */
  private readonly waiting: StringTransfer[] = [];

  constructor(parts: StringTransferParts) {
    this.parts = parts;
  }

  /**
   * Performs the sender's items from MR `at` (a string item) to `end` for `receiver`. Returns 0
   * or an IPC error code (the same for both sides, the offset in lastOffset) when it ended at
   * once, or TRANSFER_PENDING when it goes on later, or was ended already, through `finish`.
   */
  transfer(sender: Thread, receiver: Thread, at: number, end: number, window: number): number {
    const accept = (this.parts.utcbs.readBr(receiver, 0) & ACCEPT_STRINGS) !== 0;
    const current = this.parts.scheduler.current;
    if (current !== sender && current !== receiver) {
      // Neither side is running (a sender taken from a queue by a thread's later receive): the
      // sender copies when it next runs.
      const t = new StringTransfer(sender, receiver, sender, at, end, window, accept);
      this.wait(t);
      receiver.state = ThreadState.Locked;
      this.makeRunner(t, sender);
      return TRANSFER_PENDING;
    }
    const t = new StringTransfer(sender, receiver, current, at, end, window, accept);
    const result = this.run(t);
    this.lastOffset = t.total;
    return result;
  }

  /** Goes on with `thread`'s transfer in its context (the dispatcher calls this when it runs it). */
  resume(thread: Thread): void {
    const t = thread.transfer as StringTransfer;
    const result = this.run(t);
    if (result !== TRANSFER_PENDING) this.end(t, result, result);
  }

  /** The page-fault IPC of `thread` for its buffer ended: the copy goes on when it runs, or is aborted. */
  faultDone(thread: Thread, error: number): void {
    const t = thread.transfer as StringTransfer | null;
    if (!t) return;
    if (error !== 0) this.abort(t, IpcError.Aborted);
    // Otherwise `thread` is the runner and is made ready by the IPC's completion.
  }

  /** Aborts `thread`'s transfer (ExchangeRegisters, deletion): error 7 for both sides. */
  abortTransferOf(thread: Thread): void {
    const t = thread.transfer as StringTransfer | null;
    if (t) this.abort(t, IpcError.Aborted);
  }

  /** Aborts a transfer: error 7 for both, or (for `XferTimeoutInvoker`) the transfer timeout codes. */
  private abort(t: StringTransfer, code: number): void {
    const { utcbs } = this.parts;
    for (const side of [t.sender, t.receiver]) {
      const fault = side.fault;
      if (fault && fault.transfer) {
        // It waits for its pager: that IPC is withdrawn and its registers restored.
        side.fault = null;
        if (side.state === ThreadState.Sending && side.sendTo) {
          const senders = side.sendTo.senders;
          const index = senders.indexOf(side);
          if (index >= 0) senders.splice(index, 1);
          side.sendTo = null;
        }
        utcbs.writeMr(side, 0, fault.saved[0]!);
        utcbs.writeMr(side, 1, fault.saved[1]!);
        utcbs.writeMr(side, 2, fault.saved[2]!);
        utcbs.writeBr(side, 0, fault.saved[3]!);
      }
    }
    if (code === IpcError.Aborted) return this.end(t, code, code);
    // Transfer timeout: 5 for the side whose own timeout was the shorter, 6 for the other.
    const receiverShorter = t.receiveTimeoutUs < t.sendTimeoutUs;
    this.end(t, receiverShorter ? IpcError.XferTimeoutPartner : IpcError.XferTimeoutInvoker, receiverShorter ? IpcError.XferTimeoutInvoker : IpcError.XferTimeoutPartner);
  }

  /** The earliest transfer-timeout deadline (Infinity when none runs); the run loop reads it often. */
  nextDeadline = Infinity;

  private updateDeadline(): void {
    let next = Infinity;
    for (let i = 0; i < this.waiting.length; i++) next = Math.min(next, this.waiting[i]!.deadline);
    this.nextDeadline = next;
  }

  /** Fails every transfer whose transfer timeout has passed at `now`. */
  expire(now: number): void {
    for (let i = 0; i < this.waiting.length; ) {
      const t = this.waiting[i]!;
      if (t.deadline <= now) this.abort(t, IpcError.XferTimeoutInvoker);
      else i++;
    }
  }

  // ---- The copy -------------------------------------------------------------------------------

  /** Runs the items in the runner's context: 0 or an error when done, or TRANSFER_PENDING. */
  private run(t: StringTransfer): number {
    const { utcbs, mapItems, costs, hw, counters } = this.parts;
    const sender = t.sender;
    for (;;) {
      if (t.send) {
        const result = this.copy(t);
        if (result !== 0) return result;
        continue;
      }
      if (t.mr >= t.mrEnd) {
        this.parts.copyArea.release();
        return 0;
      }
      const word0 = utcbs.readMr(sender, t.mr);
      const kind = word0 & 0xe;
      if (kind === MAP_ITEM || kind === GRANT_ITEM) {
        if (t.mr + 1 >= t.mrEnd || t.window === 0) return this.overflow(t);
        this.parts.copyArea.release(); // page tables may change
        mapItems.transfer(sender, t.receiver, word0, utcbs.readMr(sender, t.mr + 1), t.window, kind === GRANT_ITEM);
        t.mr += 2;
        continue;
      }
      if (!isStringItem(word0) || !t.moreBuffers) return this.overflow(t);
      t.send = readLogicalString((i) => utcbs.readMr(sender, i), t.mr, t.mrEnd);
      t.sendPiece = 0;
      t.sendOffset = 0;
      t.buffer = readLogicalString((i) => utcbs.readBr(t.receiver, i), t.br, BR_LIMIT);
      t.bufferPiece = 0;
      t.bufferOffset = 0;
      t.br = t.buffer.end;
      t.moreBuffers = t.buffer.more && !t.buffer.truncated;
      counters.stringItems++;
      hw.cpu.charge(costs.stringItem);
    }
  }

  /** Copies the current string into its buffer: 0 when it is done, an error, or TRANSFER_PENDING. */
  private copy(t: StringTransfer): number {
    const { hw, copyArea, counters } = this.parts;
    const cpu = hw.cpu;
    const physical = hw.physical;
    const hit = hw.profile.costs.tlbHit;
    const send = t.send!;
    const buffer = t.buffer!;
    const runnerIsSender = t.runner === t.sender;
    const partner = runnerIsSender ? t.receiver : t.sender;
    for (;;) {
      // The next byte of the string, and where it goes.
      while (t.sendPiece < send.pieces.length && t.sendOffset >= send.pieces[t.sendPiece]!.length) {
        t.sendPiece++;
        t.sendOffset = 0;
      }
      if (t.sendPiece >= send.pieces.length) {
        // The string is done: its buffer's rest is skipped.
        t.mr = send.end;
        t.send = null;
        t.buffer = null;
        return send.truncated ? this.overflow(t) : 0;
      }
      while (t.bufferPiece < buffer.pieces.length && t.bufferOffset >= buffer.pieces[t.bufferPiece]!.length) {
        t.bufferPiece++;
        t.bufferOffset = 0;
      }
      if (t.bufferPiece >= buffer.pieces.length) return this.overflow(t);
      const from = send.pieces[t.sendPiece]!;
      const to = buffer.pieces[t.bufferPiece]!;
      const source = from.address + t.sendOffset;
      const destination = to.address + t.bufferOffset;
      if (source >= USER_TOP || destination >= USER_TOP) return this.overflow(t);
      const length = Math.min(
        from.length - t.sendOffset,
        to.length - t.bufferOffset,
        0x1000 - (source & 0xfff),
        0x1000 - (destination & 0xfff),
        USER_TOP - source,
        USER_TOP - destination,
      );
      const sourcePa = runnerIsSender ? cpu.tryTranslate(source, Access.Read, 0) : this.partnerTranslate(partner, source, Access.Read);
      if (sourcePa < 0) return this.fault(t, t.sender, source, false);
      const destinationPa = runnerIsSender ? this.partnerTranslate(partner, destination, Access.Write) : cpu.tryTranslate(destination, Access.Write, 0);
      if (destinationPa < 0) return this.fault(t, t.receiver, destination, true);
      physical.copy(destinationPa, sourcePa, length);
      const words = Math.ceil(length / 4);
      cpu.charge((2 * words - 2) * hit);
      t.sendOffset += length;
      t.bufferOffset += length;
      t.total += length;
      counters.stringBytes += length;
    }
  }

  private partnerTranslate(partner: Thread, address: number, kind: 0 | 1): number {
    return this.parts.hw.cpu.tryTranslate(this.parts.copyArea.map(partner.space.pageDirectory, address), kind, 0);
  }

  /** A fault in `side`'s buffer at `address`: stop here until its pager has answered. */
  private fault(t: StringTransfer, side: Thread, address: number, write: boolean): number {
    const { copyArea, spaces, counters, clock, utcbs } = this.parts;
    copyArea.release();
    if (side === t.runner && side.space === spaces.sigma0Space) {
      // sigma0's space is physical memory: the kernel maps the page and goes on.
      const page = (address & ~0xfff) >>> 0;
      if (spaces.isSigma0Memory(page) && spaces.mapSigma0Page(page)) return 0;
      return this.failed(t, IpcError.Aborted);
    }
    counters.stringFaults++;
    if (!t.timed) {
      t.timed = true;
      t.sendTimeoutUs = timeoutMicroseconds(utcbs.readTcr(t.sender, TCR_XFER_TIMEOUTS) >>> 16);
      t.receiveTimeoutUs = timeoutMicroseconds(utcbs.readTcr(t.receiver, TCR_XFER_TIMEOUTS) & 0xffff);
      const us = Math.min(t.sendTimeoutUs, t.receiveTimeoutUs);
      if (us === 0) {
        this.wait(t);
        this.abort(t, IpcError.XferTimeoutInvoker);
        return TRANSFER_PENDING;
      }
      if (us !== Infinity) t.deadline = clock.cycles + clock.usToCycles(us);
    }
    this.wait(t);
    this.updateDeadline();
    const other = side === t.sender ? t.receiver : t.sender;
    if (side !== t.runner) {
      // The partner's memory: it is switched to, and asks its own pager.
      t.runner.state = ThreadState.Locked;
      this.makeRunner(t, side);
      return TRANSFER_PENDING;
    }
    other.state = ThreadState.Locked;
    // Its own memory: it asks its pager (without one, the transfer is aborted).
    if (!this.parts.askPager(side, address, write)) this.abort(t, IpcError.Aborted);
    return TRANSFER_PENDING;
  }

  private overflow(t: StringTransfer): number {
    return this.failed(t, IpcError.MessageOverflow);
  }

  /** Fails with `error` for both sides (returned to whoever runs the copy). */
  private failed(t: StringTransfer, error: number): number {
    this.parts.copyArea.release();
    return error;
  }

  private makeRunner(t: StringTransfer, thread: Thread): void {
    t.runner = thread;
    thread.state = ThreadState.Ready;
    this.parts.scheduler.makeReady(thread);
  }

  private wait(t: StringTransfer): void {
    if (t.waiting) return;
    t.waiting = true;
    t.sender.transfer = t;
    t.receiver.transfer = t;
    this.waiting.push(t);
  }

  private end(t: StringTransfer, senderError: number, receiverError: number): void {
    this.parts.copyArea.release();
    if (t.waiting) {
      t.waiting = false;
      this.waiting.splice(this.waiting.indexOf(t), 1);
      this.updateDeadline();
    }
    t.sender.transfer = null;
    t.receiver.transfer = null;
    this.lastOffset = t.total;
    this.parts.finish(t, senderError, receiverError);
  }
}
