// The console's views of the kernel's objects and the CPU: threads, spaces, a thread's registers
// (its program position, and its UTCB's MRs, BRs and TCRs decoded), the control registers, the
// counters with the names `boot --json` uses, the KIP, and where the machine is. Each reads the
// kernel's structures and RAM without side effects (RAM through its typed arrays, never through
// methods that count or report an access).

import type { Machine } from '../../emulator/machine.ts';
import type { Space, Thread } from '../../kernel/generic/thread.ts';
import { SYSCALL_NAMES, TCR_ERROR_CODE, TCR_EXCEPTION_HANDLER, TCR_INTENDED_RECEIVER, TCR_MY_GLOBAL_ID, TCR_PAGER, TCR_PREEMPT_FLAGS, TCR_PROCESSOR_NO, TCR_THREAD_WORD0, TCR_THREAD_WORD1, TCR_USER_DEFINED_HANDLE, TCR_VIRTUAL_ACTUAL_SENDER, TCR_XFER_TIMEOUTS } from '../../libl4/abi.ts';
import { bootCounters } from '../loader.ts';
import { threadMatches } from './breakpoints.ts';
import { CommandError, hex, hex32, idName, parseNumber, parseThread, table, threadName } from './format.ts';
import type { MachineSession } from './machine-session.ts';

/** A dword of RAM, or null past its end. */
export function ram32(machine: Machine, pa: number): number | null {
  const memory = machine.physical;
  pa >>>= 0;
  if (pa + 4 > memory.size) return null;
  if ((pa & 3) === 0) return memory.words[pa >>> 2]!;
  const b = memory.bytes;
  return (b[pa]! | (b[pa + 1]! << 8) | (b[pa + 2]! << 16) | (b[pa + 3]! << 24)) >>> 0;
}

/** The thread a command names: THREAD (number.version or a bare number), or the running one. */
export function threadArgument(session: MachineSession, text: string | undefined): Thread {
  if (text === undefined) {
    const running = session.runningThread !== 0 ? session.kernel.threadById(session.runningThread) : undefined;
    if (!running) throw new CommandError('no thread is running yet: name one (threads lists them)');
    return running;
  }
  const ref = parseThread(text);
  for (const t of session.kernel.threads.values()) if (threadMatches(ref, t.id)) return t;
  throw new CommandError(`no thread ${text} (threads lists them)`);
}

/** The space a SPACE argument names: a space's number as `spaces` lists it, or a thread of it. */
export function spaceArgument(session: MachineSession, text: string | undefined): Space {
  if (text === undefined || text === '') throw new CommandError('a space is needed (a space number, as spaces lists them, or a thread)');
  if (text.includes('.') || text.startsWith('0x')) return threadArgument(session, text).space;
  const id = parseNumber(text, 'a space', 1e9);
  const space = session.kernel.spaceById(id);
  if (!space) throw new CommandError(`no space ${text} (spaces lists them)`);
  return space;
}

/** What a space is called: its number and its first thread's program. */
export function spaceName(session: MachineSession, space: Space): string {
  const first = space.threads[0];
  return first ? `space ${space.id} (${programName(session, first)})` : `space ${space.id}`;
}

/** The program a thread runs: its body's module, or the body's function name. */
export function programName(session: MachineSession, thread: Thread): string {
  if (thread.interrupt) return `interrupt ${thread.interrupt.line}`;
  const named = session.loaded.bodyNames.get(thread.ip >>> 0);
  if (named) return named;
  const body = session.kernel.text.bodyAt(thread.ip);
  let name = '';
  try {
    name = body ? String(body.name) : '';
  } catch {
    name = '';
  }
  return name || hex32(thread.ip);
}

function tcr(session: MachineSession, thread: Thread, offset: number): number | null {
  return thread.utcbPhysical >= 0 ? ram32(session.machine, thread.utcbPhysical + offset) : null;
}

function states(session: MachineSession): Map<number, string> {
  const out = new Map<number, string>();
  const lines = session.kernel.threadReport();
  const threads = [...session.kernel.threads.values()].sort((a, b) => a.number - b.number);
  threads.forEach((t, i) => {
    const line = lines[i] ?? '';
    out.set(t.id, line.slice(line.indexOf(': ') + 2));
  });
  return out;
}

export function showThreads(session: MachineSession): string[] {
  const threads = [...session.kernel.threads.values()].sort((a, b) => a.number - b.number);
  if (threads.length === 0) return ['no threads'];
  const state = states(session);
  const rows = [['thread', 'space', 'program', 'state', 'pager', 'prio', 'cycles']];
  for (const t of threads) {
    const pager = tcr(session, t, TCR_PAGER);
    const running = t.id === session.runningThread && !session.ended ? '*' : ' ';
    rows.push([`${running}${threadName(t.id)}`, String(t.space.id), programName(session, t), state.get(t.id) ?? '', pager === null ? '-' : idName(pager), String(t.priority), String(t.cycles)]);
  }
  return [...table(rows), '(* the running thread)'];
}

function fpage(value: number): string {
  if (value === 0) return '-';
  const log2 = (value >>> 4) & 0x3f;
  return `${hex32(value & ~0x3ff)}/${log2}`;
}

export function showSpaces(session: MachineSession): string[] {
  const rows = [['space', 'directory', 'kip area', 'utcb area', 'pages', 'cycles', 'threads']];
  const kernel = session.kernel;
  for (const space of kernel.spaces) {
    const privileged = space === kernel.sigma0Space ? ' (sigma0)' : space === kernel.rootSpace ? ' (root)' : '';
    const threads = space.threads.filter((t) => t.alive).map((t) => `${threadName(t.id)} ${programName(session, t)}`);
    rows.push([`${space.id}${privileged}`, hex32(space.pageDirectory), fpage(space.kipArea), fpage(space.utcbArea), String(kernel.mdb.nodesOf(space.id).length), String(space.cycles), threads.join(', ') || '-']);
  }
  return table(rows);
}

const TAG_FLAGS = ['p', 'r', 'X', 'E'];

/** MR0 as a message tag. */
export function describeTag(tag: number): string {
  const flags = TAG_FLAGS.filter((_, i) => tag & (0x1000 << i)).join('') || '-';
  return `label ${hex(tag >>> 16, 4)}, untyped ${tag & 0x3f}, typed ${(tag >>> 6) & 0x3f}, flags ${flags}`;
}

const IPC_ERRORS = ['', 'timeout', 'non-existing partner', 'cancelled', 'message overflow', 'transfer timeout in own space', 'transfer timeout in partner space', 'aborted'];

function describeError(code: number): string {
  if (code === 0) return 'none';
  const ipc = (code >>> 1) & 7;
  return `${hex(code)} (if from an IPC: ${code & 1 ? 'receive' : 'send'} phase, ${IPC_ERRORS[ipc] || 'unknown'}${code >>> 4 ? `, offset ${code >>> 4}` : ''}; else error ${code})`;
}

function wordRows(label: string, first: number, values: readonly number[], perRow: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; i += perRow) {
    const cells = values.slice(i, i + perRow).map((v) => hex32(v).slice(2));
    out.push(`  ${`${label}${first + i}`.padEnd(5)} ${cells.join(' ')}`);
  }
  return out;
}

export function showRegisters(session: MachineSession, text: string | undefined): string[] {
  const t = threadArgument(session, text);
  const state = states(session).get(t.id) ?? '';
  const out = [
    `thread ${threadName(t.id)} (${programName(session, t)}) in ${spaceName(session, t.space)}: ${state}`,
    `  ip ${hex32(t.ip)} (${programName(session, t)})  sp ${hex32(t.sp)}  flags ${hex32(t.flags)}`,
    `  priority ${t.priority}, time slice ${t.remaining} of ${t.timeslice} cycles left, ${t.cycles} cycles run` + (session.inSystemCall.has(t.id) ? `, in a system call (${SYSCALL_NAMES[t.trapNumber] ?? `number ${t.trapNumber}`})` : ''),
  ];
  if (t.utcbPhysical < 0) return [...out, '  no UTCB (the thread is not activated)'];
  const read = (offset: number): number => ram32(session.machine, t.utcbPhysical + offset) ?? 0;
  out.push(`  UTCB at ${hex32(t.utcbAddress)} (physical ${hex32(t.utcbPhysical)})`);
  const tcrs: Array<[string, number, (v: number) => string]> = [
    ['MyGlobalId', TCR_MY_GLOBAL_ID, idName],
    ['ProcessorNo', TCR_PROCESSOR_NO, String],
    ['UserDefinedHandle', TCR_USER_DEFINED_HANDLE, hex32],
    ['Pager', TCR_PAGER, idName],
    ['ExceptionHandler', TCR_EXCEPTION_HANDLER, idName],
    ['PreemptFlags', TCR_PREEMPT_FLAGS, (v) => `${hex(v)}${v & 1 ? ' delay requested' : ''}${v & 2 ? ' pending' : ''}`],
    ['ErrorCode', TCR_ERROR_CODE, describeError],
    ['XferTimeouts', TCR_XFER_TIMEOUTS, (v) => `send ${hex(v >>> 16, 4)} receive ${hex(v & 0xffff, 4)}`],
    ['IntendedReceiver', TCR_INTENDED_RECEIVER, idName],
    ['ActualSender', TCR_VIRTUAL_ACTUAL_SENDER, idName],
    ['ThreadWord0', TCR_THREAD_WORD0, hex32],
    ['ThreadWord1', TCR_THREAD_WORD1, hex32],
  ];
  out.push('  TCRs:');
  for (const row of table(tcrs.map(([name, offset, show]) => [`    ${name}`, show(read(offset))]))) out.push(row);
  const mrs = Array.from({ length: 64 }, (_, i) => read(0x100 + 4 * i));
  out.push(`  MR0 ${hex32(mrs[0]!)}: ${describeTag(mrs[0]!)}`);
  out.push(...wordRows('MR', 0, mrs, 8));
  const brs = Array.from({ length: 33 }, (_, i) => read(0x40 + 4 * i));
  const br0 = brs[0]!;
  out.push(`  BR0 ${hex32(br0)}: acceptor, strings ${br0 & 1 ? 'accepted' : 'refused'}, receive window ${br0 >>> 4 ? fpage(br0 & ~0xf) : 'nil'}`);
  out.push(...wordRows('BR', 1, brs.slice(1), 8));
  return out;
}

export function showControlRegisters(session: MachineSession): string[] {
  const cpu = session.machine.cpu;
  const cr0 = cpu.cr0;
  const cr4 = cpu.cr4;
  const bits = (value: number, names: Array<[number, string]>): string => names.filter(([bit]) => value & bit).map(([, name]) => name).join(' ') || '-';
  const directory = (cpu.cr3 & ~0xfff) >>> 0;
  const space = session.kernel.spaces.find((s) => s.pageDirectory === directory);
  const owner = space ? spaceName(session, space) : directory === session.kernel.kernelDirectory ? 'the kernel\'s own directory' : 'no space';
  return [
    `CR0 ${hex32(cr0)}  ${bits(cr0, [[1, 'PE'], [1 << 16, 'WP'], [0x80000000, 'PG']])}`,
    `CR2 ${hex32(cpu.cr2)}  the linear address of the last page fault`,
    `CR3 ${hex32(cpu.cr3)}  page directory ${hex32(directory)}: ${owner}${cpu.cr3 & 0x18 ? `, ${cpu.cr3 & 8 ? 'PWT ' : ''}${cpu.cr3 & 0x10 ? 'PCD' : ''}` : ''}`,
    `CR4 ${hex32(cr4)}  ${bits(cr4, [[0x10, 'PSE'], [0x20, 'PAE'], [0x80, 'PGE']])}`,
  ];
}

export function showCounters(session: MachineSession, all: boolean): string[] {
  const ended = session.ended?.result ?? null;
  const counters: Record<string, number> = { ...bootCounters(session.machine, session.kernel, ended ? ended.exitStatus : 0) };
  if (!ended) delete counters.exitStatus;
  const rows = Object.entries(counters).map(([name, value]) => [name, String(value)]);
  if (all) {
    for (const [name, value] of Object.entries(session.machine.cpu.counters)) rows.push([`mmu.${name}`, String(value)]);
    for (const [name, value] of Object.entries(session.kernel.counters)) rows.push([`kernel.${name}`, String(value)]);
    SYSCALL_NAMES.forEach((name, i) => rows.push([`syscall.${name}`, String(session.kernel.syscallCounts[i] ?? 0)]));
    rows.push(['ram.unbackedReads', String(session.machine.physical.unbackedReads)], ['ram.unbackedWrites', String(session.machine.physical.unbackedWrites)]);
    rows.push(['kmem.used', String(session.kernel.kmem.used)], ['kmem.available', String(session.kernel.kmem.available)]);
  }
  return table(rows);
}

const KIP_CALLS: Array<[string, number]> = [['SpaceControl', 0xd0], ['ThreadControl', 0xd4], ['ProcessorControl', 0xd8], ['MemoryControl', 0xdc], ['Ipc', 0xe0], ['Lipc', 0xe4], ['Unmap', 0xe8], ['ExchangeRegisters', 0xec], ['SystemClock', 0xf0], ['ThreadSwitch', 0xf4], ['Schedule', 0xf8]];

const MEMORY_TYPES: Record<number, string> = { 0: 'undefined', 1: 'conventional', 2: 'reserved', 3: 'dedicated', 4: 'shared', 0xe: 'boot', 0xf: 'arch' };

export function showKip(session: MachineSession): string[] {
  const base = session.kernel.kipFrame;
  const w = (offset: number): number => ram32(session.machine, base + offset) ?? 0;
  const text = (offset: number, length: number): string => {
    let s = '';
    for (let i = 0; i < length; i++) {
      const c = session.machine.physical.bytes[base + offset + i]!;
      if (c === 0) break;
      s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    }
    return s;
  };
  const magic = w(0);
  const version = w(4);
  const kernelDescriptor = w(0x0c);
  const memoryInfo = w(0x54);
  const utcb = w(0xa8);
  const clock = w(0xc0);
  const threads = w(0xc4);
  const page = w(0xc8);
  const sizes: string[] = [];
  for (let bit = 10; bit < 32; bit++) if (page & (1 << bit)) sizes.push(bit >= 20 ? `${2 ** (bit - 20)} MiB` : `${2 ** (bit - 10)} KiB`);
  const out = [
    `KIP at physical ${hex32(base)} (mapped at the KIP area of every space)`,
    `  magic ${hex32(magic)} ${magic === 0x4be6344c ? "('L4', 230, 'K')" : '(wrong)'}`,
    `  API version ${hex((version >>> 24) & 0xff, 2)} subversion ${hex((version >>> 16) & 0xff, 2)}${version >>> 24 === 0x84 ? ' (X.2)' : ''}, flags ${hex32(w(8))} (little endian, 32-bit)`,
    `  kernel ${text(kernelDescriptor + 16, 32)} (id ${hex(w(kernelDescriptor) >>> 24)}.${(w(kernelDescriptor) >>> 16) & 0xff}, supplier ${text(kernelDescriptor + 12, 4)})`,
    `  UTCB info: area at least 2^${utcb & 0x3f} bytes, UTCBs aligned to 2^${(utcb >>> 6) & 0x3f}, size ${(utcb >>> 12) & 0x3ff} x 512 bytes`,
    `  KIP area 2^${w(0xac) & 0x3f} bytes; boot info at ${hex32(w(0xb8))}`,
    `  clock: schedule precision ${clock & 0xffff} us, read precision ${clock >>> 16} us; processors ${w(0xcc) + 1}, ${w(w(0xbc))} kHz`,
    `  thread info: ${threads & 0xff} bits of thread number, SystemBase ${(threads >>> 8) & 0xfff}, UserBase ${threads >>> 20}`,
    `  page info: rights ${page & 4 ? 'r' : '-'}${page & 2 ? 'w' : '-'}${page & 1 ? 'x' : '-'}, page sizes ${sizes.join(', ')}`,
    '  system-call entries (offsets in the KIP): ' + KIP_CALLS.map(([name, offset]) => `${name} ${hex(w(offset))}`).join(', '),
    `  memory descriptors (${memoryInfo & 0xffff}, later ones take precedence):`,
  ];
  const count = memoryInfo & 0xffff;
  const at = memoryInfo >>> 16;
  for (let i = 0; i < count && i < 128; i++) {
    const low = w(at + 8 * i);
    const high = w(at + 8 * i + 4);
    out.push(`    ${hex32(low & ~0x3ff)}-${hex32((high & ~0x3ff) + 0x3ff)}  ${MEMORY_TYPES[low & 0xf] ?? `type ${low & 0xf}`}${(low >>> 4) & 0xf ? ` subtype ${(low >>> 4) & 0xf}` : ''}${low & 0x200 ? ' virtual' : ''}`);
  }
  return out;
}
