// Unmap: revoke rights from fpages of the caller's space and from every mapping derived from
// them, through the mapping database, and report the pages' referenced and dirty status.
//
// For each of the k+1 fpages in MR0..MRk (control word: k in bits 0-5, flush in bit 6), every
// mapping node of the caller inside the fpage is revoked: its descendants lose the fpage's rwx
// rights (and the node itself too with flush). A mapping left without R is removed: IA-32 has no
// write-only or execute-only pages. The A and D bits of every PTE in the subtrees are read and
// cleared (with INVLPG where the space is current, so the TLB does not keep a dirty entry) and
// the fpage comes back in its MR with the status in its rwx bits: referenced (A) as R|X,
// dirty (D) as R|W.
//
// An fpage smaller than a 4 MiB mapping of the caller's (a part of it):
// - with flush, the whole 4 MiB mapping is revoked, with everything derived from it, and the
//   status is the whole page's: L4Ka::Pistachio does this (glue/v4-x86 page tables walked by
//   generic/linear_ptab_walker.cc `mapctrl`: "fpage too small: expand to current size"), since
//   one PDE cannot lose rights for a part of its page;
// - without flush, only what was derived from that part is revoked: the 4 KiB children of the
//   node that map the part (found through the database's part index, never visiting the other
//   parts' children) and their subtrees. A 4 MiB mapping derived from the node maps every part:
//   it is split into 4 KiB mappings first (AddressSpaces.splitLarge), so that it loses only the
//   part; when kernel memory cannot hold the split, it is removed whole instead (a revocation
//   cannot fail; a mapping is a cache its pager makes again). The status is that of those
//   mappings alone: the caller's own A and D bits cover the whole 4 MiB page, so they are
//   neither reported nor reset (as Pistachio, which reports the caller's own bits only with
//   flush). The pieces of a split 4 MiB mapping start with its A and D bits.

import type { CpuPort } from '../../emulator/hardware.ts';
import type { KernelCounters } from '../generic/counters.ts';
import { LARGE_PAGE_LOG2, RIGHTS_ALL, type RevokeResult } from '../generic/mapping-database.ts';
import type { Thread } from '../generic/thread.ts';
import type { Tracer } from '../generic/trace.ts';
import type { KernelCosts } from '../ia32/costs.ts';
import { STATUS_ACCESSED, STATUS_DIRTY } from '../ia32/page-table.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { fpageRange } from './fpage.ts';

export interface UnmapParts {
  readonly spaces: AddressSpaces;
  readonly utcbs: Utcbs;
  readonly cpu: CpuPort;
  readonly costs: KernelCosts;
  readonly counters: KernelCounters;
  readonly tracer: Tracer;
}

export function unmap(parts: UnmapParts, thread: Thread, control: number): void {
  const count = (control & 0x3f) + 1;
  const flush = (control & 0x40) !== 0;
  for (let i = 0; i < count; i++) {
    const fpage = parts.utcbs.readMr(thread, i);
    const status = unmapFpage(parts, thread, fpage, flush);
    const bits = (status & STATUS_ACCESSED ? 5 : 0) | (status & STATUS_DIRTY ? 6 : 0);
    parts.utcbs.writeMr(thread, i, ((fpage & ~7) | bits) >>> 0);
  }
  parts.spaces.releaseNodeFrames();
}

function unmapFpage(parts: UnmapParts, thread: Thread, fpage: number, flush: boolean): number {
  const { spaces, cpu, costs, counters, tracer } = parts;
  const range = fpageRange(fpage);
  if (!range) return 0;
  const rights = fpage & 7;
  const nodes = spaces.mappingsIn(thread.space, range.base, range.size);
  let status = 0;
  /** The page-table side of a revocation: status read and reset, PTEs narrowed or cleared. */
  const apply = (result: RevokeResult, what: () => string, inspected: number): void => {
    for (const visited of result.visited) {
      const owner = spaces.spaceById(visited.space);
      if (owner) status |= spaces.pageTables.takeStatus(owner.pageDirectory, visited.address);
    }
    for (const reduced of result.reduced) spaces.writeProtectNode(reduced);
    for (const removed of result.removed) spaces.unmapNodePte(removed);
    counters.nodesUnmapped += result.removed.length;
    cpu.charge(costs.unmapNode * (result.visited.length + inspected));
    if (tracer.enabled && result.visited.length > 0) {
      tracer.emit('unmap', thread.id, `${what()} rights ${rights}${flush ? ' flush' : ''}: ${result.removed.length} removed, ${result.reduced.length} reduced`);
    }
  };
  for (const node of nodes) {
    if (!node.live) continue; // removed with an earlier node's subtree
    if (node.log2Size === LARGE_PAGE_LOG2 && range.log2 < LARGE_PAGE_LOG2 && !flush) {
      // A part of the caller's 4 MiB mapping: only what was derived from that part.
      const part = (): string => `${range.base.toString(16)} (in the 4 MiB page at ${node.address.toString(16)})`;
      for (const child of spaces.mdb.largeChildren(node)) {
        const split = spaces.splitLarge(child);
        if (split > 0) cpu.charge(costs.mapPage * 1024 * split);
        else apply(spaces.mdb.revoke(child, RIGHTS_ALL, true), () => `${part()}: no memory to split the 4 MiB mapping at ${child.space}:${child.address.toString(16)}`, 0);
      }
      // The node's own part index is looked at in place of the node.
      apply(spaces.mdb.revokePart(node, range.base, range.log2, rights), part, 1);
      continue;
    }
    apply(spaces.mdb.revoke(node, rights, flush), () => node.address.toString(16), 0);
  }
  return status;
}
