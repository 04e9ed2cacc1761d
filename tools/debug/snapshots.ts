// The introspections the console reads from modules (physmem's snapshot, libhurd-mm's pagers),
// checked for the shape the views rely on before any view uses them. A module's introspection is
// the module's own code: a program of a user's image may publish anything under those names, or
// throw, and the console must say so in a line and go on, never take it for its own bug.

import type { MmSnapshot } from '../../libhurd-mm/introspect.ts';
import type { PhysmemSnapshot } from '../../servers/physmem/snapshot.ts';
import type { MachineSession } from './machine-session.ts';

type Shape = 'number' | 'string' | 'boolean' | 'array' | 'object';
type Fields = Readonly<Record<string, Shape>>;

function isShape(value: unknown, shape: Shape): boolean {
  if (shape === 'array') return Array.isArray(value);
  if (shape === 'object') return typeof value === 'object' && value !== null;
  if (shape === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeof value === shape;
}

/** Where `value` lacks one of `fields` (a text naming it), or null. */
function missing(value: unknown, fields: Fields, what: string): string | null {
  if (typeof value !== 'object' || value === null) return `${what} is not an object`;
  for (const [name, shape] of Object.entries(fields)) {
    if (!isShape((value as Record<string, unknown>)[name], shape)) return `${what}'s ${name} is not a${shape === 'array' || shape === 'object' ? 'n' : ''} ${shape}`;
  }
  return null;
}

/** The first element of `list` (of `what`s) lacking one of `fields`, as a text, or null. */
function missingIn(list: readonly unknown[], fields: Fields, what: string): string | null {
  for (let i = 0; i < list.length; i++) {
    const problem = missing(list[i], fields, `${what} ${i}`);
    if (problem) return problem;
  }
  return null;
}

/** What a module's introspection gives now: its value, or why there is none (it threw). */
export function introspection(session: MachineSession, module: string): { readonly value: unknown } | { readonly error: string } {
  try {
    return { value: session.loaded.introspect(module) };
  } catch (error) {
    return { error: `module ${module}'s introspection failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `value` as physmem's snapshot, or why it is not one. */
export function asPhysmemSnapshot(value: unknown): PhysmemSnapshot | string {
  const top = missing(value, { stats: 'object', frames: 'array', containers: 'array', tasks: 'array' }, 'the snapshot');
  if (top) return top;
  const s = value as PhysmemSnapshot;
  const problem =
    missing(s.stats, { total: 'number', free: 'number', allocated: 'number', reserved: 'number', guaranteed: 'number', extra: 'number' }, 'its stats') ??
    missingIn(s.frames, { number: 'number', physical: 'number' }, 'frame') ??
    missingIn(s.tasks, { task: 'number', committed: 'number', guarantee: 'number', extra: 'number', reclaimThread: 'number' }, 'task') ??
    missingIn(s.containers, { id: 'number', owner: 'number', version: 'number', slots: 'array', references: 'array' }, 'container') ??
    s.containers.map((c, i) => missingIn(c.slots, { frame: 'number', sharedPage: 'boolean' }, `container ${i}'s slot`) ?? missingIn(c.references, { task: 'number', handle: 'number', weak: 'boolean' }, `container ${i}'s reference`) ?? (c.lock === null ? null : missing(c.lock, { holder: 'number', physical: 'boolean', unmapOthers: 'boolean', deadline: 'number' }, `container ${i}'s lock`))).find((p) => p !== null) ??
    null;
  return problem ?? s;
}

/** `value` as libhurd-mm's snapshot, or why it is not one (null: not claiming to be one). */
export function asMmSnapshot(value: unknown): MmSnapshot | string | null {
  if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind !== 'libhurd-mm') return null;
  const top = missing(value, { tasks: 'array' }, 'the snapshot');
  if (top) return top;
  const s = value as MmSnapshot;
  for (let i = 0; i < s.tasks.length; i++) {
    const t = s.tasks[i]!;
    const problem = missing(t, { task: 'number', mode: 'string', policy: 'string', thread: 'number', container: 'number', regions: 'array' }, `task ${i}`);
    if (problem) return problem;
    if (t.mode !== 'self' && t.mode !== 'central') return `task ${i}'s mode is neither self nor central`;
    if (t.stats !== null) {
      const stats = missing(t.stats, { framesHeld: 'number', guaranteed: 'number', extra: 'number', resident: 'number', faults: 'number', zeroFills: 'number', pageIns: 'number', pageOuts: 'number', evictions: 'number', discards: 'number', prefetched: 'number', reclaims: 'number' }, `task ${i}'s stats`);
      if (stats) return stats;
    }
    const region = missingIn(t.regions, { start: 'number', end: 'number', rights: 'number', kind: 'string', policy: 'string', sequential: 'boolean', resident: 'number', dirty: 'number', stored: 'number', discarded: 'number' }, `task ${i}'s region`);
    if (region) return region;
  }
  return s;
}
