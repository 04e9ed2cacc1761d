// The debugger's machine session driven in the test's own thread (harness.ts): inspection and
// pausing change nothing, breakpoints and watchpoints stop where the trace says the event is,
// and every bad command is one line after which the console goes on.
import { beforeAll, describe, expect, it } from 'vitest';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../../tools/build.ts';
import { bootImage } from '../../tools/loader.ts';
import { STOP_KINDS } from '../../tools/debug/event-log.ts';
import { drive, machineState } from './harness.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let image: Uint8Array;

/** Every stop point of a plain boot, in order: what the debugger's positions must match. */
interface Point {
  readonly position: number;
  readonly kind: string;
  readonly thread: string;
  readonly cycle: number;
  readonly text: string;
}
let points: Point[] = [];

beforeAll(async () => {
  image = await buildImage(join(root, 'images/default.json'));
  const list: Point[] = [];
  let started = false;
  bootImage(image, {
    onStart: () => {
      started = true;
    },
    trace: (e) => {
      if (started) list.push({ position: list.length + 1, kind: e.kind, thread: `${e.thread >>> 14}.${e.thread & 0x3fff}`, cycle: e.cycle, text: e.text });
    },
    programStep: (thread) => {
      if (started) list.push({ position: list.length + 1, kind: 'step', thread: `${thread >>> 14}.${thread & 0x3fff}`, cycle: -1, text: '' });
    },
  });
  points = list;
}, 120_000);

/** The inspection commands, errors included: none may change the machine. */
const INSPECTIONS = [
  'threads', 'spaces', 'regs', 'regs 64.1', 'creg', 'counters', 'counters all', 'kip', 'where', 'info where', 'info breakpoints', 'info checkpoints',
  'x 1:0xbf000000 64', 'x/xw 0:0x00001000 16', 'x/dh 1:0xbf000100 8', 'x/c 0:0x00900000 32', 'xp/xw 0x00100000 32', 'xp/uw 0x03fffff0 8', 'xp 0x04000000 16',
  'page 1:0xbf000000', 'page 0:0x00400000', 'page 2:0x40000000', 'tab 0', 'tab 1', 'tab 2', 'tlb', 'tlb 0xbf000000', 'mapping 0x00c00000', 'mapping 0x00100000',
  'frames', 'containers', 'containers 2', 'help', 'help x', 'trace', 'info threads', 'info tab 1',
  'x 99:0', 'page 1', 'regs 5.5', 'xp 0x100000000', 'frob', 'containers 999', 'regions 6',
];

describe('inspection and pausing', () => {
  it('a run with every inspection command at several stops ends in the same machine as a run straight there', () => {
    const straight = drive(image, ['goto 12000']);
    const inspected = drive(image, ['goto 1500', ...INSPECTIONS, 'goto 3000', ...INSPECTIONS, 'step 250', ...INSPECTIONS, 'goto 11000', ...INSPECTIONS, 'goto 12000']);
    expect(inspected.session.position).toBe(12000);
    expect(machineState(inspected.session)).toEqual(machineState(straight.session));
    // The commands really ran: their output is there.
    expect(inspected.output).toMatch(/^CR3 0x[0-9a-f]{8}  page directory/m);
    expect(inspected.output).toMatch(/^physmem: \d+ frames, \d+ free/m);
  }, 120_000);

  it('armed watchpoints (linear and physical, on busy pages) change nothing either', () => {
    const straight = drive(image, ['goto 9000']);
    const watched = drive(image, ['goto 2000', 'watch access 1:0xbf000000 512', 'watch access phys 0x00100000 4096', 'watch access 0:0x00c00000 64', 'goto 9000']);
    expect(watched.session.position).toBe(9000);
    expect(machineState(watched.session)).toEqual(machineState(straight.session));
  }, 120_000);

  it('stopping at a position gives the stop point the trace has there', () => {
    const { output } = drive(image, ['goto 1234', 'step', 'step 7']);
    for (const position of [1234, 1235, 1242]) {
      const p = points[position - 1]!;
      const line = output.split('\n').find((l) => l.startsWith(`#${position} `))!;
      expect(line, `#${position}`).toContain(` ${p.kind} `);
      if (p.kind !== 'switch') expect(line).toContain(` ${p.thread}`);
      if (p.cycle >= 0) expect(line).toContain(`[${p.cycle}]`);
    }
  }, 60_000);
});

describe('breakpoints stop where the trace says', () => {
  it('break EVENT, break thread, break label, break cycle', () => {
    const { output } = drive(image, ['break map', 'continue', 'continue', 'continue', 'delete', 'break thread 1003', 'continue', 'delete', 'break label 0xffe2', 'continue', 'regs', 'delete', 'break cycle 800000', 'continue']);
    const stops = output.split('\n').filter((l) => /^#\d+ /.test(l)).slice(1).map((l) => Number(/^#(\d+)/.exec(l)![1]));
    const maps = points.filter((p) => p.kind === 'map').slice(0, 3).map((p) => p.position);
    expect(stops.slice(0, 3)).toEqual(maps);
    const thread = points.find((p) => p.kind === 'step' && p.thread.startsWith('1003.') && p.position > maps[2]!)!;
    expect(stops[3]).toBe(thread.position);
    // A write fault's IPC carries label 0xffe2: the stop is an ipc from a thread whose last event
    // before it was its write fault, and the sender's MR0 says so.
    const ipc = points[stops[4]! - 1]!;
    expect(ipc.kind).toBe('ipc');
    const before = points.slice(0, ipc.position - 1).reverse().find((p) => p.thread === ipc.thread && p.kind !== 'step' && p.kind !== 'switch')!;
    expect(before.kind).toBe('fault');
    expect(before.text).toMatch(/^write at /);
    expect(output).toMatch(/^ {2}MR0 0xffe2[0-9a-f]{4}: label 0xffe2, untyped 2,/m);
    // The stop is the first point at or past the cycle: after the last event before it, at the
    // latest the first event past it (a program step between them carries no cycle in this list).
    const cycle = points.find((p) => p.position > ipc.position && p.cycle >= 800000)!;
    const lastTimed = points.filter((p) => p.position < cycle.position && p.cycle >= 0).pop()!;
    expect(stops[5]).toBeGreaterThan(lastTimed.position);
    expect(stops[5]).toBeLessThanOrEqual(cycle.position);
    expect(points.slice(lastTimed.position, stops[5]! - 1).every((p) => p.kind === 'step')).toBe(true);
    expect(output).toMatch(/^breakpoint 1: break map \(hit 3 times\)$/m);
  }, 60_000);

  it('a conditional breakpoint: break fault if thread T stops only at T\'s faults', () => {
    const { output } = drive(image, ['break fault if thread 1004', 'continue', 'continue']);
    const faults = points.filter((p) => p.kind === 'fault' && p.thread.startsWith('1004.')).slice(0, 2);
    const stops = output.split('\n').filter((l) => /^#\d+ .* fault /.test(l));
    expect(stops.map((l) => Number(/^#(\d+)/.exec(l)![1]))).toEqual(faults.map((f) => f.position));
  }, 60_000);

  it('a linear watchpoint stops at the first stop point after the program\'s write, with the value written', () => {
    const { output } = drive(image, ['break thread 1004', 'continue', 'delete', 'watch 1004.6:0x10005000 4', 'continue']);
    const next = points.find((p) => p.kind === 'fault' && p.thread.startsWith('1004.') && p.text.startsWith('write at 0x10006000'))!;
    expect(output).toMatch(/^watchpoint 2: watch write 6:0x10005000 4 \(hit 1 time\)$/m);
    expect(output).toMatch(/^ {2}write of 0x10005000 \(physical 0x[0-9a-f]{8}\) by 1004\.6 at cycle \d+: dword 0x[0-9a-f]{8} was 0x00000000, now 0x0000000f$/m);
    expect(output).toContain(`#${next.position} [${next.cycle}] fault 1004.6 write at 0x10006000`);
  }, 60_000);

  it('a physical watchpoint on a PTE sees the kernel write it (map) and the MMU set its A and D bits', () => {
    // The page table of 0x10000000 exists once the first page of touch is mapped.
    // (touch's pager, a thread of its task, receives the map for its space)
    const touchStart = points.find((p) => p.kind === 'step' && p.thread === '1004.6')!.position;
    const mapInto = (page: number): Point => points.find((p) => p.position > touchStart && p.kind === 'map' && new RegExp(`-> \\d+:${page.toString(16)} `).test(p.text))!;
    const firstMap = mapInto(0x10000000);
    const session = drive(image, [`goto ${firstMap.position}`]).session;
    const t = session.kernel.threadById(((1004 << 14) | 6) >>> 0)!;
    const table = session.machine.physical.words[(t.space.pageDirectory + (0x10000000 >>> 22) * 4) >>> 2]! & ~0xfff;
    const pte = (table >>> 0) + 5 * 4;
    const { output } = drive(image, [`goto ${firstMap.position}`, `watch write phys 0x${pte.toString(16)} 4`, 'continue', 'continue']);
    const mapped = mapInto(0x10005000);
    const fault = points.find((p) => p.kind === 'fault' && p.thread.startsWith('1004.') && p.text.startsWith('write at 0x10006000'))!;
    const stops = output.split('\n').filter((l) => /^#\d+ /.test(l)).slice(2);
    expect(stops[0]).toContain(`#${mapped.position} `);
    expect(stops[1]).toContain(`#${fault.position} `);
    const hits = output.split('\n').filter((l) => l.startsWith('  write of physical'));
    expect(hits[0]).toMatch(/was 0x00000000, now 0x[0-9a-f]{5}[0-9a-f]07$/);
    // The second write is the walk's A/D write-back: A (0x20) and D (0x40) set now.
    expect(hits[1]).toMatch(/by the kernel or the MMU while 1004\.6 ran/);
    expect(Number(/now (0x[0-9a-f]+)$/.exec(hits[1]!)![1]) & 0x60).toBe(0x60);
  }, 120_000);
});

describe('mistakes', () => {
  it('every bad command is one line naming what is wrong, and the console goes on', () => {
    const bad = ['frob', 'step 0', 'step x', 'until 1', 'break', 'break nothing', 'break thread', 'break label 0x10000', 'break ipc if colour red', 'watch 1:', 'watch 77:0x1000', 'watch phys', 'delete 42', 'enable', 'x', 'x 1:zz', 'x/q 1:0', 'xp 0xffffffff 16', 'page 9:0', 'tab', 'regs 9.9', 'mapping', 'mapping 9:0', 'containers x', 'regions 1 2', 'regions x', 'trace on', 'trace on colours', 'log', 'source /nonexistent/file', 'help frob', 'finish', 'counters some', 'info', 'info frob', 'goto', 'next'];
    const { output } = drive(image, [...bad, 'echo still here']);
    const lines = output.split('\n');
    for (const command of bad) {
      const at = lines.indexOf(`(l4hurd) ${command}`);
      expect(at, command).toBeGreaterThanOrEqual(0);
      const reply = lines[at + 1]!;
      expect(reply.startsWith('(l4hurd) '), `${command}: ${reply}`).toBe(false);
      expect(lines[at + 2]!.startsWith('(l4hurd) '), `${command} printed more than one line`).toBe(true);
      expect(reply).not.toMatch(/internal error|^\s+at /);
    }
    expect(output).toContain("unknown command 'frob' (help lists the commands)");
    expect(output).toContain('still here');
  }, 60_000);

  it('after the boot has ended, every inspection command still answers, and running commands say why they cannot', () => {
    const { output } = drive(image, ['continue', ...INSPECTIONS, 'step', 'continue', 'until 99999999999', 'next', 'finish', 'goto 99999999']);
    expect(output).toMatch(/^the machine shut down with status 0 at #\d+, cycle \d+/m);
    expect(output).not.toMatch(/internal error/);
    expect(output).toMatch(/^thread +space +program/m);
    for (const command of ['step', 'continue', 'until 99999999999', 'goto 99999999']) {
      expect(output).toContain(`(l4hurd) ${command}\n${command.split(' ')[0]}: the machine has stopped: nothing more to run (reverse-step and reverse-continue go back)\n`);
    }
  }, 60_000);

  it('knows every stop kind it documents', () => {
    expect([...STOP_KINDS]).toEqual(['step', 'syscall', 'ipc', 'fault', 'map', 'unmap', 'switch', 'halt', 'exception', 'interrupt', 'user']);
  });
});

describe('hostile input', () => {
  it('seeded random command lines: every one answered in one line or more, never an internal error', async () => {
    const { SeededRandom } = await import('../support/random.ts');
    const random = new SeededRandom(0xdeb);
    const words = ['step', 'next', 'finish', 'until', 'goto', 'break', 'watch', 'delete', 'enable', 'disable', 'info', 'where', 'threads', 'spaces', 'regs', 'creg', 'counters', 'kip', 'x', 'x/xw', 'x/c', 'x/dh', 'xp', 'xp/uw', 'page', 'tab', 'tlb', 'mapping', 'frames', 'containers', 'regions', 'trace', 'echo', 'help', 'b', 'w', 'i', 'r', 't', 'x/', 'xp/qq', '???', 'ʕ•ᴥ•ʔ'];
    const args = ['0', '1', '2', '64.1', '66.1', '1004.6', '1:0xbf000000', '0:0', '2:0x40000000', '1:0xfffffff0', '0xffffffff', '0x100000000', '-1', '1e9', 'ipc', 'map', 'fault', 'thread', 'label', 'cycle', 'if', 'and', 'space', 'phys', 'read', 'write', 'access', 'on', 'off', 'all', 'b', '99999999999999999999', '', 'breakpoints', 'checkpoints', '0x', ':', '1:', ':0x10'];
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const n = random.below(4);
      const parts = [words[random.below(words.length)]!];
      for (let k = 0; k < n; k++) parts.push(args[random.below(args.length)]!);
      // Keep the run short: steps are small, and no command runs the machine to its end at once.
      let line = parts.join(' ');
      if (/^(step|next)\b/.test(line)) line = parts[0]!;
      if (/^(until|goto|continue|c)\b/.test(line)) line = 'step';
      lines.push(line);
    }
    const { output } = drive(image, lines);
    expect(output).not.toMatch(/internal error/);
    expect(output).not.toMatch(/^\s+at /m);
    const replies = output.split('(l4hurd) ');
    expect(replies.length).toBe(lines.length + 1);
  }, 120_000);
});
