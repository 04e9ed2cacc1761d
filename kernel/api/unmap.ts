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

import type { CpuPort } from '../../emulator/hardware.ts';
import type { KernelCounters } from '../generic/counters.ts';
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
  for (const node of nodes) {
    if (!node.live) continue; // removed with an earlier node's subtree
    const result = spaces.mdb.revoke(node, rights, flush);
    for (const visited of result.visited) {
      const owner = spaces.spaceById(visited.space);
      if (owner) status |= spaces.pageTables.takeStatus(owner.pageDirectory, visited.address);
    }
    for (const reduced of result.reduced) spaces.writeProtectNode(reduced);
    for (const removed of result.removed) spaces.unmapNodePte(removed);
    counters.nodesUnmapped += result.removed.length;
    cpu.charge(costs.unmapNode * result.visited.length);
    if (tracer.enabled && result.visited.length > 0) {
      tracer.emit('unmap', thread.id, `${node.address.toString(16)} rights ${rights}${flush ? ' flush' : ''}: ${result.removed.length} removed, ${result.reduced.length} reduced`);
    }
  }
  return status;
}
