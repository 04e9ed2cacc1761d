// What the debugger's `regions TASK` shows: each task's regions and pages as this copy of
// libhurd-mm keeps them. libhurd-mm is linked into the program rather than being the module's
// entry, so it cannot give the module an `introspect` export as physmem does; it publishes the
// same kind of function on its module's global object instead, under INTROSPECTION_KEY, where
// the loader looks when a module exports none (tools/loader.ts). The function builds a fresh
// plain-data snapshot on each call and changes nothing: the debugger calls it between steps,
// outside the module's step budget, and a run with it called is the same run.

import { CentralClient } from './central.ts';
import type { Pager } from './pager.ts';
import type { Region } from './regions.ts';
import type { Kind, MmStats, Policy } from './types.ts';

/** The global symbol's key under which a module publishes its introspection. */
export const INTROSPECTION_KEY = 'l4hurd.introspect';

export interface RegionSnapshot {
  readonly start: number;
  readonly end: number;
  readonly rights: number;
  readonly kind: Kind;
  /** The region's own policy ('' when the task's decides alone; 'function' for a program's). */
  readonly policy: string;
  readonly sequential: boolean;
  /** Pages in a frame now, of which dirty (changed since the store last had them). */
  readonly resident: number;
  readonly dirty: number;
  /** Pages the store holds a copy of, and discardable pages dropped with data in them. */
  readonly stored: number;
  readonly discarded: number;
}

export interface TaskMemorySnapshot {
  readonly task: number;
  /** 'self': its own pager thread; 'central': a client of the image's central pager. */
  readonly mode: 'self' | 'central';
  /** The task's policy ('' under the central pager). */
  readonly policy: string;
  /** Its pager thread (self) or the helper thread the central pager talks to. */
  readonly thread: number;
  readonly container: number;
  readonly stats: MmStats | null;
  readonly regions: readonly RegionSnapshot[];
}

export interface MmSnapshot {
  /** Says what the snapshot is (a module may publish other introspections). */
  readonly kind: 'libhurd-mm';
  readonly tasks: readonly TaskMemorySnapshot[];
}

function policyName(policy: Policy | undefined): string {
  return policy === undefined ? '' : typeof policy === 'function' ? 'function' : policy;
}

interface PageCounts {
  resident: number;
  dirty: number;
  stored: number;
  discarded: number;
}

function regionSnapshot(r: Region, counts: PageCounts): RegionSnapshot {
  return { start: r.start, end: r.end, rights: r.rights, kind: r.kind, policy: policyName(r.policy), sequential: r.sequential, ...counts };
}

/** The snapshot of every pager of this module, by task id in ascending order. */
export function snapshot(pagers: ReadonlyMap<number, Pager | CentralClient>): MmSnapshot {
  const tasks: TaskMemorySnapshot[] = [];
  for (const id of [...pagers.keys()].sort((a, b) => a - b)) {
    const pager = pagers.get(id)!;
    if (pager instanceof CentralClient) {
      // The central pager holds the pages: only the regions are the task's to show.
      const regions = pager.regions.regions.map((r) => regionSnapshot(r, { resident: 0, dirty: 0, stored: 0, discarded: 0 }));
      tasks.push({ task: id, mode: 'central', policy: '', thread: pager.helper, container: -1, stats: null, regions });
      continue;
    }
    // Pages and regions both in address order, walked side by side: nothing of the pager's
    // (not even the region map's last-found cache) is touched.
    const list = pager.regions.regions;
    const counts = list.map((): PageCounts => ({ resident: 0, dirty: 0, stored: 0, discarded: 0 }));
    const pages = [...pager.pages.values()].sort((a, b) => a.address - b.address);
    let at = 0;
    for (const page of pages) {
      while (at < list.length && list[at]!.end <= page.address) at++;
      if (at === list.length) break;
      if (page.address < list[at]!.start) continue;
      const count = counts[at]!;
      if (page.index >= 0) count.resident++;
      if (page.index >= 0 && page.dirty) count.dirty++;
      if (page.stored) count.stored++;
      if (page.discarded) count.discarded++;
    }
    const regions = list.map((r, i) => regionSnapshot(r, counts[i]!));
    tasks.push({ task: id, mode: 'self', policy: policyName(pager.taskScope.policy), thread: pager.thread, container: pager.frames.container, stats: pager.stats(), regions });
  }
  return { kind: 'libhurd-mm', tasks };
}

/** Publishes `introspect` on this module's global object (once per module). */
export function publish(introspect: () => MmSnapshot): void {
  const key = Symbol.for(INTROSPECTION_KEY);
  const global = globalThis as Record<symbol, unknown>;
  if (global[key] === undefined) Object.defineProperty(global, key, { value: introspect, configurable: true });
}
