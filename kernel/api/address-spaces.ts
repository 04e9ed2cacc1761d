// Address spaces as X.2 sees them: creation and deletion, SpaceControl's KIP and UTCB areas, the
// UTCB pages, sigma0's 1:1 view of physical memory, and the bookkeeping that keeps the page
// tables (ia32/page-table.ts) and the mapping database (generic/mapping-database.ts) in step.
//
// Mapping-database nodes take kernel memory: one 4 KiB frame per 256 nodes, taken before a node
// is made (reserveNodes) and given back when the database shrinks (releaseNodeFrames), so running
// out of kernel memory is a refusal the caller sees, never a node without a frame.
//
// 4 MiB mappings (CPU with PSE): sigma0 gets each naturally aligned 4 MiB region that is wholly
// memory it may have (the KIP's conventional, shared and boot memory, none of the kernel's) as
// one 4 MiB page (one node, one PDE with PS), as L4Ka::Pistachio's IA-32 kernel gives sigma0
// superpages; other regions, and every region on a CPU without PSE, in 4 KiB pages. A 4 MiB
// mapping of which only a part is to change is split first (`splitLarge`): 1,024 4 KiB nodes and
// a page table of 1,024 PTEs in its place, with the same frames, rights and A/D bits.

import { PG_LARGE_FRAME, PG_PS, hex32, type HardwareInterface } from '../../emulator/hardware.ts';
import { ErrorCode } from '../../libl4/abi.ts';
import type { KernelCounters } from '../generic/counters.ts';
import type { KernelMemory } from '../generic/kernel-memory.ts';
import { LARGE_PAGE_LOG2, SMALL_PAGE_LOG2, type MappingDatabase, type MappingNode } from '../generic/mapping-database.ts';
import { Space } from '../generic/thread.ts';
import { MemoryType, type MemoryDescriptor } from '../ia32/kip.ts';
import type { PageTables } from '../ia32/page-table.ts';
import { PAGE_WALK_PAGES, fpageBase, fpageRange } from './fpage.ts';

/** Most mapping-database nodes one kernel frame holds (16 bytes each). */
const NODES_PER_FRAME = 256;
const LARGE_PAGE = 2 ** LARGE_PAGE_LOG2;
/** 4 KiB parts of a 4 MiB page. */
const PARTS = LARGE_PAGE / 4096;

export class AddressSpaces {
  readonly kmem: KernelMemory;
  readonly pageTables: PageTables;
  readonly mdb: MappingDatabase;
  readonly kipFrame: number;
  /** A directory holding only the kernel region: CR3 when no space is current. */
  readonly kernelDirectory: number;
  readonly memoryDescriptors: readonly MemoryDescriptor[];
  sigma0Space: Space | null = null;
  rootSpace: Space | null = null;

  private readonly hw: HardwareInterface;
  private readonly counters: KernelCounters;
  /** 4 MiB regions by number -> whether sigma0 gets it as one 4 MiB page (decided on first use; looked up, never iterated). */
  private readonly sigma0LargeRegions = new Map<number, boolean>();
  /** Every live space by id (a Map iterates in creation order). */
  private readonly byId = new Map<number, Space>();
  private nextId = 0;
  /** Mapping-database nodes the kernel frames taken so far can hold. */
  private nodeCapacity = 0;
  private readonly nodeFrames: number[] = [];

  constructor(
    hw: HardwareInterface,
    parts: { kmem: KernelMemory; pageTables: PageTables; mdb: MappingDatabase; kipFrame: number; kernelDirectory: number; memoryDescriptors: readonly MemoryDescriptor[]; counters: KernelCounters },
  ) {
    this.hw = hw;
    this.counters = parts.counters;
    this.kmem = parts.kmem;
    this.pageTables = parts.pageTables;
    this.mdb = parts.mdb;
    this.kipFrame = parts.kipFrame;
    this.kernelDirectory = parts.kernelDirectory;
    this.memoryDescriptors = parts.memoryDescriptors;
  }

  /** A new space with an empty user half, or null when kernel memory is out. */
  create(): Space | null {
    const directory = this.pageTables.createDirectory();
    if (directory < 0) return null;
    const space = new Space(this.nextId++, directory);
    this.byId.set(space.id, space);
    return space;
  }

  /** SpaceControl's first call: records the areas and maps the KIP read-only. 0 or an error code. */
  initialize(space: Space, kipArea: number, utcbArea: number): number {
    if (!this.pageTables.map(space.pageDirectory, fpageBase(kipArea), this.kipFrame, false)) return ErrorCode.NoMemory;
    space.kipArea = kipArea;
    space.utcbArea = utcbArea;
    space.initialized = true;
    return 0;
  }

  /**
   * The kernel frame behind the UTCB page at `page` of `space`, allocated and mapped on first
   * use; -1 when kernel memory is out.
   */
  utcbFrame(space: Space, page: number): number {
    let frame = space.utcbFrames.get(page);
    if (frame === undefined) {
      frame = this.kmem.allocate();
      if (frame < 0) return -1;
      if (!this.pageTables.map(space.pageDirectory, page, frame, true)) {
        this.kmem.free(frame);
        return -1;
      }
      space.utcbFrames.set(page, frame);
    }
    return frame;
  }

  /** Deletes a space whose last thread is gone (or that never got one). */
  delete(space: Space): void {
    if (((this.hw.cpu.cr3 & ~0xfff) >>> 0) === space.pageDirectory) this.hw.cpu.cr3 = this.kernelDirectory;
    // Every mapping of the space, and everything derived from it in other spaces, goes.
    for (const node of this.mdb.removeSpace(space.id)) {
      if (node.space !== space.id) this.unmapNodePte(node);
    }
    this.releaseNodeFrames();
    for (const frame of space.utcbFrames.values()) this.kmem.free(frame);
    this.pageTables.destroyDirectory(space.pageDirectory);
    this.byId.delete(space.id);
    if (this.rootSpace === space) this.rootSpace = null;
    if (this.sigma0Space === space) this.sigma0Space = null;
  }

  /** Is `space` privileged (the root server's or sigma0's)? */
  isPrivileged(space: Space): boolean {
    return space === this.rootSpace || space === this.sigma0Space;
  }

  /** Every live space, in creation order. */
  get all(): Space[] {
    return [...this.byId.values()];
  }

  spaceById(id: number): Space | undefined {
    return this.byId.get(id);
  }

  // ---- sigma0 and the mapping database --------------------------------------------------------

  /**
   * Is `pa` a page sigma0 may hand out: conventional, shared or boot memory inside RAM, or a
   * device's registers outside it (dedicated or shared memory the KIP describes there); never the
   * kernel's.
   */
  isSigma0Memory(pa: number): boolean {
    let type: number = MemoryType.Undefined;
    for (const d of this.memoryDescriptors) if (!d.virtual && pa >= d.low && pa < d.end) type = d.type;
    if (pa >= this.hw.physical.size) return type === MemoryType.Dedicated || type === MemoryType.Shared;
    return (type === MemoryType.Conventional || type === MemoryType.Shared || type === MemoryType.Boot) && !this.kmem.contains(pa);
  }

  /**
   * Does sigma0 get the 4 MiB region holding `pa` as one 4 MiB page: the CPU has PSE, and every
   * page of the naturally aligned region is sigma0 memory (isSigma0Memory), none in sigma0's own
   * KIP or UTCB area?
   */
  isSigma0LargeRegion(pa: number): boolean {
    if (!this.hw.profile.pse || this.sigma0Space === null) return false;
    const region = pa >>> LARGE_PAGE_LOG2;
    let large = this.sigma0LargeRegions.get(region);
    if (large === undefined) {
      const base = region * LARGE_PAGE;
      const space = this.sigma0Space;
      large = !overlaps(space.kipArea, base) && !overlaps(space.utcbArea, base);
      for (let page = base; large && page < base + LARGE_PAGE; page += 4096) large = this.isSigma0Memory(page);
      this.sigma0LargeRegions.set(region, large);
    }
    return large;
  }

  /**
   * sigma0's own mapping of a physical page, 1:1: the whole 4 MiB region as one 4 MiB page where
   * isSigma0LargeRegion says so, else the 4 KiB page. False when kernel memory is out.
   */
  mapSigma0Page(page: number): boolean {
    const space = this.sigma0Space!;
    const existing = this.mdb.lookup(space.id, page);
    if (existing) return true;
    if (this.isSigma0LargeRegion(page)) {
      const base = (page & PG_LARGE_FRAME) >>> 0;
      if (!this.reserveNodes(2)) return false;
      const root = this.mdb.root(base, LARGE_PAGE_LOG2);
      const node = this.mdb.map(root, space.id, base, LARGE_PAGE_LOG2, 7);
      if (!node) return false;
      if (this.pageTables.mapLarge(space.pageDirectory, base, base, true)) {
        this.counters.largeMappings++;
        return true;
      }
      // A page table there still maps something (it cannot, as sigma0 gets the region whole):
      // the region is not made a 4 MiB page after all.
      this.mdb.remove(root);
      this.sigma0LargeRegions.set(base >>> LARGE_PAGE_LOG2, false);
    }
    if (!this.reserveNodes(2)) return false;
    const node = this.mdb.map(this.mdb.root(page, 12), space.id, page, 12, 7);
    if (!node) return false;
    if (!this.pageTables.map(space.pageDirectory, page, page, true)) {
      this.mdb.remove(node);
      return false;
    }
    return true;
  }

  /** Makes room for `count` more mapping nodes from kernel memory. False: out of memory. */
  reserveNodes(count: number): boolean {
    while (this.mdb.size + count > this.nodeCapacity) {
      const frame = this.kmem.allocate();
      if (frame < 0) return false;
      this.nodeFrames.push(frame);
      this.nodeCapacity += NODES_PER_FRAME;
    }
    return true;
  }

  /** Gives back node frames no longer needed. */
  releaseNodeFrames(): void {
    while (this.nodeFrames.length > 0 && this.mdb.size <= this.nodeCapacity - NODES_PER_FRAME) {
      this.kmem.free(this.nodeFrames.pop()!);
      this.nodeCapacity -= NODES_PER_FRAME;
    }
  }

  /**
   * The mapping nodes of `space` in [base, base + size), in address order for a small range
   * (looked up page by page) and in the database's order for a large one (a walk over the
   * space's nodes), whichever is cheaper.
   */
  mappingsIn(space: Space, base: number, size: number): MappingNode[] {
    const nodes: MappingNode[] = [];
    if (size / 4096 <= PAGE_WALK_PAGES) {
      for (let address = base; address < base + size; ) {
        const node = this.mdb.lookup(space.id, address);
        if (node) nodes.push(node);
        // A 4 MiB page is listed once (it may begin before `base` when the range is a part of it).
        address = node && node.log2Size === LARGE_PAGE_LOG2 ? node.address + LARGE_PAGE : address + 4096;
      }
    } else {
      for (const node of this.mdb.nodesOf(space.id)) if (node.address >= base && node.address < base + size) nodes.push(node);
    }
    return nodes;
  }

  /**
   * Splits the 4 MiB mapping `node`, and every 4 MiB mapping derived from it, into 4 KiB
   * mappings: in the mapping database (MappingDatabase.split) and in the page tables (each
   * 4 MiB PDE becomes a page table: PageTables.splitLarge). Returns how many 4 MiB mappings were
   * split, or 0, changing nothing, when kernel memory cannot hold the new nodes and page tables.
   */
  splitLarge(node: MappingNode): number {
    let count = 0;
    for (const below of this.mdb.subtree(node)) if (below.log2Size === LARGE_PAGE_LOG2) count++;
    if (!this.reserveNodes(count * (PARTS - 1)) || this.kmem.available < count) return 0;
    const result = this.mdb.split(node);
    if (!result) return 0;
    for (const old of result.replaced) {
      const owner = this.byId.get(old.space)!;
      this.pageTables.splitLarge(owner.pageDirectory, old.address, this.kmem.allocate());
    }
    this.counters.largeSplits += count;
    return count;
  }

  /** Clears the PTE of a mapping node (roots have none); returns its A/D status. */
  unmapNodePte(node: MappingNode): number {
    const space = this.byId.get(node.space);
    return space ? this.pageTables.unmap(space.pageDirectory, node.address) : 0;
  }

  /** Write-protects the PTE of a mapping node left without W. */
  writeProtectNode(node: MappingNode): void {
    const owner = this.byId.get(node.space);
    if (owner && !(node.rights & 2)) this.pageTables.writeProtect(owner.pageDirectory, node.address);
  }

  // ---- Checks ---------------------------------------------------------------------------------

  /**
   * Consistency of page tables and the mapping database: every present user PTE is the KIP, a
   * UTCB page, or a mapping node with the same frame and no more rights; no node maps kernel
   * memory; the database's own check. Returns the problems found (empty when all is well).
   */
  checkInvariants(): string[] {
    const problems = this.mdb.check();
    const kernelLow = this.kmem.base;
    const kernelEnd = this.kmem.base + this.kmem.size;
    for (const space of this.byId.values()) {
      for (const [linear, entry] of this.pageTables.userEntries(space.pageDirectory)) {
        const large = (entry & PG_PS) !== 0;
        const frame = (entry & (large ? PG_LARGE_FRAME : ~0xfff)) >>> 0;
        const size = large ? LARGE_PAGE : 4096;
        const writable = (entry & 2) !== 0;
        const what = large ? '4 MiB PDE' : 'PTE';
        if (large && !this.hw.profile.pse) problems.push(`space ${space.id}: 4 MiB page at ${hex32(linear)} on a CPU without PSE`);
        if (!large && space.initialized && linear === fpageBase(space.kipArea)) {
          if (frame !== this.kipFrame || writable) problems.push(`space ${space.id}: bad KIP mapping at ${hex32(linear)}`);
          continue;
        }
        const utcb = large ? undefined : space.utcbFrames.get(linear);
        if (utcb !== undefined) {
          if (frame !== utcb) problems.push(`space ${space.id}: bad UTCB mapping at ${hex32(linear)}`);
          continue;
        }
        if (large && space.initialized && (overlaps(space.kipArea, linear) || overlaps(space.utcbArea, linear))) problems.push(`space ${space.id}: 4 MiB page at ${hex32(linear)} over the KIP or UTCB area`);
        const node = this.mdb.lookup(space.id, linear);
        if (!node) problems.push(`space ${space.id}: ${what} at ${hex32(linear)} has no mapping node`);
        else if (node.log2Size !== (large ? LARGE_PAGE_LOG2 : SMALL_PAGE_LOG2)) problems.push(`space ${space.id}: ${what} at ${hex32(linear)} but its node is 2^${node.log2Size}`);
        else if (node.frame !== frame) problems.push(`space ${space.id}: ${what} at ${hex32(linear)} maps ${hex32(frame)}, node says ${hex32(node.frame)}`);
        else if (writable && !(node.rights & 2)) problems.push(`space ${space.id}: ${what} at ${hex32(linear)} writable without W`);
        if (frame < kernelEnd && kernelLow < frame + size) problems.push(`space ${space.id}: user mapping of kernel memory ${hex32(frame)} at ${hex32(linear)}`);
      }
      for (const node of this.mdb.nodesOf(space.id)) {
        const entry = this.pageTables.entry(space.pageDirectory, node.address);
        if (!(entry & 1)) problems.push(`space ${space.id}: node at ${hex32(node.address)} has no PTE`);
        else if (((entry & PG_PS) !== 0) !== (node.log2Size === LARGE_PAGE_LOG2)) problems.push(`space ${space.id}: node at ${hex32(node.address)} of 2^${node.log2Size} has an entry of the other size`);
      }
    }
    return problems;
  }
}

/** Does the fpage `area` (0: none) overlap the 4 MiB region at `base`? */
function overlaps(area: number, base: number): boolean {
  const range = area === 0 ? null : fpageRange(area);
  return range !== null && range.base < base + LARGE_PAGE && base < range.base + range.size;
}
