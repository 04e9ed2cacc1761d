// Map and grant items: the sender's fpage placed into the receiver's window, page by page, as
// children of the sender's mapping nodes (map) or by moving the nodes (grant).
//
// X.2 rules (reference/l4-x2.md): the smaller of the send fpage and the receive window decides
// the size, and the send base says where in the larger one it goes; rights are the AND of the
// sent rights and the sender's own; mapping over an existing mapping first removes that mapping
// and its subtree; nothing is ever mapped over the KIP or UTCB areas or above user space. A page
// the sender does not have is skipped. User mappings are 4 KiB pages (kernel/README.md). When
// kernel memory runs out (a page table, a mapping node), the item stops there: the counter
// mapNoMemory records it and the receiver is marked, so that a page fault answered by such a
// map is not retried for ever (api/page-faults.ts).

import type { CpuPort } from '../../emulator/hardware.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { MappingNode } from '../generic/mapping-database.ts';
import type { Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { PAGE_WALK_PAGES, fpageContains, fpageRange } from './fpage.ts';

export class MapItems {
  private readonly spaces: AddressSpaces;
  private readonly cpu: CpuPort;
  private readonly ramBytes: number;
  private readonly costs: KernelCosts;
  private readonly counters: KernelCounters;
  private readonly tracer: Tracer;

  constructor(spaces: AddressSpaces, cpu: CpuPort, ramBytes: number, costs: KernelCosts, counters: KernelCounters, tracer: Tracer) {
    this.spaces = spaces;
    this.cpu = cpu;
    this.ramBytes = ramBytes;
    this.costs = costs;
    this.counters = counters;
    this.tracer = tracer;
  }

  /** One map or grant item (words `word0`, `fpage`) into the receive `window`. */
  transfer(sender: Thread, receiver: Thread, word0: number, fpage: number, window: number, grant: boolean): void {
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
    const fromSigma0 = sender.space === this.spaces.sigma0Space;
    if (pages <= PAGE_WALK_PAGES || fromSigma0) {
      const limit = fromSigma0 ? this.sigma0Pages(source, pages) : pages;
      for (let i = 0; i < limit; i++) {
        if (!this.mapPage(sender, receiver, source + i * 4096, destination + i * 4096, rights, grant)) return this.refused(receiver);
      }
      return;
    }
    // A large range: visit only what the sender has mapped there.
    for (const node of this.spaces.mappingsIn(sender.space, source, size)) {
      if (!this.mapPage(sender, receiver, node.address, destination + (node.address - source), rights, grant)) return this.refused(receiver);
    }
  }

  /**
   * How many of the `pages` pages from `source` sigma0 can send: those in RAM, or above it the
   * device pages (dedicated or shared memory) that follow one another from `source`.
   */
  private sigma0Pages(source: number, pages: number): number {
    if (source < this.ramBytes) return Math.min(pages, Math.max(0, (this.ramBytes - source) / 4096));
    let count = 0;
    while (count < pages && this.spaces.isSigma0Memory(source + count * 4096)) count++;
    return count;
  }

  /** Kernel memory ran out: the item stops here, the receiver is marked and the counter says so. */
  private refused(receiver: Thread): void {
    this.counters.mapNoMemory++;
    receiver.mapRefused = true;
  }

  /** Maps or grants one 4 KiB page. Returns false when kernel memory ran out (stop the item). */
  private mapPage(sender: Thread, receiver: Thread, source: number, destination: number, rights: number, grant: boolean): boolean {
    if (source >= USER_TOP || destination >= USER_TOP) return true;
    const spaces = this.spaces;
    const mdb = spaces.mdb;
    const pageTables = spaces.pageTables;
    const space = receiver.space;
    if (inKernelArea(space.kipArea, space.utcbArea, destination)) return true;
    let node = mdb.lookup(sender.space.id, source);
    if (!node && sender.space === spaces.sigma0Space && spaces.isSigma0Memory(source)) {
      if (!spaces.mapSigma0Page(source)) return false;
      node = mdb.lookup(sender.space.id, source);
    }
    if (!node) return true;
    const effective = rights & node.rights;
    if (!(effective & 4)) return true; // IA-32 cannot map a page that is not readable
    const existing = mdb.lookup(space.id, destination);
    if (existing) {
      if (existing === node || isAncestor(existing, node)) return true; // would unmap its own source
      for (const removed of mdb.remove(existing)) spaces.unmapNodePte(removed);
    }
    if (grant) {
      if (sender.space === space && source === destination) return true;
      pageTables.unmap(sender.space.pageDirectory, source);
      const { node: moved, reduced } = mdb.grantAndReport(node, space.id, destination, effective);
      // A narrowing grant narrowed the mappings derived from the page too.
      for (const child of reduced) spaces.writeProtectNode(child);
      if (!pageTables.map(space.pageDirectory, destination, moved.frame, (moved.rights & 2) !== 0)) {
        for (const removed of mdb.remove(moved)) spaces.unmapNodePte(removed);
        return false;
      }
      this.counters.pagesGranted++;
    } else {
      if (!spaces.reserveNodes(1)) return false;
      const child = mdb.map(node, space.id, destination, 12, effective);
      if (!child) return false;
      if (!pageTables.map(space.pageDirectory, destination, child.frame, (child.rights & 2) !== 0)) {
        mdb.remove(child);
        return false;
      }
      this.counters.pagesMapped++;
    }
    this.cpu.charge(this.costs.mapPage);
    if (this.tracer.enabled) {
      this.tracer.emit('map', sender.id, `${grant ? 'grant' : 'map'} ${source.toString(16)} -> ${receiver.id >>> 14}:${destination.toString(16)} rights ${effective}`);
    }
    return true;
  }
}

function isAncestor(ancestor: MappingNode, node: MappingNode): boolean {
  for (let n = node.parent; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The KIP and UTCB areas are the kernel's: nothing is ever mapped over them. */
function inKernelArea(kipArea: number, utcbArea: number, address: number): boolean {
  return fpageContains(kipArea, address, 1) || fpageContains(utcbArea, address, 1);
}
