// The debugger's views of the MMU on a machine built by hand: the TLB by set and way (the LRU
// order, the way the next fill takes, a STALE entry after a PTE changed without INVLPG) and the
// physical dump's xxd layout, checked against what the accesses made must have left.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../emulator/machine.ts';
import { PageTableBuilder } from '../../emulator/page-table-builder.ts';
import { Access, CR0_PE, CR0_PG, PG_P, PG_RW, PG_US } from '../../emulator/paging.ts';
import type { MachineSession } from '../../tools/debug/machine-session.ts';
import { examinePhysical, parseFormat } from '../../tools/debug/show-memory.ts';
import { showTlb } from '../../tools/debug/show-paging.ts';

function machine(): { machine: Machine; tables: PageTableBuilder; session: MachineSession } {
  const m = new Machine({ ramBytes: 8 * 1024 * 1024 });
  const tables = new PageTableBuilder(m.physical, 0x1000, 0x2000, 0x10000);
  // Five pages in DTLB set 1 of the p3's 16 sets (page numbers 1, 17, 33, 49, 65).
  for (const page of [1, 17, 33, 49, 65]) tables.map(page * 4096, 0x100000 + page * 4096, PG_P | PG_RW | PG_US);
  m.cpu.cr3 = 0x1000;
  m.cpu.cr0 = CR0_PE | CR0_PG;
  return { machine: m, tables, session: { machine: m } as unknown as MachineSession };
}

describe('tlb', () => {
  it('lists a full set in way order with its LRU ranks, marks the next victim, and shows an eviction', () => {
    const { machine: m, session } = machine();
    for (const page of [1, 17, 33, 49]) m.cpu.translate(page * 4096, Access.Read, 3);
    m.cpu.translate(17 * 4096, Access.Read, 3); // 17 is now the most recent, 1 the least
    const before = showTlb(session, undefined).join('\n');
    expect(before).toMatch(/set 1 +way 0 +0x00001000 -> 0x00101000 +user rw +use 4 of 4, next out/);
    expect(before).toMatch(/set 1 +way 1 +0x00011000 -> 0x00111000 +user rw +use 1 of 4\n/);
    expect(before).toMatch(/set 1 +way 3 +0x00031000 -> 0x00131000 +user rw +use 2 of 4\n/);
    m.cpu.translate(65 * 4096, Access.Write, 3); // evicts page 1, the next victim
    const after = showTlb(session, undefined).join('\n');
    expect(after).toMatch(/set 1 +way 0 +0x00041000 -> 0x00141000 +user rw dirty +use 1 of 4\n/);
    expect(after).not.toContain('0x00001000 ->');
    expect(after).toMatch(/set 1 +way 2 +0x00021000 -> 0x00121000 +user rw +use 4 of 4, next out/);
    // With ADDR, only that page's entry, ranked within its whole set.
    const one = showTlb(session, '0x00021000').join('\n');
    expect(one).toMatch(/^ {2}set 1 +way 2 +0x00021000 .+use 4 of 4, next out$/m);
    expect(one.match(/^ {2}set /gm)).toHaveLength(1);
  });

  it('marks an entry STALE when the tables changed without INVLPG, and not after the flush', () => {
    const { machine: m, tables, session } = machine();
    m.cpu.translate(33 * 4096, Access.Read, 3);
    tables.setEntry(tables.pteAddress(33 * 4096), 0x300000 | PG_P | PG_RW | PG_US);
    expect(showTlb(session, undefined).join('\n')).toMatch(/0x00021000 -> 0x00121000 .+STALE \(tables: 0x00300000\)/);
    tables.setEntry(tables.pteAddress(33 * 4096), 0);
    expect(showTlb(session, undefined).join('\n')).toMatch(/0x00021000 -> 0x00121000 .+STALE \(tables: not mapped\)/);
    m.cpu.invlpg(33 * 4096);
    expect(showTlb(session, undefined).join('\n')).not.toContain('STALE (tables');
  });

  it('changes nothing it looks at', () => {
    const { machine: m, session } = machine();
    for (const page of [1, 17, 33, 49, 65, 17]) m.cpu.translate(page * 4096, Access.Read, 3);
    const counters = m.cpu.counters;
    const entries = m.cpu.tlbEntries();
    const ram = Buffer.from(m.physical.bytes).toString('base64');
    showTlb(session, undefined);
    showTlb(session, '0x00011000');
    expect(m.cpu.counters).toEqual(counters);
    expect(m.cpu.tlbEntries()).toEqual(entries);
    expect(Buffer.from(m.physical.bytes).toString('base64')).toBe(ram);
  });
});

describe('xp', () => {
  it('dumps like xxd: 16-byte aligned lines, blanks outside the range, an ASCII column, words little-endian', () => {
    const { machine: m, session } = machine();
    m.physical.writeBytes(0x200000, new TextEncoder().encode('Hello, L4 world!'));
    m.physical.write32(0x200010, 0x11223344);
    const bytes = examinePhysical(session, parseFormat('xp').format, '0x200004', '20').lines;
    expect(bytes).toEqual([
      '0x00200000:             6f 2c 20 4c  34 20 77 6f 72 6c 64 21      o, L4 world!',
      '0x00200010: 44 33 22 11 00 00 00 00                           D3".....',
    ]);
    expect(examinePhysical(session, parseFormat('xp/xw').format, '0x200010', '2').lines).toEqual(['0x00200010: 11223344 00000000']);
    expect(examinePhysical(session, parseFormat('xp/c').format, '0x200000', '5').lines).toEqual(['0x00200000: Hello']);
    expect(examinePhysical(session, parseFormat('xp/dh').format, '0x200010', '2').lines).toEqual(['0x00200010:  13124   4386']);
    // Past the end of RAM (8 MiB): said once for the whole stretch.
    expect(examinePhysical(session, parseFormat('xp').format, '0x7ffff8', '40').lines).toEqual([
      '0x007ffff0:                          00 00 00 00 00 00 00 00          ........',
      '0x00800000-0x0080001f: no RAM there',
    ]);
  });
});
