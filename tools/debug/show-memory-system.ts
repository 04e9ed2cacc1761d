// The Hurd's memory system as the console shows it: every physical frame by owner (`frames`),
// physmem's containers (`containers`), and a self-paging task's regions (`regions`). physmem's
// state comes from its `introspect` export (servers/physmem/snapshot.ts), a task's regions from
// what its libhurd-mm published (libhurd-mm/introspect.ts); the loader calls both outside the
// module's step budget, and neither changes anything: reading them never changes the machine. Frames nobody else claims are sigma0's, given out or not as the mapping database says.

import type { TaskMemorySnapshot } from '../../libhurd-mm/introspect.ts';
import type { PhysmemSnapshot } from '../../servers/physmem/snapshot.ts';
import { CommandError, hex32, parseNumber, rights, table, threadName } from './format.ts';
import { asMmSnapshot, asPhysmemSnapshot, introspection } from './snapshots.ts';
import type { MachineSession } from './machine-session.ts';
import { spaceName } from './show-state.ts';
import { mappingsOfFrame } from './show-paging.ts';

/** physmem's snapshot; null when the image has none or it has not started; a text when it is unusable. */
function physmem(session: MachineSession): PhysmemSnapshot | null | string {
  const got = introspection(session, 'physmem');
  if ('error' in got) return got.error;
  if (got.value === undefined || got.value === null) return null;
  const snapshot = asPhysmemSnapshot(got.value);
  return typeof snapshot === 'string' ? `module physmem's introspection is not physmem's: ${snapshot}` : snapshot;
}

/** Each frame's owner, as a short text; consecutive frames of one owner make a range. */
export function showFrames(session: MachineSession): string[] {
  const ram = session.machine.physical.size;
  const frames = ram / 4096;
  const owner: string[] = new Array<string>(frames);
  const kernel = session.kernel;
  const kmem = { base: kernel.kmem.base, end: kernel.kmem.base + kernel.kmem.size };
  for (let f = kmem.base / 4096; f < kmem.end / 4096 && f < frames; f++) owner[f] = 'kernel memory';
  for (const m of session.loaded.modules) {
    for (let f = Math.floor(m.base / 4096); f < Math.ceil((m.base + Math.max(1, m.length)) / 4096) && f < frames; f++) owner[f] = `boot module ${m.name}`;
  }
  const bootInfo = session.loaded.bootInfo / 4096;
  if (bootInfo < frames) owner[bootInfo] = 'boot information';
  const found = physmem(session);
  const snapshot = typeof found === 'string' ? null : found;
  if (snapshot) {
    const byNumber = new Map(snapshot.frames.map((f) => [f.number, f] as const));
    for (const f of snapshot.frames) owner[f.physical / 4096] = 'physmem: free';
    for (const c of snapshot.containers) {
      for (const slot of c.slots) {
        const frame = slot.frame >= 0 ? byNumber.get(slot.frame) : undefined;
        if (!frame) continue;
        const at = frame.physical / 4096;
        owner[at] = owner[at] === 'physmem: free' ? `physmem: container ${c.id} of task ${c.owner}` : `${owner[at]}, shared`;
      }
    }
  }
  const mdb = kernel.mdb;
  const sigma0 = kernel.sigma0Space?.id ?? -2;
  const spaces = new Map(kernel.spaces.map((s) => [s.id, s] as const));
  for (let f = 0; f < frames; f++) {
    if (owner[f] !== undefined) continue;
    const root = mdb.lookup(-1, f * 4096);
    const holders = root ? [...new Set(mappingsOfFrame(mdb, root, f * 4096).filter((n) => n.depth === 1 || (n.depth === 2 && n.parent?.space === sigma0)).map((n) => n.space))].filter((s) => s !== sigma0) : [];
    owner[f] = holders.length === 0 ? 'sigma0' : `sigma0 -> ${holders.map((s) => (spaces.get(s) ? spaceName(session, spaces.get(s)!) : `space ${s}`)).join(', ')}`;
  }
  const rows: string[][] = [];
  const totals = new Map<string, number>();
  for (let f = 0; f < frames; ) {
    let end = f + 1;
    while (end < frames && owner[end] === owner[f]) end++;
    rows.push([`${hex32(f * 4096)}-${hex32(end * 4096 - 1)}`, `${end - f}`.padStart(6), owner[f]!]);
    const group = owner[f]!.startsWith('boot ') ? 'boot modules and information' : owner[f]!.startsWith('physmem: container') ? 'physmem: containers' : owner[f]!;
    totals.set(group, (totals.get(group) ?? 0) + end - f);
    f = end;
  }
  const summary = [...totals.entries()].map(([name, count]) => [`  ${name}`, String(count), `${(count * 4).toLocaleString('en-US')} KiB`]);
  const heading = `${frames} frames of 4 KiB${snapshot ? '' : typeof found === 'string' ? ` (physmem's frames not shown: ${found})` : ' (no physmem in this image)'}:`;
  return [heading, ...table(rows), 'by owner:', ...table(summary)];
}

export function showContainers(session: MachineSession, taskText: string | undefined): string[] {
  const snapshot = physmem(session);
  if (typeof snapshot === 'string') throw new CommandError(snapshot);
  if (!snapshot) return ['no physmem in this image, or it has not started yet'];
  const task = taskText === undefined ? null : parseNumber(taskText, 'a task', 0x3fff);
  if (task !== null && !snapshot.tasks.some((t) => t.task === task) && !snapshot.containers.some((c) => c.owner === task)) {
    throw new CommandError(`physmem knows no task ${task} (the tasks it knows: ${snapshot.tasks.map((t) => t.task).join(', ')})`);
  }
  const s = snapshot.stats;
  const out = [`physmem: ${s.total} frames, ${s.free} free, ${s.allocated} allocated, ${s.reserved} reserved (no frame yet), ${s.guaranteed} guaranteed, ${s.extra} extra`];
  const tasks = snapshot.tasks.filter((t) => task === null || t.task === task);
  out.push(...table([['task', 'committed', 'guarantee', 'extra', 'reclaim thread'], ...tasks.map((t) => [String(t.task), String(t.committed), String(t.guarantee), String(t.extra), t.reclaimThread ? threadName(t.reclaimThread) : '-'])]));
  const containers = snapshot.containers.filter((c) => task === null || c.owner === task || c.references.some((r) => r.task === task));
  if (containers.length === 0) return [...out, task === null ? 'no containers' : `no containers of task ${task}`];
  const rows = [['container', 'owner', 'frames', 'filled', 'shared', 'version', 'lock', 'references']];
  for (const c of containers) {
    const filled = c.slots.filter((x) => x.frame >= 0).length;
    const shared = c.slots.filter((x) => x.sharedPage).length;
    const lock = c.lock ? `task ${c.lock.holder}${c.lock.physical ? ' physical' : ''}${c.lock.unmapOthers ? ' unmap-others' : ''}${Number.isFinite(c.lock.deadline) ? ` until ${c.lock.deadline}` : ''}` : '-';
    const refs = c.references.map((r) => `task ${r.task} #${r.handle}${r.weak ? ' weak' : ''}`).join(', ');
    rows.push([String(c.id), String(c.owner), String(c.slots.length), String(filled), String(shared), String(c.version), lock, refs || '-']);
  }
  return [...out, ...table(rows)];
}

/** Each program module's libhurd-mm pagers, as its introspection gives them, and what was unusable. */
function pagersOf(session: MachineSession): { found: { module: string; tasks: readonly TaskMemorySnapshot[] }[]; problems: string[] } {
  const found: { module: string; tasks: readonly TaskMemorySnapshot[] }[] = [];
  const problems: string[] = [];
  for (const m of session.loaded.modules) {
    if (m.kind !== 'program') continue;
    const got = introspection(session, m.name);
    if ('error' in got) {
      problems.push(got.error);
      continue;
    }
    const snapshot = asMmSnapshot(got.value);
    if (typeof snapshot === 'string') problems.push(`module ${m.name}'s introspection is not libhurd-mm's: ${snapshot}`);
    else if (snapshot) found.push({ module: m.name, tasks: snapshot.tasks });
  }
  return { found, problems };
}

/**
 * `regions TASK`: a task's address-space regions and the state of their pages, as the
 * libhurd-mm linked into the task keeps them (libhurd-mm/introspect.ts). Without TASK: the
 * tasks that page themselves or use the central pager.
 */
export function showRegions(session: MachineSession, taskText: string | undefined): string[] {
  const { found, problems } = pagersOf(session);
  const all = found.flatMap((m) => m.tasks.map((t) => ({ module: m.module, task: t })));
  if (taskText === undefined) {
    if (all.length === 0) return [...problems, 'no task has started libhurd-mm in this image (yet)'];
    return [...problems, ...table([['task', 'module', 'pager', 'policy', 'thread', 'regions', 'resident'], ...all.map(({ module, task }) => [String(task.task), module, task.mode === 'self' ? 'self-paging' : 'central pager', task.policy || '-', task.thread ? threadName(task.thread) : '-', String(task.regions.length), task.mode === 'self' ? String(task.regions.reduce((n, r) => n + r.resident, 0)) : '-'])])];
  }
  const id = parseNumber(taskText, 'a task', 0x3fff);
  const entry = all.find((e) => e.task.task === id);
  if (!entry) throw new CommandError(`no task ${id} has started libhurd-mm${all.length ? ` (those that have: ${all.map((e) => e.task.task).join(', ')})` : ''}${problems.length ? `; ${problems.join('; ')}` : ''}`);
  const t = entry.task;
  const out = [t.mode === 'self'
    ? `task ${t.task} (${entry.module}): self-paging, policy ${t.policy}, pager thread ${threadName(t.thread)}, container ${t.container}`
    : `task ${t.task} (${entry.module}): paged by the central pager (helper thread ${t.thread ? threadName(t.thread) : '-'}); the central pager keeps its pages`];
  const s = t.stats;
  if (s) {
    out.push(`frames held ${s.framesHeld} (guaranteed ${s.guaranteed}, extra ${s.extra}), resident ${s.resident}`);
    out.push(`faults ${s.faults}, zero fills ${s.zeroFills}, page-ins ${s.pageIns}, page-outs ${s.pageOuts}, evictions ${s.evictions}, discards ${s.discards}, prefetched ${s.prefetched}, reclaims ${s.reclaims}`);
  }
  if (t.regions.length === 0) return [...out, 'no regions'];
  const rows = [['region', 'pages', 'rights', 'kind', 'policy', 'hint', 'resident', 'dirty', 'stored', 'discarded']];
  for (const r of t.regions) {
    rows.push([`${hex32(r.start)}-${hex32(r.end - 1)}`, String((r.end - r.start) / 4096), rights(r.rights), r.kind, r.policy || '-', r.sequential ? 'sequential' : '-', ...(t.mode === 'self' ? [String(r.resident), String(r.dirty), String(r.stored), String(r.discarded)] : ['-', '-', '-', '-'])]);
  }
  return [...out, ...table(rows)];
}
