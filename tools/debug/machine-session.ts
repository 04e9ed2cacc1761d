// One machine under the debugger: the image loaded with the debugger's hooks, its position (the
// stop points passed), the log of those stop points, and the run towards a goal.
//
// Stop points are where the machine can pause: every trace event of the kernel (syscall, ipc,
// fault, map, unmap, switch, halt, exception, interrupt) and every program step (a resumption of
// a program thread's generator). The machine runs synchronously in this thread; at a stop point
// that meets the goal (or a breakpoint, a watchpoint, Ctrl-C) the hook calls the pause handler,
// which runs the console's commands right there, with the kernel's stack below it, and returns
// the next goal. Nothing the hooks do changes the machine: they read, and the run is the same
// one `l4hurd boot` makes (the same events, output and counters at every position).

import type { Machine } from '../../emulator/machine.ts';
import type { WatchedPhysicalMemory } from '../../emulator/watched-memory.ts';
import type { Kernel, TraceEvent } from '../../kernel/kernel.ts';
import { loadImage, type BootOptions, type BootResult, type LoadedImage } from '../loader.ts';
import { stopsAt, type Breakpoint } from './breakpoints.ts';
import { EventLog, STEP, STOP_KINDS, stopKindCode } from './event-log.ts';
import { applyWatches, Watches, type WatchHit } from './watch.ts';

/** Where a run stops (whichever comes first), besides the end of the boot. */
export interface RunGoal {
  /** Stop at this position (Infinity: no such goal). */
  readonly position: number;
  /** Stop at the first stop point at or past this cycle. */
  readonly cycle: number;
  /** Stop at the next program step of this thread (-1: none). */
  readonly thread: number;
  /** Stop at breakpoint and watchpoint hits, and on Ctrl-C. */
  readonly breakpoints: boolean;
}

export const NO_GOAL: RunGoal = { position: Infinity, cycle: Infinity, thread: -1, breakpoints: true };

/** The stop point the machine is paused at. */
export interface Stop {
  readonly position: number;
  readonly cycle: number;
  readonly kind: number;
  /** The thread it names (for a switch, the thread switched to); 0 for none. */
  readonly thread: number;
  readonly space: number;
  readonly label: number;
  readonly text: string;
  /** Why the machine stopped here. */
  readonly reason: 'start' | 'goal' | 'breakpoint' | 'interrupt' | 'ended';
  /** Breakpoints and watchpoints that matched. */
  readonly breakpoints: readonly number[];
  readonly watchHits: readonly WatchHit[];
  readonly watchHitCount: number;
}

/** How the boot ended, once it has. */
export interface Ended {
  readonly result: BootResult | null;
  /** The loader's or kernel's failure, when the boot did not end normally. */
  readonly failure: string | null;
}

/**
 * Thrown by a pause handler to abandon the run (tests driving a session in their own thread):
 * it unwinds the kernel's stack, and runMachine passes it on. The machine is then only fit for
 * looking at.
 */
export class Unwind extends Error {
  constructor() {
    super('the run was abandoned');
    this.name = 'Unwind';
  }
}

/** Checkpoints (tools/debug/README.md) are the first stop points past each multiple of this. */
export const CHECKPOINT_CYCLES = 50_000;

export class MachineSession {
  readonly loaded: LoadedImage;
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly log = new EventLog();
  readonly watches: Watches;
  /** Checkpoint positions passed, in order. */
  readonly checkpoints: number[] = [];
  position = 0;
  stop: Stop;
  ended: Ended | null = null;
  /** The thread running now (the last program step's, or the one switched to) and its space. */
  runningThread = 0;
  runningSpace = -1;
  /** Threads inside a system call (a syscall event since their last program step). */
  readonly inSystemCall = new Set<number>();
  /** Called at each pause with the stop; returns the goal to run on to. */
  pauseHandler: (stop: Stop) => RunGoal = () => NO_GOAL;
  /** Where the machine's console output goes (null: nowhere, while a replay goes back). */
  consoleOut: ((text: string) => void) | null = null;
  /** `trace on`: stop kinds (bit per kind) whose stop points are printed as the machine passes them. */
  traceMask = 0;
  traceOut: ((line: string) => void) | null = null;

  private breakpoints: readonly Breakpoint[] = [];
  private goal: RunGoal = NO_GOAL;
  private running = false;
  private readonly interrupt: Int32Array | null;

  /** Loads `image` with the debugger's hooks. Throws as loadImage. */
  constructor(image: Uint8Array, options: BootOptions, interrupt: Int32Array | null) {
    this.interrupt = interrupt;
    const session = this;
    this.loaded = loadImage(image, {
      ...options,
      console: (text) => this.consoleOut?.(text),
      watchable: true,
      trace: (event) => this.traceEvent(event),
      programStep: (thread) => this.stopPoint(STEP, thread, '', this.machine.cpu.cycles),
    });
    this.machine = this.loaded.machine;
    this.kernel = this.loaded.kernel;
    const words = this.machine.physical.words;
    const size = this.machine.physical.size;
    this.watches = new Watches({
      get thread() {
        return session.runningThread;
      },
      get space() {
        return session.runningSpace;
      },
      get cycle() {
        return session.machine.cpu.cycles;
      },
      peek32: (pa) => (pa + 4 <= size ? words[pa >>> 2]! : 0xffffffff),
    });
    this.stop = { position: 0, cycle: this.machine.cpu.cycles, kind: -1, thread: 0, space: -1, label: -1, text: 'the machine is booted, nothing has run', reason: 'start', breakpoints: [], watchHits: [], watchHitCount: 0 };
  }

  /** The breakpoint table the run checks (the console's), and the watches it arms. */
  setBreakpoints(breakpoints: readonly Breakpoint[]): void {
    this.breakpoints = breakpoints;
    applyWatches(this.watches, breakpoints, this.machine.cpu, this.machine.physical as WatchedPhysicalMemory);
  }

  /** Runs the boot from position 0 towards `goal`, pausing on the way, until it ends. Once. */
  runMachine(goal: RunGoal): Ended {
    this.goal = goal;
    this.running = true;
    let ended: Ended;
    try {
      ended = { result: this.loaded.run(), failure: null };
    } catch (error) {
      if (error instanceof Unwind) {
        this.running = false;
        throw error;
      }
      ended = { result: null, failure: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
    }
    this.running = false;
    this.ended = ended;
    return ended;
  }

  /** A program step's text: the program the thread runs. */
  private stepText(thread: { readonly ip: number } | undefined): string {
    if (!thread) return '';
    const named = this.loaded.bodyNames.get(thread.ip >>> 0);
    if (named) return named;
    const body = this.kernel.text.bodyAt(thread.ip);
    try {
      return body && body.name ? String(body.name) : '';
    } catch {
      return '';
    }
  }

  private traceEvent(event: TraceEvent): void {
    let thread = event.thread;
    if (event.kind === 'switch') {
      const to = /^to (\d+)\.(\d+)/.exec(event.text);
      if (to) thread = ((Number(to[1]) << 14) | Number(to[2])) >>> 0;
    }
    this.stopPoint(stopKindCode(event.kind), thread, event.text, event.cycle);
  }

  private stopPoint(kind: number, thread: number, text: string, cycle: number): void {
    if (!this.running) return;
    const position = ++this.position;
    const previousCycle = this.log.cycle(position - 1);
    const t = thread !== 0 ? this.kernel.threadById(thread) : undefined;
    const space = t ? t.space.id : -1;
    let label = -1;
    if (kind === IPC && t && t.utcbPhysical >= 0) label = this.machine.physical.words[(t.utcbPhysical + 0x100) >>> 2]! >>> 16;
    const watchHit = this.watches.hitCount > 0;
    this.log.append(kind, thread, space, label, cycle, watchHit);
    if (kind === STEP || kind === SWITCH) {
      this.runningThread = thread;
      this.runningSpace = space;
      if (kind === STEP) this.inSystemCall.delete(thread);
    } else if (kind === SYSCALL) this.inSystemCall.add(thread);
    if (Math.floor(cycle / CHECKPOINT_CYCLES) > Math.floor(previousCycle / CHECKPOINT_CYCLES)) this.checkpoints.push(position);
    if (this.traceMask & (1 << kind) && this.traceOut) this.traceOut(traceLine(position, cycle, kind, thread, kind === STEP ? this.stepText(t) : text));

    const goal = this.goal;
    let reason: Stop['reason'] | null = null;
    if (position >= goal.position || cycle >= goal.cycle || (kind === STEP && thread === goal.thread)) reason = 'goal';
    let hit: number[] = [];
    if (goal.breakpoints) {
      if (this.interrupt !== null && Atomics.load(this.interrupt, 1) !== 0) {
        Atomics.store(this.interrupt, 1, 0);
        reason ??= 'interrupt';
      }
      const facts = { kind, thread, space, label, cycle, previousCycle };
      for (const b of this.breakpoints) if (b.what !== 'watch' && stopsAt(b, facts)) hit.push(b.number);
      if (watchHit) for (const h of this.watches.hits) if (!hit.includes(h.breakpoint)) hit.push(h.breakpoint);
      if (hit.length > 0) reason = 'breakpoint';
    }
    if (reason === null) {
      if (watchHit) this.watches.clearHits();
      return;
    }
    if (reason !== 'breakpoint') hit = [];
    for (const number of hit) {
      const b = this.breakpoints.find((x) => x.number === number);
      if (b) b.hits++;
    }
    this.stop = {
      position,
      cycle,
      kind,
      thread,
      space,
      label,
      text: kind === STEP ? this.stepText(t) : text,
      reason,
      breakpoints: hit,
      watchHits: watchHit ? [...this.watches.hits] : [],
      watchHitCount: this.watches.hitCount,
    };
    this.watches.clearHits();
    this.goal = this.pauseHandler(this.stop);
  }
}

/** A stop point as the console writes it: `#position [cycle] kind thread text`, like boot --trace. */
export function traceLine(position: number, cycle: number, kind: number, thread: number, text: string): string {
  const name = STOP_KINDS[kind] ?? '?';
  if (kind === SWITCH) return `#${position} [${cycle}] switch ${text}`;
  return `#${position} [${cycle}] ${name} ${thread >>> 14}.${thread & 0x3fff}${text ? ` ${text}` : ''}`;
}

const IPC = stopKindCode('ipc');
const SWITCH = stopKindCode('switch');
const SYSCALL = stopKindCode('syscall');
