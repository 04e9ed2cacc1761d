// The console: reads commands, runs them on the machine session, and writes what they say. It
// runs in the thread that runs the machine (tools/debug/worker.ts), at the machine's stop
// points, so a command sees the machine exactly as it is there; a command that runs the machine
// returns the goal of that run, and a command that goes back hands the console's state to the
// host, which lets another machine of the same image take over at the earlier position.
//
// Every command's mistake is one line (CommandError) and the session goes on; a host exception
// in a command (a bug) is one line too. Nothing a user types ends the console but quit.

import { closeSync, openSync, writeSync } from 'node:fs';
import { reason, readInputFile } from '../files.ts';
import { OutputError } from '../output.ts';
import { describeBreakpoint, parseBreak, parseWatch, stopsAt, type Breakpoint, type NameResolver } from './breakpoints.ts';
import { findCommand, helpFor, helpList } from './commands.ts';
import { STOP_KINDS, stopKindCode } from './event-log.ts';
import { CommandError, hex32, parseCount, parseNumber, table, threadName, words } from './format.ts';
import { CHECKPOINT_CYCLES, NO_GOAL, traceLine, type MachineSession, type RunGoal, type Stop } from './machine-session.ts';
import { examineLinear, examinePhysical, parseFormat } from './show-memory.ts';
import { showContainers, showFrames, showRegions } from './show-memory-system.ts';
import { showMapping, showPage, showTable, showTlb } from './show-paging.ts';
import { ram32, showControlRegisters, showCounters, showKip, showRegisters, showSpaces, showThreads, spaceArgument } from './show-state.ts';

/** What moves with the console from one machine to another. */
export interface ConsoleState {
  breakpoints: Breakpoint[];
  nextBreakpoint: number;
  trace: string[];
  logFile: string | null;
  /** The command an empty line repeats. */
  repeat: string | null;
  /** Commands that failed (a script's exit status says whether any did). */
  failures: number;
}

export function newConsoleState(): ConsoleState {
  return { breakpoints: [], nextBreakpoint: 1, trace: [], logFile: null, repeat: null, failures: 0 };
}

/** Going back: the host lets a machine at `target` take over with `state`. */
export interface Handoff {
  readonly target: number;
  /** Find the target first by replaying to `until` with the breakpoints armed (watchpoints). */
  readonly scan: { readonly until: number } | null;
  readonly state: ConsoleState;
  /** Input lines not read yet. */
  readonly pending: string[];
  /** Said on arrival before the stop. */
  readonly note: string;
  /** The arrival is a breakpoint hit (reverse-continue): count and show it. */
  readonly asHit: boolean;
}

export interface ConsoleIo {
  /** The next line of input, or null at its end. */
  readLine(): string | null;
  /** Standard output. */
  write(text: string): void;
  /** Print each command after a prompt (a script, piped input). */
  readonly echo: boolean;
  /** Hands the console to another machine; never returns. */
  handoff(request: Handoff): never;
  /** Ends the console; never returns. */
  quit(): never;
  /** Tells the host what completion may offer (threads, breakpoints), before a prompt. */
  completions?(threads: readonly string[], breakpoints: readonly string[]): void;
}

export const PROMPT = '(l4hurd) ';

export class Console {
  readonly session: MachineSession;
  readonly state: ConsoleState;
  private readonly io: ConsoleIo;
  /** Input lines not read yet: pending[head] is the next one. */
  private readonly pending: string[];
  private head = 0;
  private logFd: number | null = null;
  /** `next N`: further next goals to run without stopping. */
  private nextsLeft = 0;

  constructor(session: MachineSession, io: ConsoleIo, state: ConsoleState, pending: string[] = []) {
    this.session = session;
    this.io = io;
    this.state = state;
    this.pending = pending;
    session.traceMask = state.trace.reduce((mask, kind) => mask | (1 << stopKindCode(kind)), 0);
    session.traceOut = (line) => this.print(line);
    session.consoleOut = (text) => this.write(text);
    session.setBreakpoints(state.breakpoints);
    if (state.logFile !== null) {
      try {
        this.logFd = openSync(state.logFile, 'a');
      } catch (error) {
        state.logFile = null;
        this.print(`log: cannot write ${state.logFile}: ${reason(error)}; logging stopped`);
      }
    }
  }

  // ---- Output -------------------------------------------------------------------------------

  write(text: string): void {
    this.io.write(text);
    if (this.logFd !== null) {
      try {
        writeSync(this.logFd, text);
      } catch {
        // a full disk under the log: the console itself goes on
      }
    }
  }

  print(line: string): void {
    this.write(line + '\n');
  }

  // ---- Stops --------------------------------------------------------------------------------

  /** The machine is paused at `stop`: reports it (unless it runs on) and reads commands. */
  paused(stop: Stop): RunGoal {
    if (stop.reason === 'goal' && this.nextsLeft > 0) {
      this.nextsLeft--;
      return this.nextGoal();
    }
    this.nextsLeft = 0;
    this.report(stop);
    return this.loop();
  }

  /** At position 0, before anything ran: the first goal. */
  start(note = ''): RunGoal {
    if (note) this.print(note);
    this.report(this.session.stop);
    return this.loop();
  }

  /** After a reverse command's machine arrived: the stop, then commands. */
  arrive(handoff: Handoff): RunGoal | null {
    if (handoff.note) this.print(handoff.note);
    let stop = this.session.stop;
    if (handoff.asHit && stop.position > 0) {
      const facts = this.facts(stop.position);
      const hit = this.state.breakpoints.filter((b) => b.what !== 'watch' && stopsAt(b, facts)).map((b) => b.number);
      for (const h of stop.watchHits) if (!hit.includes(h.breakpoint)) hit.push(h.breakpoint);
      for (const number of hit) {
        const b = this.state.breakpoints.find((x) => x.number === number);
        if (b) b.hits++;
      }
      stop = { ...stop, reason: hit.length ? 'breakpoint' : stop.reason, breakpoints: hit };
    }
    this.report(stop);
    if (this.session.ended) this.endedLoop();
    return this.loop();
  }

  /** The boot ended: says how, and answers commands until quit. */
  ended(): never {
    const ended = this.session.ended!;
    const position = this.session.position;
    const cycles = this.session.machine.cpu.cycles;
    if (ended.failure !== null) this.print(`the boot failed at #${position}, cycle ${cycles}: ${ended.failure}`);
    else {
      const run = ended.result!.run;
      const how = run.reason === 'shutdown' ? `shut down with status ${run.exitStatus}` : run.reason === 'idle' ? 'went idle without shutting down' : run.reason === 'max-cycles' ? 'reached the cycle limit' : 'stopped';
      this.print(`the machine ${how} at #${position}, cycle ${cycles}; the console still answers (reverse-step goes back)`);
    }
    return this.endedLoop();
  }

  private endedLoop(): never {
    for (;;) {
      const goal = this.loop();
      void goal;
      this.fail('the machine has stopped: nothing more to run (reverse-step and reverse-continue go back)');
    }
  }

  private facts(position: number): { kind: number; thread: number; space: number; label: number; cycle: number; previousCycle: number } {
    const log = this.session.log;
    return { kind: log.kind(position), thread: log.thread(position), space: log.space(position), label: log.label(position), cycle: log.cycle(position), previousCycle: log.cycle(position - 1) };
  }

  private report(stop: Stop): void {
    if (stop.reason === 'interrupt') this.print('interrupted');
    for (const number of stop.breakpoints) {
      const b = this.state.breakpoints.find((x) => x.number === number);
      if (!b) continue;
      this.print(`${b.what === 'watch' ? 'watchpoint' : 'breakpoint'} ${b.number}: ${describeBreakpoint(b)} (hit ${b.hits} time${b.hits === 1 ? '' : 's'})`);
      for (const h of stop.watchHits.filter((x) => x.breakpoint === number)) {
        const where = h.linear >= 0 ? `${hex32(h.linear)} (physical ${hex32(h.physical)})` : `physical ${hex32(h.physical)}${h.length !== 4 ? ` (${h.length} bytes)` : ''}`;
        const who = h.linear >= 0 ? `by ${h.thread ? threadName(h.thread) : 'the kernel'}${h.cpl === 0 ? ' (kernel access)' : ''}` : `by the kernel or the MMU${h.thread ? ` while ${threadName(h.thread)} ran` : ''}`;
        const dword = (h.linear >= 0 ? h.physical : Math.max(h.physical, b.watch!.address)) & ~3;
        const now = ram32(this.session.machine, dword >>> 0);
        this.print(`  ${h.write ? 'write' : 'read'} of ${where} ${who} at cycle ${h.cycle}: dword ${hex32(dword >>> 0)} was ${hex32(h.before)}, now ${now === null ? 'no RAM' : hex32(now)}`);
      }
      const extra = stop.watchHitCount - stop.watchHits.length;
      if (b.what === 'watch' && extra > 0 && number === stop.breakpoints[stop.breakpoints.length - 1]) this.print(`  and ${extra} more accesses`);
    }
    this.print(this.stopLine(stop));
  }

  private stopLine(stop: Stop): string {
    if (stop.position === 0) return `#0 [${stop.cycle}] the machine is booted and paused: nothing has run yet`;
    return traceLine(stop.position, stop.cycle, stop.kind, stop.thread, stop.text);
  }

  // ---- Reading commands ---------------------------------------------------------------------

  private nextLine(): string | null {
    if (this.head < this.pending.length) return this.pending[this.head++]!;
    if (this.io.completions) {
      const threads = [...this.session.kernel.threads.values()].map((t) => threadName(t.id));
      this.io.completions(threads, this.state.breakpoints.map((b) => String(b.number)));
    }
    return this.io.readLine();
  }

  /** Reads and runs commands until one runs the machine; returns its goal. */
  private loop(): RunGoal {
    for (;;) {
      const raw = this.nextLine();
      if (raw === null) this.quit();
      const line = raw.replace(/\r$/, '');
      if (this.io.echo) this.write(`${PROMPT}${line}\n`);
      else if (this.logFd !== null) {
        try {
          writeSync(this.logFd, `${PROMPT}${line}\n`);
        } catch {
          // as in write
        }
      }
      const trimmed = line.trim();
      if (trimmed.startsWith('#')) continue;
      let command = trimmed;
      if (command === '') {
        if (this.state.repeat === null) continue;
        command = this.state.repeat;
      }
      const goal = this.execute(command);
      if (goal) return goal;
    }
  }

  private quit(): never {
    if (this.logFd !== null) {
      try {
        closeSync(this.logFd);
      } catch {
        // nothing to do
      }
    }
    return this.io.quit();
  }

  private fail(message: string): void {
    this.state.failures++;
    this.print(message);
  }

  /** Runs one command line; a goal when it runs the machine. */
  execute(line: string): RunGoal | null {
    const [word, ...args] = words(line);
    if (word === undefined) return null;
    // x/FMT and xp/FMT: the command is the part before the slash.
    const prefix = word.includes('/') ? word.slice(0, word.indexOf('/')) : word;
    const name = prefix === 'x' || prefix === 'xp' ? prefix : word;
    const command = findCommand(name);
    if (!command) {
      this.fail(`unknown command '${name}' (help lists the commands)`);
      return null;
    }
    const inspecting = this.session.watches;
    try {
      inspecting.inspecting = true;
      const goal = this.run(command.name, args, word, line);
      if (command.repeats && !(command.name === 'x' || command.name === 'xp')) this.state.repeat = line.trim();
      return goal;
    } catch (error) {
      // Standard output gone: nothing more can be said, the console ends (exit status 6).
      if (error instanceof OutputError) throw error;
      if (error instanceof CommandError) this.fail(`${command.name}: ${error.message}`);
      else this.fail(`${command.name}: internal error: ${error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error)} (a bug in l4hurd)`);
      return null;
    } finally {
      inspecting.inspecting = false;
    }
  }

  private lines(out: readonly string[]): null {
    for (const line of out) this.print(line);
    return null;
  }

  private run(name: string, args: string[], word: string, line: string): RunGoal | null {
    const s = this.session;
    const noArgs = (): void => {
      if (args.length > 0) throw new CommandError(`unexpected '${args[0]}'`);
    };
    switch (name) {
      case 'step': {
        const n = parseCount(args[0], 'the number of steps');
        this.canRun();
        return { ...NO_GOAL, position: s.position + n };
      }
      case 'next': {
        const n = parseCount(args[0], 'the number of steps');
        this.canRun();
        this.currentThread();
        this.nextsLeft = n - 1;
        return this.nextGoal();
      }
      case 'continue':
        noArgs();
        this.canRun();
        return NO_GOAL;
      case 'until': {
        const cycle = parseNumber(args[0], 'a cycle', Number.MAX_SAFE_INTEGER);
        this.canRun();
        const now = s.machine.cpu.cycles;
        if (cycle <= now) throw new CommandError(`cycle ${cycle} is not ahead: the machine is at cycle ${now} (reverse-step goes back)`);
        return { ...NO_GOAL, cycle };
      }
      case 'finish': {
        noArgs();
        this.canRun();
        const thread = this.currentThread();
        if (!s.inSystemCall.has(thread)) throw new CommandError(`${threadName(thread)} is not in a system call (next steps over the one it makes next)`);
        return { ...NO_GOAL, thread };
      }
      case 'goto': {
        if (args.length !== 1) throw new CommandError('goto needs a position N (#N as stops are shown)');
        const target = parseNumber(args[0]!.replace(/^#/, ''), 'a position', Number.MAX_SAFE_INTEGER);
        if (target === s.position) return null;
        if (target > s.position) {
          this.canRun();
          return { ...NO_GOAL, position: target, breakpoints: false };
        }
        this.handoff({ target, scan: null, note: '', asHit: false });
        return null;
      }
      case 'reverse-step': {
        const n = parseCount(args[0], 'the number of steps');
        if (s.position === 0) throw new CommandError('the machine is at the start (#0): nothing to go back to');
        this.handoff({ target: Math.max(0, s.position - n), scan: null, note: '', asHit: false });
        return null;
      }
      case 'reverse-continue': {
        noArgs();
        if (s.position === 0) throw new CommandError('the machine is at the start (#0): nothing to go back to');
        if (this.state.breakpoints.some((b) => b.enabled && b.what === 'watch')) {
          this.handoff({ target: -1, scan: { until: s.position }, note: '', asHit: true });
        }
        const target = lastHitBefore(this.session, this.state.breakpoints, s.position);
        this.handoff(target > 0 ? { target, scan: null, note: '', asHit: true } : { target: 0, scan: null, note: `no breakpoint would have stopped the machine before #${s.position}: back at the start`, asHit: false });
        return null;
      }
      case 'break':
      case 'watch': {
        const number = this.state.nextBreakpoint;
        const b = name === 'break' ? parseBreak(args, number, this.names()) : parseWatch(args, number, this.names());
        this.state.nextBreakpoint++;
        this.state.breakpoints.push(b);
        s.setBreakpoints(this.state.breakpoints);
        this.print(`${b.what === 'watch' ? 'watchpoint' : 'breakpoint'} ${number}: ${describeBreakpoint(b)}`);
        return null;
      }
      case 'delete': {
        if (args.length === 0) {
          this.state.breakpoints.length = 0;
          s.setBreakpoints(this.state.breakpoints);
          this.print('deleted every breakpoint');
          return null;
        }
        const numbers = this.breakpointNumbers(args);
        this.state.breakpoints = this.state.breakpoints.filter((b) => !numbers.includes(b.number));
        s.setBreakpoints(this.state.breakpoints);
        return null;
      }
      case 'enable':
      case 'disable': {
        if (args.length === 0) throw new CommandError(`${name} needs breakpoint numbers (info breakpoints lists them)`);
        for (const number of this.breakpointNumbers(args)) this.state.breakpoints.find((b) => b.number === number)!.enabled = name === 'enable';
        s.setBreakpoints(this.state.breakpoints);
        return null;
      }
      case 'info':
        return this.info(args);
      case 'where':
        noArgs();
        return this.lines(this.where());
      case 'threads':
        noArgs();
        return this.lines(showThreads(s));
      case 'spaces':
        noArgs();
        return this.lines(showSpaces(s));
      case 'regs':
        if (args.length > 1) throw new CommandError(`unexpected '${args[1]}'`);
        return this.lines(showRegisters(s, args[0]));
      case 'creg':
        noArgs();
        return this.lines(showControlRegisters(s));
      case 'counters':
        if (args.length > 1 || (args[0] !== undefined && args[0] !== 'all')) throw new CommandError(`unexpected '${args[0]}' (counters, or counters all)`);
        return this.lines(showCounters(s, args[0] === 'all'));
      case 'kip':
        noArgs();
        return this.lines(showKip(s));
      case 'x':
      case 'xp': {
        if (args.length > 2) throw new CommandError(`unexpected '${args[2]}'`);
        const { format } = parseFormat(word);
        const result = name === 'x' ? examineLinear(s, format, args[0], args[1]) : examinePhysical(s, format, args[0], args[1]);
        const slash = word.indexOf('/');
        const count = args[1] ?? '';
        const next = name === 'x' ? `${args[0]!.slice(0, args[0]!.indexOf(':'))}:${hex32(result.next)}` : hex32(result.next);
        this.state.repeat = `${name}${slash >= 0 ? word.slice(slash) : ''} ${next} ${count}`.trim();
        return this.lines(result.lines);
      }
      case 'page':
        if (args.length !== 1) throw new CommandError('page needs SPACE:ADDR');
        return this.lines(showPage(s, args[0]));
      case 'tab':
        if (args.length !== 1) throw new CommandError('tab needs SPACE (a space number or a thread)');
        return this.lines(showTable(s, args[0]));
      case 'tlb':
        if (args.length > 1) throw new CommandError(`unexpected '${args[1]}'`);
        return this.lines(showTlb(s, args[0]));
      case 'mapping':
        if (args.length !== 1) throw new CommandError('mapping needs a physical ADDR or SPACE:ADDR');
        return this.lines(showMapping(s, args[0]));
      case 'frames':
        noArgs();
        return this.lines(showFrames(s));
      case 'containers':
        if (args.length > 1) throw new CommandError(`unexpected '${args[1]}'`);
        return this.lines(showContainers(s, args[0]));
      case 'regions':
        if (args.length > 1) throw new CommandError('regions takes one TASK at most');
        return this.lines(showRegions(s, args[0]));
      case 'trace':
        return this.trace(args);
      case 'log':
        return this.log(args);
      case 'source': {
        if (args.length !== 1) throw new CommandError('source needs a FILE');
        let text: string;
        try {
          text = new TextDecoder().decode(readInputFile(args[0]!, args[0]!, 1024 * 1024));
        } catch (error) {
          throw new CommandError(error instanceof Error ? error.message.split('\n')[0]! : String(error));
        }
        this.pending.splice(this.head, 0, ...text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1));
        return null;
      }
      case 'echo':
        this.print(line.trim().slice(line.trim().indexOf(' ') + 1 || line.trim().length));
        return null;
      case 'help': {
        if (args.length === 0) return this.lines(helpList());
        const help = helpFor(args[0]!);
        if (!help) throw new CommandError(`no command '${args[0]}' (help lists them)`);
        return this.lines(help);
      }
      case 'quit':
        this.quit();
        return null;
      default:
        throw new CommandError('not implemented');
    }
  }

  private canRun(): void {
    const ended = this.session.ended;
    if (!ended) return;
    throw new CommandError('the machine has stopped: nothing more to run (reverse-step and reverse-continue go back)');
  }

  /** The thread of the current stop point. */
  private currentThread(): number {
    const thread = this.session.stop.thread;
    if (thread === 0) throw new CommandError('no thread has run yet (step first)');
    return thread;
  }

  private nextGoal(): RunGoal {
    return { ...NO_GOAL, thread: this.session.stop.thread };
  }

  private handoff(request: Omit<Handoff, 'state' | 'pending'>): never {
    if (this.logFd !== null) {
      try {
        closeSync(this.logFd);
      } catch {
        // nothing to do
      }
      this.logFd = null;
    }
    return this.io.handoff({ ...request, state: this.state, pending: this.pending.slice(this.head) });
  }

  private names(): NameResolver {
    return {
      space: (text) => {
        const space = spaceArgument(this.session, text);
        return { id: space.id, directory: space.pageDirectory };
      },
    };
  }

  private breakpointNumbers(args: readonly string[]): number[] {
    return args.map((a) => {
      const number = parseNumber(a, 'a breakpoint number', 1e9);
      if (!this.state.breakpoints.some((b) => b.number === number)) throw new CommandError(`no breakpoint ${a} (info breakpoints lists them)`);
      return number;
    });
  }

  private info(args: string[]): RunGoal | null {
    const [what, ...rest] = args;
    if (what === undefined) throw new CommandError('info what? breakpoints, checkpoints, where, or a state command (help info)');
    if (what === 'breakpoints' || what === 'b' || what === 'break' || what === 'watchpoints') {
      if (this.state.breakpoints.length === 0) return this.lines(['no breakpoints or watchpoints']);
      const rows = [['num', 'type', 'enabled', 'hits', 'what'], ...this.state.breakpoints.map((b) => [String(b.number), b.what === 'watch' ? 'watchpoint' : 'breakpoint', b.enabled ? 'yes' : 'no', String(b.hits), describeBreakpoint(b)])];
      return this.lines(table(rows));
    }
    if (what === 'checkpoints') {
      const c = this.session.checkpoints;
      return this.lines([`a checkpoint is the first stop point past each ${CHECKPOINT_CYCLES.toLocaleString('en-US')} cycles: ${c.length} passed so far${c.length ? `, the last at #${c[c.length - 1]} (cycle ${this.session.log.cycle(c[c.length - 1]!)})` : ''}`, 'going back replays from the nearest machine kept at a checkpoint before the target, or from the boot']);
    }
    if (what === 'where' || what === 'position') return this.lines(this.where());
    const command = findCommand(what === 'registers' ? 'regs' : what);
    if (!command || !['threads', 'spaces', 'regs', 'creg', 'counters', 'kip', 'tab', 'tlb', 'frames', 'containers', 'mapping', 'page'].includes(command.name)) {
      throw new CommandError(`info ${what}: not something to show (breakpoints, checkpoints, where, threads, spaces, registers, creg, counters, kip, tab, tlb, frames, containers)`);
    }
    return this.run(command.name, rest, command.name, `${command.name} ${rest.join(' ')}`);
  }

  private where(): string[] {
    const s = this.session;
    const out = [this.stopLine(s.stop)];
    if (s.ended) out.push('the boot has ended');
    else if (s.runningThread) out.push(`running thread ${threadName(s.runningThread)}`);
    return out;
  }

  private trace(args: string[]): RunGoal | null {
    const [mode, ...rest] = args;
    const kinds = rest.flatMap((k) => k.split(',')).filter((k) => k);
    const all = kinds.length === 1 && kinds[0] === 'all';
    for (const k of kinds) if (!all && stopKindCode(k) < 0) throw new CommandError(`unknown kind '${k}': ${STOP_KINDS.join(', ')} or all`);
    const chosen = all ? [...STOP_KINDS] : kinds;
    if (mode === undefined) return this.lines([this.state.trace.length ? `tracing ${this.state.trace.join(', ')}` : 'tracing nothing']);
    if (mode === 'on') {
      if (chosen.length === 0) throw new CommandError(`trace on needs kinds: ${STOP_KINDS.join(', ')} or all`);
      this.state.trace = STOP_KINDS.filter((k) => this.state.trace.includes(k) || chosen.includes(k));
    } else if (mode === 'off') {
      this.state.trace = chosen.length === 0 ? [] : this.state.trace.filter((k) => !chosen.includes(k));
    } else throw new CommandError(`trace on KINDS or trace off [KINDS], not '${mode}'`);
    this.session.traceMask = this.state.trace.reduce((mask, kind) => mask | (1 << stopKindCode(kind)), 0);
    return this.lines([this.state.trace.length ? `tracing ${this.state.trace.join(', ')}` : 'tracing nothing']);
  }

  private log(args: string[]): RunGoal | null {
    if (args.length !== 1) throw new CommandError('log FILE, or log off');
    if (args[0] === 'off') this.print(this.state.logFile === null ? 'not logging' : `logging to ${this.state.logFile} stopped`);
    if (this.logFd !== null) {
      try {
        closeSync(this.logFd);
      } catch {
        // nothing to do
      }
      this.logFd = null;
    }
    if (args[0] === 'off') {
      this.state.logFile = null;
      return null;
    }
    try {
      this.logFd = openSync(args[0]!, 'w');
    } catch (error) {
      this.state.logFile = null;
      throw new CommandError(`cannot write ${args[0]}: ${reason(error)}`);
    }
    this.state.logFile = args[0]!;
    return this.lines([`logging to ${args[0]}`]);
  }
}


/** The last position before `before` where an enabled breakpoint (watchpoints by the log's bits) would stop. */
export function lastHitBefore(session: MachineSession, breakpoints: readonly Breakpoint[], before: number): number {
  const log = session.log;
  const enabled = breakpoints.filter((b) => b.enabled);
  const watching = enabled.some((b) => b.what === 'watch');
  for (let p = Math.min(before - 1, log.length); p >= 1; p--) {
    if (watching && log.watchHit(p)) return p;
    const facts = { kind: log.kind(p), thread: log.thread(p), space: log.space(p), label: log.label(p), cycle: log.cycle(p), previousCycle: log.cycle(p - 1) };
    for (const b of enabled) if (b.what !== 'watch' && stopsAt(b, facts)) return p;
  }
  return 0;
}

