// Paging as the hardware and the kernel see it: one translation level by level (`page`), a
// space's tables merged into linear-to-physical ranges (`tab`, like Bochs's info tab), the
// modelled TLB by set and way (`tlb`), and a frame's mapping-database tree (`mapping`). All of
// it from RAM, the TLB's arrays and the kernel's structures, without side effects: walks are
// the MMU's peek, which sets no A/D bit and touches no TLB entry or counter.

import { Access, type AccessKind, type Cpl } from '../../emulator/paging.ts';
import type { Tlb } from '../../emulator/tlb.ts';
import type { Space } from '../../kernel/generic/thread.ts';
import { CommandError, hex32, parseNumber, rights, table } from './format.ts';
import type { MachineSession } from './machine-session.ts';
import { ram32, spaceArgument, spaceName } from './show-state.ts';

/** An entry's bits by name (reference/ia32-paging.md). */
export function entryBits(value: number, leaf: boolean, large: boolean): string {
  const names: Array<[number, string]> = [[1, 'P'], [2, 'RW'], [4, 'US'], [8, 'PWT'], [0x10, 'PCD'], [0x20, 'A']];
  if (leaf) names.push([0x40, 'D']);
  if (!leaf || large) names.push([0x80, 'PS']);
  if (leaf) names.push([0x100, 'G']);
  const set = names.filter(([bit]) => value & bit).map(([, name]) => name);
  const avl = (value >>> 9) & 7;
  if (avl) set.push(`AVL=${avl}`);
  return set.join(' ') || '-';
}

function outcome(session: MachineSession, space: Space, linear: number, kind: AccessKind, cpl: Cpl): string {
  const view = session.machine.cpu.peekIn(space.pageDirectory, linear, kind, cpl);
  return view.physical !== null ? 'ok' : `#PF error ${view.errorCode}`;
}

export function showPage(session: MachineSession, target: string | undefined): string[] {
  const colon = target?.indexOf(':') ?? -1;
  if (target === undefined || colon < 0) throw new CommandError('page needs SPACE:ADDR');
  const space = spaceArgument(session, target.slice(0, colon));
  const linear = parseNumber(target.slice(colon + 1), 'an address');
  const cpu = session.machine.cpu;
  const view = cpu.peekIn(space.pageDirectory, linear, Access.Read, 0);
  const pse = (cpu.cr4 & 0x10) !== 0;
  const out = [`${spaceName(session, space)}, linear ${hex32(linear)}, page directory ${hex32(space.pageDirectory)}`];
  const pde = view.pde!;
  const large = pse && (pde.value & 0x80) !== 0;
  out.push(`  PDE ${(linear >>> 22).toString().padStart(4)} at ${hex32(pde.address)} = ${hex32(pde.value)}  ${entryBits(pde.value, large, large)}${pde.value & 1 ? (large ? ` -> 4 MiB page ${hex32(pde.value & 0xffc00000)}` : ` -> page table ${hex32(pde.value & ~0xfff)}`) : ' (not present)'}`);
  if (view.pte) {
    const pte = view.pte;
    out.push(`  PTE ${((linear >>> 12) & 0x3ff).toString().padStart(4)} at ${hex32(pte.address)} = ${hex32(pte.value)}  ${entryBits(pte.value, true, false)}${pte.value & 1 ? ` -> frame ${hex32(pte.value & ~0xfff)}` : ' (not present)'}`);
  }
  if (view.physical !== null) {
    out.push(`  ${hex32(linear)} -> physical ${hex32(view.physical)} (${view.pageSize === 4096 ? '4 KiB' : '4 MiB'} page, ${view.user ? 'user' : 'supervisor'}, ${view.writable ? 'writable' : 'read-only'})`);
  } else {
    out.push(`  not mapped: a read would fault with error code ${view.errorCode}${view.errorCode! & 8 ? ' (reserved bits)' : ''}`);
  }
  out.push(`  user read ${outcome(session, space, linear, Access.Read, 3)}, user write ${outcome(session, space, linear, Access.Write, 3)}, kernel read ${outcome(session, space, linear, Access.Read, 0)}, kernel write ${outcome(session, space, linear, Access.Write, 0)}`);
  return out;
}

interface Range {
  linear: number;
  physical: number;
  size: number;
  flags: string;
  large: boolean;
}

export function showTable(session: MachineSession, text: string | undefined): string[] {
  const space = spaceArgument(session, text);
  const directory = space.pageDirectory;
  const pse = (session.machine.cpu.cr4 & 0x10) !== 0;
  const pge = (session.machine.cpu.cr4 & 0x80) !== 0;
  const ranges: Range[] = [];
  const add = (linear: number, physical: number, size: number, flags: string, large: boolean): void => {
    const last = ranges[ranges.length - 1];
    if (last && last.flags === flags && last.large === large && last.linear + last.size === linear && last.physical + last.size === physical) last.size += size;
    else ranges.push({ linear, physical, size, flags, large });
  };
  const flagsOf = (pde: number, leaf: number): string => {
    const user = pde & leaf & 4 ? 'user' : 'kernel';
    const write = pde & leaf & 2 ? 'rw' : 'r-';
    return `${user} ${write}${pge && leaf & 0x100 ? ' global' : ''}`;
  };
  for (let i = 0; i < 1024; i++) {
    const pde = ram32(session.machine, directory + 4 * i) ?? 0;
    if (!(pde & 1)) continue;
    const base = i * 0x400000;
    if (pse && pde & 0x80) {
      add(base, (pde & 0xffc00000) >>> 0, 0x400000, flagsOf(pde, pde), true);
      continue;
    }
    const pageTable = (pde & ~0xfff) >>> 0;
    for (let j = 0; j < 1024; j++) {
      const pte = ram32(session.machine, pageTable + 4 * j) ?? 0;
      if (pte & 1) add(base + j * 4096, (pte & ~0xfff) >>> 0, 4096, flagsOf(pde, pte), false);
    }
  }
  if (ranges.length === 0) return [`${spaceName(session, space)}: nothing mapped`];
  const rows = ranges.map((r) => [`${hex32(r.linear)}-${hex32(r.linear + r.size - 1)}`, '->', `${hex32(r.physical)}-${hex32(r.physical + r.size - 1)}`, r.flags, r.large ? `${r.size / 0x400000} x 4 MiB` : `${r.size / 4096} x 4 KiB`]);
  return [`${spaceName(session, space)}, page directory ${hex32(directory)}:`, ...table(rows)];
}

function describeTlb(tlb: Tlb): string {
  const small = `${tlb.smallEntries} x 4 KiB (${tlb.smallEntries / tlb.smallWays} sets of ${tlb.smallWays})`;
  const large = tlb.largeEntries ? ` + ${tlb.largeEntries} x 4 MiB (${tlb.largeEntries / tlb.largeWays} sets of ${tlb.largeWays})` : '';
  return `${small}${large}`;
}

export function showTlb(session: MachineSession, addressText: string | undefined): string[] {
  const cpu = session.machine.cpu;
  const only = addressText === undefined ? null : parseNumber(addressText, 'a linear address');
  const sides = cpu.instructionTlb === cpu.dataTlb ? [cpu.dataTlb] : [cpu.dataTlb, cpu.instructionTlb];
  const out: string[] = [];
  for (const tlb of sides) {
    const entries = tlb.entriesView();
    out.push(`${tlb.name}: ${describeTlb(tlb)}, ${cpu.profile.replacement === 'plru' ? 'tree pseudo-LRU' : 'LRU'}; ${entries.length} valid`);
    const sets = new Map<string, typeof entries>();
    const wanted = (e: (typeof entries)[number]): boolean => only === null || (e.large ? only >>> 22 === e.linear >>> 22 : only >>> 12 === e.linear >>> 12);
    for (const e of entries) {
      const key = `${e.large ? 'L' : 'S'}${e.set}`;
      const list = sets.get(key) ?? [];
      list.push(e);
      sets.set(key, list);
    }
    const rows: string[][] = [];
    const keys = [...sets.keys()].sort((a, b) => (a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a[0] === 'S' ? -1 : 1));
    for (const key of keys) {
      const list = sets.get(key)!;
      const large = key[0] === 'L';
      const set = Number(key.slice(1));
      const byAge = [...list].sort((a, b) => b.lastUse - a.lastUse);
      const victim = tlb.nextVictim(set, large);
      const full = list.length === (large ? tlb.largeWays : tlb.smallWays);
      for (const e of [...list].sort((a, b) => a.way - b.way).filter(wanted)) {
        const view = cpu.peek(e.linear, Access.Read, 0);
        const now = view.physical === null ? null : (view.physical & ~(e.large ? 0x3fffff : 0xfff)) >>> 0;
        const stale = now === null ? 'STALE (tables: not mapped)' : now !== e.physical ? `STALE (tables: ${hex32(now)})` : view.writable !== e.writable || view.user !== e.user ? 'STALE (tables: other rights)' : '';
        const flags = [e.user ? 'user' : 'kernel', e.writable ? 'rw' : 'r-', e.dirty ? 'dirty' : '', e.global ? 'global' : ''].filter((f) => f).join(' ');
        rows.push([`  ${large ? '4M ' : ''}set ${set}`, `way ${e.way}`, `${hex32(e.linear)} -> ${hex32(e.physical)}`, flags, `use ${byAge.indexOf(e) + 1} of ${list.length}${full && e.slot === victim ? ', next out' : ''}`, stale]);
      }
    }
    if (rows.length === 0) out.push(only === null ? '  (empty)' : `  nothing for ${hex32(only)}`);
    else out.push(...table(rows));
  }
  out.push('(use 1 is the most recently used; next out: the way the next fill of a full set replaces; STALE: the tables in CR3 now say otherwise)');
  return out;
}

export function showMapping(session: MachineSession, text: string | undefined): string[] {
  const colon = text?.indexOf(':') ?? -1;
  let address: number;
  let through = '';
  if (text !== undefined && colon >= 0) {
    // SPACE:ADDR: the frame that linear address maps to in that space, found without side effects.
    const space = spaceArgument(session, text.slice(0, colon));
    const linear = parseNumber(text.slice(colon + 1), 'an address');
    const view = session.machine.cpu.peekIn(space.pageDirectory, linear, Access.Read, 0);
    if (view.physical === null) return [`${spaceName(session, space)}, linear ${hex32(linear)}: not mapped, so in no frame's tree`];
    address = view.physical;
    through = `${spaceName(session, space)}, linear ${hex32(linear)}: `;
  } else {
    address = parseNumber(text, 'a physical address or SPACE:ADDR');
  }
  const mdb = session.kernel.mdb;
  const root = mdb.lookup(-1, address);
  if (!root) return [`${through}frame ${hex32(address & ~0xfff)}: in no mapping tree (no space holds it)`];
  const spaces = new Map(session.kernel.spaces.map((s) => [s.id, s] as const));
  const out = [`${through}frame ${hex32(root.frame)} (${root.log2Size === 12 ? '4 KiB' : '4 MiB'}), the root of its mapping tree:`];
  for (const node of mdb.subtree(root)) {
    if (node.space === -1) continue;
    const space = spaces.get(node.space);
    const name = space ? spaceName(session, space) : `space ${node.space}`;
    const size = node.log2Size === 12 ? '' : ' (4 MiB)';
    out.push(`${'  '.repeat(node.depth)}${name} at ${hex32(node.address)}${size} ${rights(node.rights)}`);
  }
  if (out.length === 1) out.push('  (no space maps it)');
  return out;
}
