// `l4hurd demo`: a tour of the machine until the kernel boots images. It builds page tables in
// emulated RAM, turns paging on, translates and accesses memory at CPL 0 and 3, takes page faults,
// shows one walk level by level, the TLB, a stale entry caught by the stale-translation check,
// and the counters. The output is deterministic.

import { Machine } from '../emulator/machine.ts';
import { PhysicalMemory } from '../emulator/memory.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { Op, ProgramEnv } from '../libl4/abi.ts';
import { pageTouch } from '../servers/demo/page-touch.ts';
import { pingPong } from '../servers/demo/pingpong.ts';
import { sigma0 } from '../servers/sigma0.ts';
import { Access, Mmu, PageFault, type MmuCounters, type TranslationView } from '../emulator/mmu.ts';
import { PageTableBuilder } from '../emulator/page-table-builder.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PG_G, PG_P, PG_RW, PG_US, describeErrorCode, hex32 } from '../emulator/paging.ts';

const KERNEL_BASE = 0xc0000000;
const USER_BASE = 0x00400000;

/** The whole demo: the machine tour, then the kernel running sigma0 and two programs. */
export function runDemo(profileName = 'p3'): string {
  return runMachineDemo(profileName) + '\n' + runKernelDemo(profileName);
}

/**
 * The kernel on the machine: sigma0, and a root task that starts a page-touch task (each fault
 * served by a pager thread) and pings a server in another space.
 */
export function runKernelDemo(profileName = 'p3'): string {
  const machine = new Machine({ ramBytes: 64 * 1024 * 1024, profile: profileName, checkStale: true });
  const touch = pageTouch({ pages: 256, report: true });
  const ping = pingPong({ rounds: 1000 });
  function* root(env: ProgramEnv): Op<void> {
    yield* env.print('root: starting a page-touch task (256 pages) and a pingpong server\n');
    yield* touch(env);
    yield* ping(env);
    yield* env.print('root: done\n');
  }
  const kernel = new Kernel(machine, { root, sigma0 });
  machine.console.write(`l4hurd kernel demo: ${machine.profile.name}, ${machine.physical.size / (1024 * 1024)} MiB RAM, kernel memory ${kernel.kmem.size / (1024 * 1024)} MiB at ${hex32(kernel.kmem.base)}\n`);
  const result = kernel.run({ maxCycles: 1e10 });
  const lines = [machine.console.output.trimEnd()];
  lines.push(`run ended: ${result.reason} after ${result.cycles} cycles (${(result.cycles / machine.profile.clockHz * 1e3).toFixed(3)} ms of emulated time)`);
  lines.push('kernel counters:');
  for (const [name, value] of Object.entries(kernel.counters)) lines.push(`  ${name.padEnd(22)} ${value}`);
  lines.push('machine counters:');
  lines.push(formatCounters(machine.cpu.counters));
  const problems = kernel.checkInvariants();
  lines.push(problems.length === 0 ? 'page tables and mapping database agree' : `INVARIANT PROBLEMS:\n${problems.join('\n')}`);
  return lines.join('\n') + '\n';
}

/** A tour of the MMU on its own. */
export function runMachineDemo(profileName = 'p3'): string {
  const out: string[] = [];
  const say = (line = ''): void => void out.push(line);

  const memory = new PhysicalMemory(64 * 1024 * 1024);
  const mmu = new Mmu(memory, { profile: profileName, checkStale: true });
  const profile = mmu.profile;
  say(`l4hurd machine demo: ${profile.description}`);
  say(`RAM ${memory.size / (1024 * 1024)} MiB; page directory at ${hex32(0x1000)}, page tables from ${hex32(0x10000)}`);
  say();

  // The kernel's 16 MiB, supervisor-only and global, as 4 MiB pages where the CPU has them.
  const tables = new PageTableBuilder(memory, 0x1000, 0x10000, 0x100000);
  for (let offset = 0; offset < 16 * 1024 * 1024; offset += profile.pse ? 4 * 1024 * 1024 : 4096) {
    if (profile.pse) tables.mapLarge(KERNEL_BASE + offset, offset, PG_RW | PG_G);
    else tables.map(KERNEL_BASE + offset, offset, PG_RW);
  }
  // A user task: 8 writable pages and one read-only page.
  for (let i = 0; i < 8; i++) tables.map(USER_BASE + i * 4096, 0x800000 + i * 4096, PG_RW | PG_US);
  const readOnlyPte = tables.map(USER_BASE + 8 * 4096, 0x808000, PG_US);

  if (profile.hasCr4) mmu.cr4 = (profile.pse ? CR4_PSE : 0) | (profile.pge ? CR4_PGE : 0);
  mmu.cr3 = tables.directory;
  mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
  say(`CR0 ${hex32(mmu.cr0)}  CR3 ${hex32(mmu.cr3)}  CR4 ${hex32(mmu.cr4)}`);
  say();

  say('walk of a user address, level by level (peek: no A/D, TLB or counter changes):');
  say(formatWalk(mmu.peek(USER_BASE + 0x123, Access.Write, 3)));
  say();

  say('accesses:');
  const attempt = (label: string, action: () => string): void => {
    try {
      say(`  ${label.padEnd(44)} ${action()}`);
    } catch (error) {
      if (!(error instanceof PageFault)) throw error;
      say(`  ${label.padEnd(44)} #PF ${describeErrorCode(error.errorCode)}, CR2 ${hex32(mmu.cr2)}`);
    }
  };
  attempt('user write 0x11223344 to 0x00400000', () => (mmu.write32(USER_BASE, 0x11223344, 3), 'ok'));
  attempt('user read of 0x00400000', () => hex32(mmu.read32(USER_BASE, 3)));
  attempt('kernel read of the same byte via the kernel map', () => hex32(mmu.read32(KERNEL_BASE + 0x800000, 0)));
  attempt('user read of kernel memory', () => hex32(mmu.read32(KERNEL_BASE, 3)));
  attempt('user write to the read-only page', () => (mmu.write32(USER_BASE + 8 * 4096, 1, 3), 'ok'));
  attempt('user read of an unmapped page', () => hex32(mmu.read32(USER_BASE + 9 * 4096, 3)));
  for (let round = 0; round < 3; round++) for (let i = 0; i < 8; i++) mmu.read32(USER_BASE + i * 4096 + round * 4, 3);
  say('  24 more user reads over the 8 writable pages');
  say();

  say('a forgotten INVLPG: the read-only page is remapped without one, then read');
  mmu.read32(USER_BASE + 8 * 4096, 3);
  tables.setEntry(readOnlyPte, 0x809000 | PG_P | PG_US);
  mmu.read32(USER_BASE + 8 * 4096, 3);
  for (const stale of mmu.staleTranslations) {
    say(`  stale ${stale.reason} at ${hex32(stale.linear)}, cycle ${stale.cycle}: TLB says ${hex32(stale.cached.physical)}, tables say ${stale.current ? hex32(stale.current.physical) : 'not present'}`);
  }
  mmu.invlpg(USER_BASE + 8 * 4096);
  say();

  say('TLB contents:');
  for (const e of mmu.tlbEntries()) {
    const flags = `${e.writable ? 'W' : '-'}${e.user ? 'U' : 'S'}${e.dirty ? 'D' : '-'}${e.global ? 'G' : '-'}`;
    say(`  ${e.tlb.padEnd(4)} set ${String(e.set).padStart(2)} way ${e.way}  ${hex32(e.linear)} -> ${hex32(e.physical)}  ${e.large ? '4M' : '4K'} ${flags}`);
  }
  say();
  say('counters:');
  say(formatCounters(mmu.counters));
  return out.join('\n') + '\n';
}

function formatWalk(view: TranslationView): string {
  const lines: string[] = [];
  if (view.pde) lines.push(`  PDE at ${hex32(view.pde.address)} = ${hex32(view.pde.value)}`);
  if (view.pte) lines.push(`  PTE at ${hex32(view.pte.address)} = ${hex32(view.pte.value)}`);
  lines.push(
    view.physical !== null
      ? `  ${hex32(view.linear)} -> ${hex32(view.physical)} (${view.pageSize === 4096 ? '4 KiB' : '4 MiB'} page, ${view.writable ? 'writable' : 'read-only'}, ${view.user ? 'user' : 'supervisor'})`
      : `  ${hex32(view.linear)} would fault: ${describeErrorCode(view.errorCode ?? 0)}`,
  );
  return lines.join('\n');
}

export function formatCounters(counters: MmuCounters): string {
  return Object.entries(counters)
    .map(([name, value]) => `  ${name.padEnd(22)} ${value}`)
    .join('\n');
}
