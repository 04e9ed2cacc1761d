// `x` and `xp`: memory dumps, of a space's linear addresses (translated through that space's own
// tables by the MMU's side-effect-free peek: no A/D bit, TLB entry or counter changes) and of
// physical addresses. Laid out like xxd: each line one 16-byte-aligned block, the bytes outside
// the asked range left blank, and an ASCII column for byte dumps.
//
//   FMT: a size, b (bytes, the default), h (16-bit halves) or w (32-bit words), and a form, x
//   (hex, the default), d (signed decimal), u (unsigned decimal) or c (ASCII characters); N is
//   the number of units (default: 64 bytes' worth).

import { Access } from '../../emulator/paging.ts';
import { CommandError, hex32, parseCount, parseNumber } from './format.ts';
import type { MachineSession } from './machine-session.ts';
import { spaceArgument, spaceName } from './show-state.ts';

export interface DumpFormat {
  readonly size: 1 | 2 | 4;
  readonly form: 'x' | 'd' | 'u' | 'c';
}

export function parseFormat(command: string): { readonly name: string; readonly format: DumpFormat } {
  const slash = command.indexOf('/');
  const name = slash < 0 ? command : command.slice(0, slash);
  if (slash < 0) return { name, format: { size: 1, form: 'x' } };
  let size: 1 | 2 | 4 = 1;
  let form: DumpFormat['form'] = 'x';
  const letters = command.slice(slash + 1);
  if (letters === '') throw new CommandError(`${name}/ needs a format: b, h or w and x, d, u or c`);
  for (const letter of letters) {
    if (letter === 'b') size = 1;
    else if (letter === 'h') size = 2;
    else if (letter === 'w') size = 4;
    else if (letter === 'x' || letter === 'd' || letter === 'u' || letter === 'c') form = letter;
    else throw new CommandError(`unknown format letter '${letter}' in ${command}: sizes b h w, forms x d u c`);
  }
  if (form === 'c' && size !== 1) throw new CommandError(`${command}: characters (c) are bytes`);
  return { name, format: { size, form } };
}

/** Where each byte of a dump comes from: a physical address, or why there is none. */
type Source = (linear: number) => number | string;

const MAX_BYTES = 1 << 16;

function dump(session: MachineSession, start: number, count: number, format: DumpFormat, source: Source): string[] {
  const bytes = count * format.size;
  if (bytes > MAX_BYTES) throw new CommandError(`at most ${MAX_BYTES} bytes at once`);
  if (start + bytes > 2 ** 32) throw new CommandError('the range runs past the end of the address space');
  const ram = session.machine.physical;
  const byteAt = (address: number): number | string => {
    const pa = source(address);
    if (typeof pa === 'string') return pa;
    return pa < ram.size ? ram.bytes[pa]! : 'no RAM there';
  };
  const out: string[] = [];
  const end = start + bytes;
  let gap: { from: number; to: number; why: string } | null = null;
  const flushGap = (): void => {
    if (!gap) return;
    out.push(gap.to - gap.from > 16 ? `${hex32(gap.from)}-${hex32(gap.to - 1)}: ${gap.why}` : `${hex32(gap.from)}: ${gap.why}`);
    gap = null;
  };
  for (let line = start - (start % 16); line < end; line += 16) {
    const values: Array<number | string | null> = [];
    for (let i = 0; i < 16; i++) {
      const a = line + i;
      values.push(a < start || a >= end ? null : byteAt(a));
    }
    const missing = values.find((v): v is string => typeof v === 'string');
    if (missing !== undefined && values.every((v) => v === null || typeof v === 'string')) {
      const from = Math.max(line, start);
      const to = Math.min(line + 16, end);
      if (gap && gap.why === missing && gap.to === from) gap.to = to;
      else {
        flushGap();
        gap = { from, to, why: missing };
      }
      continue;
    }
    flushGap();
    out.push(formatLine(line, values, format));
  }
  flushGap();
  return out;
}

function formatLine(line: number, values: ReadonlyArray<number | string | null>, format: DumpFormat): string {
  const cells: string[] = [];
  const width = format.form === 'x' ? format.size * 2 : format.form === 'c' ? 1 : format.size === 1 ? 4 : format.size === 2 ? 6 : 11;
  for (let i = 0; i < 16; i += format.size) {
    const part = values.slice(i, i + format.size);
    if (part.every((v) => v === null)) {
      cells.push(' '.repeat(width));
      continue;
    }
    if (part.some((v) => typeof v !== 'number')) {
      cells.push('?'.repeat(width));
      continue;
    }
    let value = 0;
    part.forEach((v, k) => (value += (v as number) * 2 ** (8 * k)));
    if (format.form === 'x') cells.push(value.toString(16).padStart(width, '0'));
    else if (format.form === 'u') cells.push(String(value).padStart(width));
    else if (format.form === 'd') cells.push(String(value >= 2 ** (8 * format.size - 1) ? value - 2 ** (8 * format.size) : value).padStart(width));
    else cells.push(printable(value));
  }
  const joined = format.form === 'c' ? cells.join('') : format.size === 1 && format.form === 'x' ? `${cells.slice(0, 8).join(' ')}  ${cells.slice(8).join(' ')}` : cells.join(' ');
  const ascii = format.size === 1 && format.form === 'x' ? `  ${values.map((v) => (v === null ? ' ' : typeof v === 'number' ? printable(v) : '?')).join('')}` : '';
  return `${hex32(line)}: ${joined}${ascii}`.trimEnd();
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.';
}

function unitCount(text: string | undefined, format: DumpFormat): number {
  return parseCount(text, 'the number of units', 64 / format.size, MAX_BYTES);
}

/** `x[/FMT] SPACE:ADDR [N]`. Returns the lines and the address after the dump (for a repeat). */
export function examineLinear(session: MachineSession, format: DumpFormat, target: string | undefined, countText: string | undefined): { readonly lines: string[]; readonly next: number } {
  const colon = target?.indexOf(':') ?? -1;
  if (target === undefined || colon < 0) throw new CommandError('x needs SPACE:ADDR (a space number or a thread, a colon, an address)');
  const space = spaceArgument(session, target.slice(0, colon));
  const address = parseNumber(target.slice(colon + 1), 'an address');
  const count = unitCount(countText, format);
  const cpu = session.machine.cpu;
  const pages = new Map<number, number | string>();
  const source: Source = (linear) => {
    const page = linear >>> 12;
    let base = pages.get(page);
    if (base === undefined) {
      const view = cpu.peekIn(space.pageDirectory, page << 12 >>> 0, Access.Read, 0);
      base = view.physical !== null ? view.physical : view.pte === null ? 'not mapped (no page table)' : 'not mapped (PTE not present)';
      if (view.physical === null && view.errorCode !== null && view.errorCode & 8) base = 'not mapped (reserved bits set)';
      pages.set(page, base);
    }
    return typeof base === 'string' ? base : base + (linear & 0xfff);
  };
  const lines = dump(session, address, count, format, source);
  return { lines: [`${spaceName(session, space)}, linear:`, ...lines], next: address + count * format.size };
}

/** `xp[/FMT] ADDR [N]`. */
export function examinePhysical(session: MachineSession, format: DumpFormat, addressText: string | undefined, countText: string | undefined): { readonly lines: string[]; readonly next: number } {
  const address = parseNumber(addressText, 'a physical address');
  const count = unitCount(countText, format);
  return { lines: dump(session, address, count, format, (pa) => pa), next: address + count * format.size };
}
