// The debugger's host, in the command's main thread: the terminal (node:readline, with history
// in a file and tab completion), piped input or a script, Ctrl-C, and the pool of machine
// threads (worker.ts) that makes going back fast.
//
// Going back is replay: a machine thread of the same image runs silently to the earlier
// position and becomes the console's. Machines cannot be copied (program threads are
// generators), so the host keeps standbys: machines booted from the image and advanced, in the
// background while the user reads, to a ladder of checkpoints behind the console's position
// (checkpoints are the first stop points past each 50,000 cycles; the rungs are the latest one,
// and 8 and 64 checkpoints back). A reverse command takes the standby nearest below its target,
// which then replays at most to the rung above it; without one, a fresh machine replays from the
// boot. Either way the position reached is the same state, so nothing
// the console prints depends on which machine served it.

import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { MessageChannel, Worker } from 'node:worker_threads';
import { writeErr, writeOut } from '../output.ts';
import { STOP_KINDS } from './event-log.ts';
import { COMMANDS, findCommand } from './commands.ts';
import { newConsoleState, PROMPT, type Handoff } from './console.ts';
import { SIGNAL_WORDS, sendOrder, type Order, type Report, type WorkerSetup } from './protocol.ts';

export interface DebugOptions {
  readonly image: Uint8Array;
  readonly ramBytes: number;
  readonly profile?: string;
  readonly maxCycles?: number;
  /** A host file as the disk of every machine: its path and an open descriptor (read-only) every
   * machine thread reads through, copy-on-write in each, so replays see the same disk. */
  readonly disk?: { readonly path: string; readonly descriptor: number };
  /** JavaScript heap each machine thread may use. */
  readonly hostMemoryBytes: number;
  /** The script's lines (--script), or null to read standard input. */
  readonly script: string[] | null;
  /** --batch: no prompts, commands not echoed. */
  readonly batch: boolean;
  /** Trace kinds to start with (--trace). */
  readonly trace?: readonly string[];
  /** Machines kept at checkpoints (default 3; 0: every reverse command replays from the boot). */
  readonly standbys?: number;
  /** 'collect': the output comes back to `onOutput` instead of standard output (tests, benchmarks). */
  readonly output?: 'fd' | 'collect';
  readonly onOutput?: (text: string) => void;
  /** Where the machine threads' bundle is (default: beside this one). */
  readonly workerUrl?: URL;
}

interface Machine {
  readonly id: number;
  readonly worker: Worker;
  readonly orders: import('node:worker_threads').MessagePort;
  readonly signal: Int32Array;
  /** The position it was told to reach, and whether it reported being there. */
  target: number;
  reached: boolean;
  role: 'standby' | 'current' | 'scan' | 'gone';
}

const DEFAULT_STANDBYS = 3;
/** Where standbys are kept: the latest checkpoint below the console, and 8 and 64 checkpoints further back. */
const LADDER = [1, 8, 64];

export class DebugHost {
  private readonly options: DebugOptions;
  private readonly machines: Machine[] = [];
  private current: Machine | null = null;
  private nextId = 0;
  private checkpoints: readonly number[] = [];
  private position = 0;
  private finish: ((status: number) => void) | null = null;
  private rl: Interface | null = null;
  private readonly lines: string[] = [];
  private inputEnded = false;
  private waitingForLine = false;
  private completionThreads: readonly string[] = [];
  private completionBreakpoints: readonly string[] = [];
  private readonly standbys: number;
  private readonly tty: boolean;
  /** Resolves when every standby has reached its target (benchmarks wait for it). */
  private settledWaiters: Array<() => void> = [];
  private promptWaiters: Array<() => void> = [];

  constructor(options: DebugOptions) {
    this.options = options;
    this.standbys = options.standbys ?? DEFAULT_STANDBYS;
    this.tty = options.script === null && process.stdin.isTTY === true && options.output !== 'collect';
  }

  /** Runs the console to its end; resolves to the exit status. */
  run(): Promise<number> {
    return new Promise((resolve) => {
      this.finish = (status) => {
        this.finish = null;
        this.rl?.close();
        for (const m of this.machines) void m.worker.terminate();
        process.removeListener('SIGINT', this.onSigint);
        resolve(status);
      };
      const first = this.spawn('current');
      this.current = first;
      const state = newConsoleState();
      if (this.options.trace) state.trace = [...this.options.trace];
      const interactive = this.options.script === null;
      if (interactive) this.openInput();
      else process.on('SIGINT', this.onSigint);
      this.order(first, { type: 'activate', target: 0, state, pending: this.options.script ?? [], note: '', asHit: false, interactive, echo: !this.tty && !this.options.batch });
      this.plan();
    });
  }

  /** Resolves once every standby is where it was sent (for benchmarks: a reverse step then finds one). */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Resolves at the console's next prompt (tests and benchmarks driving a session). */
  prompted(): Promise<void> {
    return new Promise((resolve) => this.promptWaiters.push(resolve));
  }

  /** Sends a line as if typed (tests and benchmarks driving an interactive session). */
  type(line: string): void {
    this.lines.push(line);
    this.feed();
  }

  private isSettled(): boolean {
    return this.machines.every((m) => m.role !== 'standby' || m.reached);
  }

  // ---- Machines -----------------------------------------------------------------------------

  private spawn(role: Machine['role']): Machine {
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(4 * SIGNAL_WORDS);
    const setup: WorkerSetup = { image: this.options.image, ramBytes: this.options.ramBytes, profile: this.options.profile, maxCycles: this.options.maxCycles, disk: this.options.disk, signal, orders: port2, output: this.options.output ?? 'fd' };
    const worker = new Worker(this.options.workerUrl ?? new URL('./l4hurd-debug.mjs', import.meta.url), {
      workerData: { l4hurdDebug: setup },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, Math.floor(this.options.hostMemoryBytes / (1024 * 1024))) },
      stdout: false,
      stderr: false,
    });
    const machine: Machine = { id: this.nextId++, worker, orders: port1, signal: new Int32Array(signal), target: 0, reached: false, role };
    this.machines.push(machine);
    worker.on('message', (report: Report) => this.onReport(machine, report));
    worker.on('error', (error: Error & { code?: string }) => this.onError(machine, error));
    worker.on('exit', () => this.onExit(machine));
    return machine;
  }

  private order(machine: Machine, order: Order): void {
    sendOrder(machine.orders, machine.signal, order);
  }

  private retire(machine: Machine): void {
    machine.role = 'gone';
    const at = this.machines.indexOf(machine);
    if (at >= 0) this.machines.splice(at, 1);
    void machine.worker.terminate();
  }

  /**
   * Keeps standbys on a ladder of checkpoints behind the console's position: the latest (a
   * reverse step or a few), 8 and 64 checkpoints back (going far back), each replaying at most
   * the distance to the rung above it when taken.
   */
  private plan(): void {
    if (this.finish === null) return;
    const below = [0, ...this.checkpoints.filter((c) => c < this.position)];
    const desired: number[] = [];
    for (const back of LADDER) {
      const rung = below[Math.max(0, below.length - back)]!;
      if (!desired.includes(rung)) desired.push(rung);
    }
    desired.splice(this.standbys);
    const free = this.machines.filter((m) => m.role === 'standby');
    const kept = new Set<Machine>();
    for (const d of desired) {
      let best: Machine | null = null;
      for (const m of free) if (!kept.has(m) && m.target <= d && (best === null || m.target > best.target)) best = m;
      if (best === null) {
        best = this.spawn('standby');
      }
      kept.add(best);
      if (best.target < d) {
        best.target = d;
        best.reached = false;
        this.order(best, { type: 'advance', position: d });
      }
    }
    for (const m of free) if (!kept.has(m)) this.retire(m);
    this.checkSettled();
  }

  private checkSettled(): void {
    if (!this.isSettled()) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }

  private onReport(machine: Machine, report: Report): void {
    if (machine.role === 'gone') return;
    if ('output' in report && report.output) this.emit(report.output);
    switch (report.type) {
      case 'at':
        if (report.position >= machine.target || report.ended) machine.reached = true;
        this.checkSettled();
        return;
      case 'progress':
        if (machine === this.current) {
          this.position = report.position;
          this.checkpoints = report.checkpoints;
          this.plan();
        }
        return;
      case 'prompt':
        this.completionThreads = report.threads;
        this.completionBreakpoints = report.breakpoints;
        this.waitingForLine = true;
        this.plan();
        for (const w of this.promptWaiters.splice(0)) w();
        this.feed();
        return;
      case 'handoff':
        this.goBack(machine, report.handoff);
        return;
      case 'scanned':
        this.scanned(machine, report.target);
        return;
      case 'quit':
        this.finish?.(this.options.script !== null && report.failures > 0 ? 1 : 0);
        return;
      case 'failed':
        if (machine === this.current || machine.role === 'scan') {
          if (report.message) writeErr(`l4hurd debug: ${report.message}\n`);
          this.finish?.(report.status);
        } else this.retire(machine);
        return;
    }
  }

  private onError(machine: Machine, error: Error & { code?: string }): void {
    if (machine.role === 'gone') return;
    const important = machine === this.current || machine.role === 'scan';
    if (!important) {
      this.retire(machine);
      return;
    }
    const message = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'the machine ran out of host memory (--host-memory)' : `internal error: ${error.name}: ${String(error.message).split('\n')[0]} (a bug in l4hurd)`;
    writeErr(`l4hurd debug: ${message}\n`);
    this.finish?.(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 5 : 8);
  }

  private onExit(machine: Machine): void {
    if (machine.role === 'gone' || this.finish === null) return;
    if (machine === this.current || machine.role === 'scan') {
      writeErr("l4hurd debug: internal error: a machine's thread ended (a bug in l4hurd)\n");
      this.finish(8);
    } else this.retire(machine);
  }

  // ---- Going back -------------------------------------------------------------------------

  private pendingHandoff: Handoff | null = null;

  private goBack(from: Machine, handoff: Handoff): void {
    this.retire(from);
    this.current = null;
    if (handoff.scan) {
      // Watchpoints: replay with them armed to find where the last hit was.
      this.pendingHandoff = handoff;
      const scan = this.spawn('scan');
      this.order(scan, { type: 'scan', until: handoff.scan.until, breakpoints: handoff.state.breakpoints });
      return;
    }
    this.take(handoff, handoff.target);
  }

  private scanned(machine: Machine, target: number): void {
    this.retire(machine);
    const handoff = this.pendingHandoff!;
    this.pendingHandoff = null;
    const note = target > 0 ? '' : `no breakpoint would have stopped the machine before #${handoff.scan!.until}: back at the start`;
    this.take({ ...handoff, note, asHit: target > 0 }, target);
  }

  private take(handoff: Handoff, target: number): void {
    let best: Machine | null = null;
    for (const m of this.machines) if (m.role === 'standby' && m.target <= target && (best === null || m.target > best.target)) best = m;
    const machine = best ?? this.spawn('current');
    machine.role = 'current';
    this.current = machine;
    this.position = target;
    const interactive = this.options.script === null;
    this.order(machine, { type: 'activate', target, state: handoff.state, pending: handoff.pending, note: handoff.note, asHit: handoff.asHit, interactive, echo: !this.tty && !this.options.batch });
    // The standbys are planned anew when the machine has arrived (its first progress report or
    // prompt), so that starting a replacement does not slow the replay down.
  }

  // ---- Input ----------------------------------------------------------------------------------

  private emit(text: string): void {
    if (this.options.onOutput) this.options.onOutput(text);
    else writeOut(text);
  }

  private readonly onSigint = (): void => {
    const current = this.current;
    if (!current) return;
    if (Atomics.load(current.signal, 1) !== 0) {
      // A second Ctrl-C before the machine reached a stop point: give up.
      writeErr('l4hurd debug: interrupted\n');
      this.finish?.(130);
      return;
    }
    Atomics.store(current.signal, 1, 1);
  };

  private openInput(): void {
    if (this.options.output === 'collect') return;
    const historyFile = process.env.L4HURD_HISTORY ?? join(homedir(), '.l4hurd_history');
    let history: string[] = [];
    if (this.tty) {
      try {
        history = readFileSync(historyFile, 'utf8').split('\n').filter((l) => l.trim() !== '').reverse().slice(0, 1000);
      } catch {
        history = [];
      }
    }
    const rl = createInterface({
      input: process.stdin,
      output: this.tty ? process.stdout : undefined,
      terminal: this.tty,
      prompt: this.options.batch ? '' : PROMPT,
      history,
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: this.tty ? (line: string) => this.complete(line) : undefined,
    });
    this.rl = rl;
    rl.on('line', (line) => {
      if (this.tty && line.trim() !== '') {
        try {
          appendFileSync(historyFile, line + '\n');
        } catch {
          // no history file: the session goes on without one
        }
      }
      this.lines.push(line);
      this.feed();
    });
    rl.on('close', () => {
      this.inputEnded = true;
      this.feed();
    });
    rl.on('SIGINT', () => {
      if (this.waitingForLine) {
        // At the prompt, as gdb: forget the line.
        writeOut('^C\n');
        rl.write(null, { ctrl: true, name: 'u' });
        rl.prompt();
      } else this.onSigint();
    });
    if (!this.tty) process.on('SIGINT', this.onSigint);
  }

  /** Gives the console its next line when it waits for one and one is there. */
  private feed(): void {
    const current = this.current;
    if (!this.waitingForLine || !current || current.role !== 'current') return;
    if (this.lines.length === 0) {
      if (this.inputEnded) {
        this.waitingForLine = false;
        this.order(current, { type: 'eof' });
      } else if (this.tty) this.rl?.prompt();
      return;
    }
    this.waitingForLine = false;
    Atomics.store(current.signal, 1, 0);
    this.order(current, { type: 'line', text: this.lines.shift()! });
  }

  private complete(line: string): [string[], string] {
    const parts = line.split(/\s+/);
    const word = parts[parts.length - 1] ?? '';
    let candidates: string[];
    if (parts.length <= 1) candidates = COMMANDS.flatMap((c) => [c.name, ...c.aliases]);
    else {
      const command = findCommand(parts[0]!)?.name;
      const threads = [...this.completionThreads];
      const numbers = [...this.completionBreakpoints];
      switch (command) {
        case 'break':
          candidates = parts.length === 2 ? [...STOP_KINDS, 'thread', 'label', 'cycle'] : parts[1] === 'thread' || parts[parts.length - 2] === 'thread' ? threads : ['if', 'thread', 'space', 'and'];
          break;
        case 'watch':
          candidates = ['read', 'write', 'access', 'phys', 'if', ...threads.map((t) => `${t}:`)];
          break;
        case 'regs':
        case 'next':
          candidates = threads;
          break;
        case 'delete':
        case 'enable':
        case 'disable':
          candidates = numbers;
          break;
        case 'info':
          candidates = ['breakpoints', 'checkpoints', 'where', 'threads', 'spaces', 'registers', 'creg', 'counters', 'kip', 'tab', 'tlb', 'frames', 'containers'];
          break;
        case 'trace':
          candidates = parts.length === 2 ? ['on', 'off'] : [...STOP_KINDS, 'all'];
          break;
        case 'help':
          candidates = COMMANDS.map((c) => c.name);
          break;
        case 'counters':
          candidates = ['all'];
          break;
        default:
          candidates = [...threads, ...threads.map((t) => `${t}:`)];
      }
    }
    const hits = candidates.filter((c) => c.startsWith(word));
    return [hits.length ? [...new Set(hits)] : [], word];
  }
}
