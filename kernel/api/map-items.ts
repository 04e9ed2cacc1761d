// Map and grant items: the sender's fpage placed into the receiver's window, as children of the
// sender's mapping nodes (map) or by moving the nodes (grant).
//
// X.2 rules (reference/l4-x2.md): the smaller of the send fpage and the receive window decides
// the size, and the send base says where in the larger one it goes; rights are the AND of the
// sent rights and the sender's own; mapping over an existing mapping first removes that mapping
// and its subtree; nothing is ever mapped over the KIP or UTCB areas or above user space. A page
// the sender does not have is skipped. When kernel memory runs out (a page table, a mapping
// node), the item stops there: the counter mapNoMemory records it and the receiver is marked, so
// that a page fault answered by such a map is not retried for ever (api/page-faults.ts).
//
// Page sizes, as L4Ka::Pistachio's IA-32 kernel maps the largest hardware page both sides allow:
// where the CPU has PSE, each 4 MiB piece of the range that is 4 MiB aligned on both sides, lies
// clear of the receiver's KIP and UTCB areas, and is one 4 MiB mapping of the sender's (sigma0's
// is, where its region is whole: api/address-spaces.ts) goes as one 4 MiB mapping: a 4 MiB node
// and a PDE with PS, in place of whatever the receiver had in that region. Everything else goes
// in 4 KiB pages; from inside a sender's 4 MiB mapping they are 4 KiB children of its node, each
// taking its part of the frame. A 4 KiB page mapped over a part of a receiver's 4 MiB mapping, or
// granted out of a sender's 4 MiB mapping, splits that mapping first (AddressSpaces.splitLarge),
// so that the rest of it stays as it was.

import type { CpuPort } from '../../emulator/hardware.ts';
import type { KernelCounters } from '../generic/counters.ts';
import { LARGE_PAGE_LOG2, SMALL_PAGE_LOG2, type MappingNode } from '../generic/mapping-database.ts';
import type { Space, Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { PAGE_WALK_PAGES, fpageContains, fpageRange } from './fpage.ts';

const PAGE = 4096;
const LARGE_PAGE = 2 ** LARGE_PAGE_LOG2;

/** What became of a 4 MiB piece offered as one 4 MiB mapping. */
const Large = {
  /** Done: mapped or granted as one 4 MiB mapping (or nothing of it can be mapped). */
  Placed: 0,
  /** Not a case for a 4 MiB mapping: map it in 4 KiB pages. */
  Pages: 1,
  /** Kernel memory ran out: stop the item. */
  Refused: 2,
} as const;
type LargeOutcome = (typeof Large)[keyof typeof Large];

export class MapItems {
  private readonly spaces: AddressSpaces;
  private readonly cpu: CpuPort;
  private readonly ramBytes: number;
  private readonly costs: KernelCosts;
  private readonly counters: KernelCounters;
  private readonly tracer: Tracer;
  /** The CPU honours 4 MiB pages (CR4.PSE): the kernel makes 4 MiB user mappings. */
  private readonly largePages: boolean;

  constructor(spaces: AddressSpaces, cpu: CpuPort, ramBytes: number, costs: KernelCosts, counters: KernelCounters, tracer: Tracer, largePages: boolean) {
    this.spaces = spaces;
    this.cpu = cpu;
    this.ramBytes = ramBytes;
    this.costs = costs;
    this.counters = counters;
    this.tracer = tracer;
    this.largePages = largePages;
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
    // Both sides are aligned to `size`, so with size >= 4 MiB every 4 MiB piece is aligned on both.
    const large = this.largePages && size >= LARGE_PAGE;
    const fromSigma0 = sender.space === this.spaces.sigma0Space;
    if (size / PAGE <= PAGE_WALK_PAGES || fromSigma0) {
      const end = fromSigma0 ? this.sigma0Pages(source, size / PAGE) * PAGE : size;
      for (let offset = 0; offset < end; ) {
        if (large && offset % LARGE_PAGE === 0) {
          const placed = this.mapLarge(sender, receiver, source + offset, destination + offset, rights, grant);
          if (placed === Large.Refused) return this.refused(receiver);
          if (placed === Large.Placed) {
            offset += LARGE_PAGE;
            continue;
          }
        }
        if (!this.mapPage(sender, receiver, source + offset, destination + offset, rights, grant)) return this.refused(receiver);
        offset += PAGE;
      }
      return;
    }
    // A large range (more than 4 MiB, so aligned to 8 MiB or more: a 4 MiB mapping there lies
    // wholly inside it): visit only what the sender has mapped there.
    for (const node of this.spaces.mappingsIn(sender.space, source, size)) {
      const at = destination + (node.address - source);
      if (node.log2Size === LARGE_PAGE_LOG2) {
        const placed = large ? this.mapLarge(sender, receiver, node.address, at, rights, grant) : Large.Pages;
        if (placed === Large.Refused) return this.refused(receiver);
        if (placed === Large.Placed) continue;
        for (let offset = 0; offset < LARGE_PAGE; offset += PAGE) {
          if (!this.mapPage(sender, receiver, node.address + offset, at + offset, rights, grant)) return this.refused(receiver);
        }
        continue;
      }
      if (!this.mapPage(sender, receiver, node.address, at, rights, grant)) return this.refused(receiver);
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

  /**
   * The 4 MiB piece at `source` (4 MiB aligned) as one 4 MiB mapping at `destination` (4 MiB
   * aligned), if the sender has it as one and the receiver's region may take one.
   */
  private mapLarge(sender: Thread, receiver: Thread, source: number, destination: number, rights: number, grant: boolean): LargeOutcome {
    if (source >= USER_TOP || destination >= USER_TOP) return Large.Pages;
    const spaces = this.spaces;
    const mdb = spaces.mdb;
    const pageTables = spaces.pageTables;
    const space = receiver.space;
    if (touchesKernelArea(space, destination)) return Large.Pages;
    let node = mdb.lookup(sender.space.id, source);
    if (!node && sender.space === spaces.sigma0Space && spaces.isSigma0LargeRegion(source)) {
      if (!spaces.mapSigma0Page(source)) return Large.Refused;
      node = mdb.lookup(sender.space.id, source);
    }
    if (!node || node.log2Size !== LARGE_PAGE_LOG2) return Large.Pages;
    const effective = rights & node.rights;
    if (!(effective & 4)) return Large.Placed; // IA-32 cannot map a page that is not readable: none of it goes
    if (grant && sender.space === space && source === destination) return Large.Placed;
    // What the receiver has in the region goes first, unless the page itself comes from it.
    const existing = mdb.nodesInRegion(space.id, destination);
    for (const old of existing) if (old === node || isAncestor(old, node)) return Large.Pages;
    if (!grant && !spaces.reserveNodes(1)) return Large.Refused;
    for (const old of existing) {
      if (!old.live) continue; // removed with an earlier one's subtree
      for (const removed of mdb.remove(old)) spaces.unmapNodePte(removed);
    }
    let placed: MappingNode;
    if (grant) {
      pageTables.unmap(sender.space.pageDirectory, source);
      const { node: moved, reduced } = mdb.grantAndReport(node, space.id, destination, effective);
      // A narrowing grant narrowed the mappings derived from the page too.
      for (const child of reduced) spaces.writeProtectNode(child);
      placed = moved;
    } else {
      const child = mdb.map(node, space.id, destination, LARGE_PAGE_LOG2, effective);
      if (!child) return Large.Refused;
      placed = child;
    }
    if (!pageTables.mapLarge(space.pageDirectory, destination, placed.frame, (placed.rights & 2) !== 0)) {
      // Cannot happen (the region was emptied and holds no KIP or UTCB page): nothing is left half made.
      for (const removed of mdb.remove(placed)) spaces.unmapNodePte(removed);
      return Large.Refused;
    }
    if (grant) this.counters.pagesGranted++;
    else this.counters.pagesMapped++;
    this.counters.largeMappings++;
    this.cpu.charge(this.costs.mapPage);
    this.traceMap(sender, receiver, source, destination, effective, grant, ' (4 MiB)');
    return Large.Placed;
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
    let existing = mdb.lookup(space.id, destination);
    if (existing) {
      if (isSourceOrAbove(existing, destination, node, source)) return true; // would unmap its own source
      if (existing.log2Size === LARGE_PAGE_LOG2) {
        // Over a part of a 4 MiB mapping: only that part is replaced. The split reaches the
        // sender's node too when it is that mapping or a 4 MiB one derived from it.
        if (!this.split(existing)) return false;
        existing = mdb.lookup(space.id, destination)!;
        node = mdb.lookup(sender.space.id, source)!;
      }
      for (const removed of mdb.remove(existing)) spaces.unmapNodePte(removed);
    }
    if (grant) {
      if (sender.space === space && source === destination) return true;
      if (node.log2Size === LARGE_PAGE_LOG2) {
        // A part of a 4 MiB mapping: the sender keeps the rest of it.
        if (!this.split(node)) return false;
        node = mdb.lookup(sender.space.id, source)!;
      }
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
      // From inside a 4 MiB mapping the page is that mapping's part at `source`.
      const frame = node.frame + (source - node.address) - ((source - node.address) % PAGE);
      const child = mdb.map(node, space.id, destination, SMALL_PAGE_LOG2, effective, frame);
      if (!child) return false;
      if (!pageTables.map(space.pageDirectory, destination, child.frame, (child.rights & 2) !== 0)) {
        mdb.remove(child);
        return false;
      }
      this.counters.pagesMapped++;
    }
    this.cpu.charge(this.costs.mapPage);
    this.traceMap(sender, receiver, source, destination, effective, grant, '');
    return true;
  }

  /**
   * Splits a 4 MiB mapping (and those derived from it) into 4 KiB ones, charged as mapping their
   * pages. False when kernel memory ran out.
   */
  private split(node: MappingNode): boolean {
    const count = this.spaces.splitLarge(node);
    if (count === 0) return false;
    this.cpu.charge(this.costs.mapPage * (LARGE_PAGE / PAGE) * count);
    return true;
  }

  private traceMap(sender: Thread, receiver: Thread, source: number, destination: number, rights: number, grant: boolean, note: string): void {
    if (this.tracer.enabled) {
      this.tracer.emit('map', sender.id, `${grant ? 'grant' : 'map'} ${source.toString(16)} -> ${receiver.id >>> 14}:${destination.toString(16)} rights ${rights}${note}`);
    }
  }
}

/**
 * Is the receiver's page at `destination` (in its node `existing`) the sender's page at `source`
 * (in its node `node`) or one it was derived from? Page by page, as if every mapping were in
 * 4 KiB pages: the same physical page, in the same node or in an ancestor. A 4 MiB node's parts
 * are distinct pages: another part of the sender's own 4 MiB mapping, or a part of an ancestor
 * 4 MiB mapping that holds another physical page, is not the source and is mapped over.
 */
function isSourceOrAbove(existing: MappingNode, destination: number, node: MappingNode, source: number): boolean {
  const existingPage = existing.frame + (destination - existing.address) - ((destination - existing.address) % 4096);
  const sourcePage = node.frame + (source - node.address) - ((source - node.address) % 4096);
  return existingPage === sourcePage && (existing === node || isAncestor(existing, node));
}

function isAncestor(ancestor: MappingNode, node: MappingNode): boolean {
  for (let n = node.parent; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The KIP and UTCB areas are the kernel's: nothing is ever mapped over them. */
function inKernelArea(kipArea: number, utcbArea: number, address: number): boolean {
  return fpageContains(kipArea, address, 1) || fpageContains(utcbArea, address, 1);
}

/** Does the 4 MiB region at `base` overlap the space's KIP or UTCB area? */
function touchesKernelArea(space: Space, base: number): boolean {
  for (const area of [space.kipArea, space.utcbArea]) {
    const range = area === 0 ? null : fpageRange(area);
    if (range !== null && range.base < base + LARGE_PAGE && base < range.base + range.size) return true;
  }
  return false;
}
