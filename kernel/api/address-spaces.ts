// Address spaces as X.2 sees them: creation and deletion, SpaceControl's KIP and UTCB areas, the
// UTCB pages, sigma0's 1:1 view of physical memory, and the bookkeeping that keeps the page
// tables (ia32/page-table.ts) and the mapping database (generic/mapping-database.ts) in step.
//
// Mapping-database nodes take kernel memory: one 4 KiB frame per 256 nodes, taken before a node
// is made (reserveNodes) and given back when the database shrinks (releaseNodeFrames), so running
// out of kernel memory is a refusal the caller sees, never a node without a frame.

import { hex32, type HardwareInterface } from '../../emulator/hardware.ts';
import { ErrorCode } from '../../libl4/abi.ts';
import type { KernelMemory } from '../generic/kernel-memory.ts';
import type { MappingDatabase, MappingNode } from '../generic/mapping-database.ts';
import { Space } from '../generic/thread.ts';
import { MemoryType, type MemoryDescriptor } from '../ia32/kip.ts';
import type { PageTables } from '../ia32/page-table.ts';
import { PAGE_WALK_PAGES, fpageBase } from './fpage.ts';

/** Most mapping-database nodes one kernel frame holds (16 bytes each). */
const NODES_PER_FRAME = 256;

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
  /** Every live space by id (a Map iterates in creation order). */
  private readonly byId = new Map<number, Space>();
  private nextId = 0;
  /** Mapping-database nodes the kernel frames taken so far can hold. */
  private nodeCapacity = 0;
  private readonly nodeFrames: number[] = [];

  constructor(
    hw: HardwareInterface,
    parts: { kmem: KernelMemory; pageTables: PageTables; mdb: MappingDatabase; kipFrame: number; kernelDirectory: number; memoryDescriptors: readonly MemoryDescriptor[] },
  ) {
    this.hw = hw;
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

  /** sigma0's own mapping of a physical page, 1:1. False when kernel memory is out. */
  mapSigma0Page(page: number): boolean {
    const space = this.sigma0Space!;
    const existing = this.mdb.lookup(space.id, page);
    if (existing) return true;
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
      for (let address = base; address < base + size; address += 4096) {
        const node = this.mdb.lookup(space.id, address);
        if (node) nodes.push(node);
      }
    } else {
      for (const node of this.mdb.nodesOf(space.id)) if (node.address >= base && node.address < base + size) nodes.push(node);
    }
    return nodes;
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
    for (const space of this.byId.values()) {
      for (const [linear, pte] of this.pageTables.userEntries(space.pageDirectory)) {
        const frame = (pte & ~0xfff) >>> 0;
        const writable = (pte & 2) !== 0;
        if (space.initialized && linear === fpageBase(space.kipArea)) {
          if (frame !== this.kipFrame || writable) problems.push(`space ${space.id}: bad KIP mapping at ${hex32(linear)}`);
          continue;
        }
        const utcb = space.utcbFrames.get(linear);
        if (utcb !== undefined) {
          if (frame !== utcb) problems.push(`space ${space.id}: bad UTCB mapping at ${hex32(linear)}`);
          continue;
        }
        const node = this.mdb.lookup(space.id, linear);
        if (!node) problems.push(`space ${space.id}: PTE at ${hex32(linear)} has no mapping node`);
        else if (node.frame !== frame) problems.push(`space ${space.id}: PTE at ${hex32(linear)} maps ${hex32(frame)}, node says ${hex32(node.frame)}`);
        else if (writable && !(node.rights & 2)) problems.push(`space ${space.id}: PTE at ${hex32(linear)} writable without W`);
        if (this.kmem.contains(frame)) problems.push(`space ${space.id}: user mapping of kernel memory ${hex32(frame)} at ${hex32(linear)}`);
      }
      for (const node of this.mdb.nodesOf(space.id)) {
        const pte = this.pageTables.entry(space.pageDirectory, node.address);
        if (!(pte & 1)) problems.push(`space ${space.id}: node at ${hex32(node.address)} has no PTE`);
      }
    }
    return problems;
  }
}
