// IPC: the send and receive phases, message transfer between UTCBs, map and grant items, and
// the completion of an IPC (error codes, page-fault and start-message IPC).
//
// X.2 semantics (reference/l4-x2.md): a send finds its partner waiting in a matching receive and
// transfers at once, or queues (or fails at once with a zero timeout); a receive takes the first
// matching queued sender, or waits. A thread that sends and then receives (call, reply-wait)
// hands the processor to the partner it woke. Errors go to the ErrorCode TCR as (code << 1) |
// phase and set the E flag of MR0.
//
// Departures from X.2, as kernel/README.md lists them: string items are refused with a message
// overflow; user mappings are made page by page in 4 KiB pages; propagation and redirection are
// not implemented.

import { ANYLOCALTHREAD, ANYTHREAD, IpcError, NILTHREAD, TCR_ERROR_CODE, mrOffset } from '../../libl4/abi.ts';
import { PAGE_WALK_PAGES, fpageContains, fpageRange, timeoutMicroseconds } from './fpage.ts';
import type { Kernel } from '../kernel.ts';
import type { MappingNode } from '../generic/mapping-database.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import { ThreadState, type Thread } from '../generic/thread.ts';

const SEND = 0;
const RECEIVE = 1;
/** MR0 flag E: the IPC failed. */
const TAG_ERROR = 1 << 15;
/** Typed-item kinds in bits 1-3 of an item's first word. */
const MAP_ITEM = 0x8;
const GRANT_ITEM = 0xa;

/** The Ipc system call for `thread` (the current thread). */
export function ipc(k: Kernel, thread: Thread, to: number, fromSpecifier: number, timeouts: number): void {
  to >>>= 0;
  fromSpecifier >>>= 0;
  thread.resultFrom = NILTHREAD;
  if (to !== NILTHREAD) {
    const dest = k.resolve(thread, to);
    if (!dest || dest.utcbPhysical < 0) return completeIpc(k, thread, IpcError.NonExistingPartner, SEND);
    if (dest.state === ThreadState.Receiving && accepts(dest, thread)) {
      const error = deliver(k, thread, dest);
      if (error) return completeIpc(k, thread, error, SEND);
      if (fromSpecifier !== NILTHREAD && dest.runnable) k.handoff = dest;
    } else {
      const sendTimeout = timeouts >>> 16;
      if (timeoutMicroseconds(sendTimeout) === 0) return completeIpc(k, thread, IpcError.Timeout, SEND);
      thread.state = ThreadState.Sending;
      thread.sendTo = dest;
      dest.senders.push(thread);
      thread.receiveFrom = fromSpecifier;
      thread.receiveTimeout = timeouts & 0xffff;
      k.setDeadline(thread, sendTimeout);
      return;
    }
  }
  if (fromSpecifier === NILTHREAD) return completeIpc(k, thread, 0, SEND);
  receive(k, thread, fromSpecifier, timeouts & 0xffff);
}

/** A call with infinite timeouts on the thread's behalf (page-fault IPC). */
export function ipcCall(k: Kernel, thread: Thread, to: number): void {
  ipc(k, thread, to, to, 0);
}

/** The receive phase of `thread` (not necessarily the current thread). */
function receive(k: Kernel, thread: Thread, fromSpecifier: number, timeout: number): void {
  if (fromSpecifier !== ANYTHREAD && fromSpecifier !== ANYLOCALTHREAD && !k.resolve(thread, fromSpecifier)) {
    return completeIpc(k, thread, IpcError.NonExistingPartner, RECEIVE);
  }
  thread.receiveFrom = fromSpecifier;
  const senders = thread.senders;
  for (let i = 0; i < senders.length; i++) {
    const sender = senders[i]!;
    if (!accepts(thread, sender)) continue;
    senders.splice(i, 1);
    k.clearDeadline(sender);
    sender.sendTo = null;
    const error = transfer(k, sender, thread);
    thread.resultFrom = fromId(thread, sender);
    k.counters.ipcs++;
    if (k.trace) k.emit('ipc', sender, `to ${thread.id >>> 14}.${thread.id & 0x3fff}${error ? ` error ${error}` : ''}`);
    if (error) completeIpc(k, sender, error, SEND);
    else if (sender.receiveFrom !== NILTHREAD) {
      sender.state = ThreadState.Ready;
      receive(k, sender, sender.receiveFrom, sender.receiveTimeout);
    } else completeIpc(k, sender, 0, SEND);
    return completeIpc(k, thread, error, RECEIVE);
  }
  if (timeoutMicroseconds(timeout) === 0) return completeIpc(k, thread, IpcError.Timeout, RECEIVE);
  thread.state = ThreadState.Receiving;
  k.setDeadline(thread, timeout);
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

/** Transfers from `sender` to the waiting `receiver` and completes the receive. */
function deliver(k: Kernel, sender: Thread, receiver: Thread): number {
  k.clearDeadline(receiver);
  const error = transfer(k, sender, receiver);
  receiver.resultFrom = fromId(receiver, sender);
  k.counters.ipcs++;
  if (k.trace) k.emit('ipc', sender, `to ${receiver.id >>> 14}.${receiver.id & 0x3fff}${error ? ` error ${error}` : ''}`);
  completeIpc(k, receiver, error, RECEIVE);
  return error;
}

/**
 * Ends `thread`'s IPC with `error` (0: success) in `phase`: sets the ErrorCode TCR and MR0's E
 * flag on failure, then resumes the thread: its system call returns, its page fault is retried,
 * or, for the start message, its program starts.
 */
export function completeIpc(k: Kernel, thread: Thread, error: number, phase: number): void {
  k.clearDeadline(thread);
  thread.sendTo = null;
  if (error) {
    k.counters.ipcErrors++;
    k.writeTcr(thread, TCR_ERROR_CODE, (error << 1) | phase);
    k.writeMr(thread, 0, k.readMr(thread, 0) | TAG_ERROR);
  }
  if (thread.fault) {
    thread.state = ThreadState.Ready;
    k.faultDone(thread, error);
    k.makeReady(thread);
    return;
  }
  if (thread.awaitingStart) {
    if (error) {
      // The start receive was cancelled: the thread stays activated and waits on.
      thread.state = ThreadState.Receiving;
      return;
    }
    k.start(thread, k.readMr(thread, 1), k.readMr(thread, 2));
    return;
  }
  thread.resume = [thread.resultFrom];
  k.makeReady(thread);
}

/**
 * Copies the message (MR0 tag, untyped words, typed items) from sender to receiver and performs
 * the map and grant items. Returns 0 or an IPC error code.
 */
function transfer(k: Kernel, sender: Thread, receiver: Thread): number {
  const tag = k.readMr(sender, 0);
  const untyped = tag & 0x3f;
  const typed = (tag >>> 6) & 0x3f;
  if (untyped + typed > 63) return IpcError.MessageOverflow;
  const words = untyped + typed;
  if (words > 0) k.hw.physical.copy(receiver.utcbPhysical + mrOffset(1), sender.utcbPhysical + mrOffset(1), 4 * words);
  k.hw.cpu.charge(k.costs.perWord * (words + 1));
  k.writeMr(receiver, 0, (tag & 0xffff0fff) >>> 0);
  if (typed === 0) return 0;
  if (typed & 1) return IpcError.MessageOverflow;
  const acceptor = k.readBr(receiver, 0);
  const window = (acceptor & ~0xf) >>> 0;
  for (let i = untyped + 1; i < untyped + typed; i += 2) {
    const word0 = k.readMr(sender, i);
    const kind = word0 & 0xe;
    if (kind !== MAP_ITEM && kind !== GRANT_ITEM) return IpcError.MessageOverflow; // string items: not supported
    if (window === 0) return IpcError.MessageOverflow;
    mapItem(k, sender, receiver, word0, k.readMr(sender, i + 1), window, kind === GRANT_ITEM);
  }
  return 0;
}

/** One map or grant item: places the sender's fpage into the receive window, page by page. */
function mapItem(k: Kernel, sender: Thread, receiver: Thread, word0: number, fpage: number, window: number, grant: boolean): void {
  const send = fpageRange(fpage);
  const receive = fpageRange(window);
  if (!send || !receive) return;
  const rights = fpage & 7;
  const hint = (word0 & ~0x3ff) >>> 0; // the send base: where in the larger side the smaller goes
  let source: number;
  let destination: number;
  let size: number;
  if (send.log2 <= receive.log2) {
    size = send.size;
    source = send.base;
    destination = receive.base + (hint % receive.size) - (hint % size);
  } else {
    size = receive.size;
    source = send.base + (hint % send.size) - (hint % size);
    destination = receive.base;
  }
  const pages = size / 4096;
  if (pages <= PAGE_WALK_PAGES || sender.space === k.sigma0Space) {
    const limit = sender.space === k.sigma0Space ? Math.min(pages, Math.max(0, (k.hw.physical.size - source) / 4096)) : pages;
    for (let i = 0; i < limit; i++) {
      if (!mapPage(k, sender, receiver, source + i * 4096, destination + i * 4096, rights, grant)) return;
    }
    return;
  }
  // A large range: visit only what the sender has mapped there.
  for (const node of k.mappingsIn(sender.space, source, size)) {
    if (!mapPage(k, sender, receiver, node.address, destination + (node.address - source), rights, grant)) return;
  }
}

/** Maps or grants one 4 KiB page. Returns false when kernel memory ran out (stop the item). */
function mapPage(k: Kernel, sender: Thread, receiver: Thread, source: number, destination: number, rights: number, grant: boolean): boolean {
  if (source >= USER_TOP || destination >= USER_TOP) return true;
  const space = receiver.space;
  if (inKernelArea(space.kipArea, space.utcbArea, destination)) return true;
  let node = k.mdb.lookup(sender.space.id, source);
  if (!node && sender.space === k.sigma0Space && k.isSigma0Memory(source)) {
    if (!k.mapSigma0Page(source)) return false;
    node = k.mdb.lookup(sender.space.id, source);
  }
  if (!node) return true;
  const effective = rights & node.rights;
  if (!(effective & 4)) return true; // IA-32 cannot map a page that is not readable
  const existing = k.mdb.lookup(space.id, destination);
  if (existing) {
    if (existing === node || isAncestor(existing, node)) return true; // would unmap its own source
    for (const removed of k.mdb.remove(existing)) k.unmapNodePte(removed);
  }
  if (grant) {
    if (sender.space === space && source === destination) return true;
    k.pageTables.unmap(sender.space.pageDirectory, source);
    const { node: moved, reduced } = k.mdb.grantAndReport(node, space.id, destination, effective);
    // A narrowing grant narrowed the mappings derived from the page too.
    for (const child of reduced) {
      const owner = k.spaceById(child.space);
      if (owner && !(child.rights & 2)) k.pageTables.writeProtect(owner.pageDirectory, child.address);
    }
    if (!k.pageTables.map(space.pageDirectory, destination, moved.frame, (moved.rights & 2) !== 0)) {
      for (const removed of k.mdb.remove(moved)) k.unmapNodePte(removed);
      return false;
    }
    k.counters.pagesGranted++;
  } else {
    if (!k.reserveNodes(1)) return false;
    const child = k.mdb.map(node, space.id, destination, 12, effective);
    if (!child) return false;
    if (!k.pageTables.map(space.pageDirectory, destination, child.frame, (child.rights & 2) !== 0)) {
      k.mdb.remove(child);
      return false;
    }
    k.counters.pagesMapped++;
  }
  k.hw.cpu.charge(k.costs.mapPage);
  if (k.trace) k.emit('map', sender, `${grant ? 'grant' : 'map'} ${source.toString(16)} -> ${receiver.id >>> 14}:${destination.toString(16)} rights ${effective}`);
  return true;
}

function isAncestor(ancestor: MappingNode, node: MappingNode): boolean {
  for (let n = node.parent; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The KIP and UTCB areas are the kernel's: nothing is ever mapped over them. */
function inKernelArea(kipArea: number, utcbArea: number, address: number): boolean {
  return fpageContains(kipArea, address, 1) || fpageContains(utcbArea, address, 1);
}
