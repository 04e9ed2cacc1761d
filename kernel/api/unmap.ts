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

import { fpageRange } from './fpage.ts';
import type { Kernel } from '../kernel.ts';
import { STATUS_ACCESSED, STATUS_DIRTY } from '../ia32/page-table.ts';
import type { Thread } from '../generic/thread.ts';

export function unmap(k: Kernel, thread: Thread, control: number): void {
  const count = (control & 0x3f) + 1;
  const flush = (control & 0x40) !== 0;
  for (let i = 0; i < count; i++) {
    const fpage = k.readMr(thread, i);
    const status = unmapFpage(k, thread, fpage, flush);
    const bits = (status & STATUS_ACCESSED ? 5 : 0) | (status & STATUS_DIRTY ? 6 : 0);
    k.writeMr(thread, i, ((fpage & ~7) | bits) >>> 0);
  }
  k.releaseNodeFrames();
}

function unmapFpage(k: Kernel, thread: Thread, fpage: number, flush: boolean): number {
  const range = fpageRange(fpage);
  if (!range) return 0;
  const rights = fpage & 7;
  const nodes = k.mappingsIn(thread.space, range.base, range.size);
  let status = 0;
  for (const node of nodes) {
    if (!node.live) continue; // removed with an earlier node's subtree
    const result = k.mdb.revoke(node, rights, flush);
    for (const visited of result.visited) {
      const owner = k.spaceById(visited.space);
      if (owner) status |= k.pageTables.takeStatus(owner.pageDirectory, visited.address);
    }
    for (const reduced of result.reduced) {
      const owner = k.spaceById(reduced.space);
      if (owner && !(reduced.rights & 2)) k.pageTables.writeProtect(owner.pageDirectory, reduced.address);
    }
    for (const removed of result.removed) k.unmapNodePte(removed);
    k.counters.nodesUnmapped += result.removed.length;
    k.hw.cpu.charge(k.costs.unmapNode * result.visited.length);
    if (k.trace && result.visited.length > 0) {
      k.emit('unmap', thread, `${node.address.toString(16)} rights ${rights}${flush ? ' flush' : ''}: ${result.removed.length} removed, ${result.reduced.length} reduced`);
    }
  }
  return status;
}
