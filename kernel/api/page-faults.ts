// Page faults of program threads: served 1:1 by the kernel for sigma0, otherwise turned into
// page-fault IPC to the thread's pager (X.2: label -2 << 4 | rwx, MR1 the address, MR2 the IP,
// a receive window of the whole address space; MR0-MR2 and BR0 saved and restored around it),
// and the faulting access retried after the reply. A fault in a string buffer during a transfer
// goes the same way, from the thread whose buffer it is; the copy goes on after the reply.

import { hex32, type HardwareInterface } from '../../emulator/hardware.ts';
import { IpcError, Label, NILTHREAD, TCR_PAGER } from '../../libl4/abi.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import type { Ipc } from './ipc.ts';

/** Acceptor for page-fault replies: the whole address space. */
const COMPLETE_ACCEPTOR = 1 << 4;
/**
 * Faults in a row a thread may retry when each reply's map could not be installed for lack of
 * kernel memory; at the next it is halted and reported (a fault in a string transfer aborts it).
 */
export const MAP_RETRY_LIMIT = 4;

export interface PageFaultParts {
  readonly hw: HardwareInterface;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
  readonly spaces: AddressSpaces;
  readonly utcbs: Utcbs;
  readonly ipc: Ipc;
  /** Stops a thread with a console report. */
  readonly halt: (thread: Thread, reason: string) => void;
  /** A fault nothing can serve: a #PF exception to the thread's exception handler (halted without one). */
  readonly unservable: (thread: Thread, reason: string, errorCode: number) => void;
  /** A fault of a string transfer was answered (error 0) or its IPC failed. */
  readonly transferFaultDone: (thread: Thread, error: number) => void;
}

export class PageFaults {
  private readonly parts: PageFaultParts;

  constructor(parts: PageFaultParts) {
    this.parts = parts;
  }

  /** The fault the thread's environment recorded (address, error code). */
  pageFault(thread: Thread): void {
    const { hw, costs, counters, tracer, spaces, utcbs } = this.parts;
    const cpu = hw.cpu;
    const profile = hw.profile.costs;
    const address = thread.faultAddress;
    const error = thread.faultErrorCode;
    counters.pageFaults++;
    counters.exceptions++;
    cpu.charge(profile.exceptionEntry + costs.faultPath);
    const kind = error & 2 ? 'write' : 'read';
    if (tracer.enabled) tracer.emit('fault', thread.id, `${kind} at ${hex32(address)} error ${error}`);
    if (address >= USER_TOP) {
      this.parts.unservable(thread, `${kind} of kernel memory at ${hex32(address)} (error code ${error})`, error);
      return;
    }
    if (thread.space === spaces.sigma0Space) {
      // sigma0's space is physical memory: its faults are served 1:1 by the kernel.
      const page = (address & ~0xfff) >>> 0;
      if (!spaces.isSigma0Memory(page) || !spaces.mapSigma0Page(page)) {
        this.parts.halt(thread, `${kind} at ${hex32(address)}: no memory there for sigma0`);
        return;
      }
      cpu.charge(profile.exceptionReturn);
      return;
    }
    const pager = utcbs.readTcr(thread, TCR_PAGER);
    if (pager === NILTHREAD) {
      this.parts.unservable(thread, `${kind} page fault at ${hex32(address)} with no pager`, error);
      return;
    }
    this.sendFault(thread, pager, address, (error & 2) !== 0, false);
  }

  /**
   * A fault in `thread`'s string buffer at `address` during a transfer, sent to its pager (the
   * thread is the running one). False when it has no pager.
   */
  transferFault(thread: Thread, address: number, write: boolean): boolean {
    const { hw, costs, counters, tracer, utcbs } = this.parts;
    const pager = utcbs.readTcr(thread, TCR_PAGER);
    if (pager === NILTHREAD) return false;
    counters.pageFaults++;
    counters.exceptions++;
    hw.cpu.charge(hw.profile.costs.exceptionEntry + costs.faultPath);
    if (tracer.enabled) tracer.emit('fault', thread.id, `${write ? 'write' : 'read'} at ${hex32(address)} in a string transfer`);
    this.sendFault(thread, pager, address, write, true);
    return true;
  }

  /** The page-fault IPC: MR0-MR2 and BR0 saved, the fault message in their place, a call to the pager. */
  private sendFault(thread: Thread, pager: number, address: number, write: boolean, transfer: boolean): void {
    const utcbs = this.parts.utcbs;
    // The thread's fault record is reused: a fault allocates nothing.
    const fault = thread.faultRecord;
    fault.address = address;
    fault.kind = write ? 1 : 0;
    fault.transfer = transfer;
    fault.saved[0] = utcbs.readMr(thread, 0);
    fault.saved[1] = utcbs.readMr(thread, 1);
    fault.saved[2] = utcbs.readMr(thread, 2);
    fault.saved[3] = utcbs.readBr(thread, 0);
    thread.fault = fault;
    thread.mapRefused = false;
    const rwx = write ? 2 : 4;
    utcbs.writeMr(thread, 0, (((Label.PageFault | rwx) << 16) | 2) >>> 0);
    utcbs.writeMr(thread, 1, address);
    utcbs.writeMr(thread, 2, thread.ip);
    utcbs.writeBr(thread, 0, COMPLETE_ACCEPTOR);
    this.parts.ipc.call(thread, pager);
  }

  /** The thread's page-fault IPC ended: restore its registers, then retry the access or halt. */
  faultDone(thread: Thread, error: number): void {
    const { hw, utcbs } = this.parts;
    const fault = thread.fault!;
    thread.fault = null;
    utcbs.writeMr(thread, 0, fault.saved[0]!);
    utcbs.writeMr(thread, 1, fault.saved[1]!);
    utcbs.writeMr(thread, 2, fault.saved[2]!);
    utcbs.writeBr(thread, 0, fault.saved[3]!);
    // A reply whose map the kernel could not install for lack of memory: retried a few times only.
    const refused = error === 0 && thread.mapRefused;
    thread.mapRetries = refused ? thread.mapRetries + 1 : 0;
    const exhausted = thread.mapRetries > MAP_RETRY_LIMIT;
    if (exhausted) thread.mapRetries = 0;
    if (fault.transfer) {
      hw.cpu.charge(hw.profile.costs.exceptionReturn);
      this.parts.transferFaultDone(thread, exhausted ? IpcError.Aborted : error);
      return;
    }
    if (error !== 0 && error !== IpcError.Canceled) {
      this.parts.unservable(thread, `page fault at ${hex32(fault.address)}: IPC to the pager failed (error ${error})`, thread.faultErrorCode);
      return;
    }
    if (exhausted) {
      this.parts.unservable(thread, `page fault at ${hex32(fault.address)}: kernel memory ran out mapping the pager's reply (${MAP_RETRY_LIMIT + 1} times)`, thread.faultErrorCode);
      return;
    }
    hw.cpu.charge(hw.profile.costs.exceptionReturn);
    // The access is retried when the thread runs again.
  }
}
