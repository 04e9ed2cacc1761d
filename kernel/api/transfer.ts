// Message transfer between two UTCBs: MR0's tag (without the sender's flags), the untyped words
// and the typed items, with the map and grant items performed on the way and string items copied
// by api/string-transfer.ts (from the first string item on, the rest of the items go there).
//
// X.2: at most 63 words follow MR0; a map or grant item is two words and needs a receive window
// (BR0) that is not nil. Any of these broken, or an item of another kind, is a message overflow
// (error 4) for both partners, the items before it performed. Messages from and to interrupt
// threads are the kernel's (api/interrupts.ts).

import type { CpuPort } from '../../emulator/hardware.ts';
import { IpcError, Label } from '../../libl4/abi.ts';
import type { Thread } from '../generic/thread.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { MapItems } from './map-items.ts';
import { isStringItem } from './string-items.ts';
import type { StringTransfers } from './string-transfer.ts';

/** Typed-item kinds in bits 1-3 of an item's first word. */
const MAP_ITEM = 0x8;
const GRANT_ITEM = 0xa;

export class MessageTransfer {
  private readonly utcbs: Utcbs;
  private readonly cpu: CpuPort;
  private readonly costs: KernelCosts;
  private readonly mapItems: MapItems;
  private readonly strings: StringTransfers;

  constructor(utcbs: Utcbs, cpu: CpuPort, costs: KernelCosts, mapItems: MapItems, strings: StringTransfers) {
    this.utcbs = utcbs;
    this.cpu = cpu;
    this.costs = costs;
    this.mapItems = mapItems;
    this.strings = strings;
  }

  /** The ErrorCode offset of the last transfer that failed at once (bytes of strings copied). */
  get lastOffset(): number {
    return this.strings.lastOffset;
  }

  /**
   * Copies the message from `sender` to `receiver` and performs its items. 0 or an IPC error code
   * (lastOffset gives the offset), or TRANSFER_PENDING when a string copy goes on later.
   */
  transfer(sender: Thread, receiver: Thread): number {
    if (sender.interrupt !== null || receiver.interrupt !== null) return this.interruptMessage(sender, receiver);
    const utcbs = this.utcbs;
    const tag = utcbs.readMr(sender, 0);
    const untyped = tag & 0x3f;
    const typed = (tag >>> 6) & 0x3f;
    if (untyped + typed > 63) return IpcError.MessageOverflow;
    const words = untyped + typed;
    utcbs.copyWords(receiver, sender, words);
    this.cpu.charge(this.costs.perWord * (words + 1));
    utcbs.writeMr(receiver, 0, (tag & 0xffff0fff) >>> 0);
    if (typed === 0) return 0;
    this.strings.lastOffset = 0;
    const acceptor = utcbs.readBr(receiver, 0);
    const window = (acceptor & ~0xf) >>> 0;
    const end = untyped + typed + 1;
    for (let i = untyped + 1; i < end; i += 2) {
      const word0 = utcbs.readMr(sender, i);
      const kind = word0 & 0xe;
      if (isStringItem(word0)) return this.strings.transfer(sender, receiver, i, end, window);
      if (kind !== MAP_ITEM && kind !== GRANT_ITEM) return IpcError.MessageOverflow;
      if (i + 1 >= end || window === 0) return IpcError.MessageOverflow;
      this.mapItems.transfer(sender, receiver, word0, utcbs.readMr(sender, i + 1), window, kind === GRANT_ITEM);
    }
    return 0;
  }

  /**
   * An interrupt thread has no UTCB: its message to the handler is the tag alone (label -1 << 4,
   * no words), and the handler's message to it, the acknowledgement, carries nothing.
   */
  private interruptMessage(sender: Thread, receiver: Thread): number {
    this.cpu.charge(this.costs.perWord);
    if (sender.interrupt !== null) this.utcbs.writeMr(receiver, 0, (Label.Interrupt << 16) >>> 0);
    return 0;
  }
}
