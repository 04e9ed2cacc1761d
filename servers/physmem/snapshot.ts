// What physmem holds, as plain data for the debugger and the tests: its frames, containers,
// references, tasks and counters. Reading it never changes the machine or the server: the
// loader picks up this module's `introspect` export, which returns a fresh copy each time.

import type { Physmem, PhysmemCounters } from './containers.ts';
import type { PhysmemStats } from './protocol.ts';
import { windowAddress } from './frames.ts';

export interface FrameSnapshot {
  readonly number: number;
  readonly physical: number;
  /** Where physmem maps it in its own space. */
  readonly window: number;
  /** Logical pages using it (0: free; more than 1: shared copy-on-write). */
  readonly pages: number;
}

export interface ContainerSnapshot {
  readonly id: number;
  readonly owner: number;
  readonly version: number;
  readonly lock: { readonly holder: number; readonly unmapOthers: boolean; readonly physical: boolean; readonly deadline: number } | null;
  /** Allocated slots: frame index, and the frame number (-1 while reserved, not yet filled). */
  readonly slots: readonly { readonly index: number; readonly frame: number; readonly sharedPage: boolean }[];
  readonly references: readonly { readonly task: number; readonly handle: number; readonly weak: boolean }[];
}

export interface TaskSnapshot {
  readonly task: number;
  readonly committed: number;
  readonly guarantee: number;
  readonly extra: number;
  readonly reclaimThread: number;
}

export interface PhysmemSnapshot {
  readonly stats: PhysmemStats;
  readonly counters: PhysmemCounters;
  readonly frames: readonly FrameSnapshot[];
  readonly containers: readonly ContainerSnapshot[];
  readonly tasks: readonly TaskSnapshot[];
  readonly live: readonly number[];
}

let current: Physmem | null = null;

/** Called once by the server when its model exists. */
export function setIntrospection(model: Physmem): void {
  current = model;
}

export function snapshot(model: Physmem): PhysmemSnapshot {
  const containers: ContainerSnapshot[] = [];
  for (const client of model.clients.values()) {
    for (const container of client.containers) {
      containers.push({
        id: container.id,
        owner: container.owner,
        version: container.version,
        lock: container.lock ? { ...container.lock } : null,
        slots: [...container.slots.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([index, page]) => ({ index, frame: page.frame ? page.frame.number : -1, sharedPage: page.slots > 1 })),
        references: [...container.references].map((r) => ({ task: r.task, handle: r.handle, weak: r.weak })),
      });
    }
  }
  containers.sort((a, b) => a.id - b.id);
  return {
    stats: model.stats(),
    counters: { ...model.counters },
    frames: model.pool.frames.map((f) => ({ number: f.number, physical: f.physical, window: windowAddress(f), pages: f.pages })),
    containers,
    tasks: [...model.clients.values()].map((c) => ({ task: c.task, committed: c.committed, guarantee: c.guarantee, extra: c.extra, reclaimThread: c.reclaimThread })).sort((a, b) => a.task - b.task),
    live: [...model.live].sort((a, b) => a - b),
  };
}

/** The server's state now, or null before it has started. */
export function introspect(): PhysmemSnapshot | null {
  return current ? snapshot(current) : null;
}
