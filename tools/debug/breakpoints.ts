// Breakpoints and watchpoints as the console keeps them: what each one is, its condition, and
// whether a stop point matches it. Plain data, so the table moves with the console when another
// machine takes over after a reverse command (tools/debug/README.md).
//
//   break EVENT [if COND]         a stop point of that kind (step, syscall, ipc, fault, map,
//                                 unmap, switch, halt, exception, interrupt)
//   break thread T [if COND]      every program step of thread T
//   break label L [if COND]       an IPC whose message carries label L
//   break cycle N [if COND]       the first stop point at or past cycle N
//   watch [read|write|access] SPACE:ADDR [LEN] [if COND]
//   watch [read|write|access] phys ADDR [LEN] [if COND]
//   COND: thread T, space S, or both joined by `and`

import { STOP_KINDS, STEP, stopKindCode } from './event-log.ts';
import { CommandError, hex32, parseNumber, parseThread, type ThreadRef } from './format.ts';

export type WatchAccess = 'read' | 'write' | 'access';

export interface WatchSpec {
  readonly access: WatchAccess;
  /** A physical address (any space), or a linear one in `space`. */
  readonly physical: boolean;
  /** The space's number (-1 for a physical watch) and its page directory then. */
  readonly space: number;
  readonly directory: number;
  readonly address: number;
  readonly length: number;
}

export interface Condition {
  readonly thread: ThreadRef | null;
  readonly space: number | null;
}

export interface Breakpoint {
  readonly number: number;
  enabled: boolean;
  /** Times it stopped the machine. */
  hits: number;
  readonly what: 'event' | 'thread' | 'label' | 'cycle' | 'watch';
  readonly event: number;
  readonly thread: ThreadRef | null;
  readonly label: number;
  readonly cycle: number;
  readonly watch: WatchSpec | null;
  readonly condition: Condition;
}

/** What a stop point is, as breakpoints see it. */
export interface StopFacts {
  readonly kind: number;
  readonly thread: number;
  readonly space: number;
  readonly label: number;
  readonly cycle: number;
  /** The cycle of the stop point before it. */
  readonly previousCycle: number;
}

/** What resolves the names in a breakpoint: spaces and threads of the machine. */
export interface NameResolver {
  /** The space a SPACE argument names (a space number or a thread): its number and directory. */
  space(text: string): { readonly id: number; readonly directory: number };
}

export function threadMatches(ref: ThreadRef, id: number): boolean {
  return id >>> 14 === ref.number && (ref.version < 0 || (id & 0x3fff) === ref.version);
}

function conditionHolds(condition: Condition, thread: number, space: number): boolean {
  if (condition.thread && !threadMatches(condition.thread, thread)) return false;
  if (condition.space !== null && space !== condition.space) return false;
  return true;
}

/** Does breakpoint `b` (not a watch) stop at this stop point? */
export function stopsAt(b: Breakpoint, s: StopFacts): boolean {
  if (!b.enabled) return false;
  switch (b.what) {
    case 'event':
      if (s.kind !== b.event) return false;
      break;
    case 'thread':
      if (s.kind !== STEP || !threadMatches(b.thread!, s.thread)) return false;
      break;
    case 'label':
      if (s.kind !== stopKindCode('ipc') || s.label !== b.label) return false;
      break;
    case 'cycle':
      if (!(s.cycle >= b.cycle && s.previousCycle < b.cycle)) return false;
      break;
    default:
      return false;
  }
  return conditionHolds(b.condition, s.thread, s.space);
}

/** Does watchpoint `b` take an access of `write` by `thread` in `space`? (its range is checked by the watcher) */
export function watchTakes(b: Breakpoint, write: boolean, thread: number, space: number): boolean {
  if (!b.enabled || b.what !== 'watch') return false;
  const access = b.watch!.access;
  if (access === 'read' && write) return false;
  if (access === 'write' && !write) return false;
  return conditionHolds(b.condition, thread, space);
}

/** Splits `... if COND` off a breakpoint's words and parses the condition. */
function splitCondition(args: readonly string[], names: NameResolver): { readonly rest: string[]; readonly condition: Condition } {
  const at = args.indexOf('if');
  if (at < 0) return { rest: [...args], condition: { thread: null, space: null } };
  const words = args.slice(at + 1);
  let thread: ThreadRef | null = null;
  let space: number | null = null;
  if (words.length === 0) throw new CommandError('a condition is needed after if (thread T, space S, or both joined by and)');
  for (let i = 0; i < words.length; i += 3) {
    const [key, value, joiner] = [words[i], words[i + 1], words[i + 2]];
    if (key === 'thread') thread = parseThread(value);
    else if (key === 'space') {
      if (value === undefined) throw new CommandError('a space is needed after if space');
      space = names.space(value).id;
    } else throw new CommandError(`unknown condition '${key}': conditions are thread T and space S`);
    if (joiner !== undefined && joiner !== 'and') throw new CommandError(`conditions are joined by and, not '${joiner}'`);
    if (joiner === 'and' && words[i + 3] === undefined) throw new CommandError('a condition is needed after and');
  }
  return { rest: args.slice(0, at), condition: { thread, space } };
}

/** `break ...`: the breakpoint its words describe. */
export function parseBreak(args: readonly string[], number: number, names: NameResolver): Breakpoint {
  const { rest, condition } = splitCondition(args, names);
  const base = { number, enabled: true, hits: 0, event: -1, thread: null, label: -1, cycle: -1, watch: null, condition };
  const [what, value, extra] = rest;
  if (what === undefined) throw new CommandError(`break needs what to stop at: an event (${STOP_KINDS.join(', ')}), thread T, label L or cycle N`);
  if (extra !== undefined) throw new CommandError(`unexpected '${extra}' (a condition starts with if)`);
  const event = stopKindCode(what);
  if (event >= 0) {
    if (value !== undefined) throw new CommandError(`unexpected '${value}' after break ${what} (a condition starts with if)`);
    return { ...base, what: 'event', event };
  }
  if (what === 'thread') return { ...base, what: 'thread', thread: parseThread(value) };
  if (what === 'label') return { ...base, what: 'label', label: parseNumber(value, 'a label', 0xffff) };
  if (what === 'cycle') return { ...base, what: 'cycle', cycle: parseNumber(value, 'a cycle', Number.MAX_SAFE_INTEGER) };
  throw new CommandError(`cannot break on '${what}': give an event (${STOP_KINDS.join(', ')}), thread T, label L or cycle N`);
}

/** Longest range a watchpoint covers. */
const WATCH_LIMIT = 4096;

/** `watch ...`: the watchpoint its words describe. */
export function parseWatch(args: readonly string[], number: number, names: NameResolver): Breakpoint {
  const { rest, condition } = splitCondition(args, names);
  let words = rest;
  let access: WatchAccess = 'write';
  if (words[0] === 'read' || words[0] === 'write' || words[0] === 'access') {
    access = words[0];
    words = words.slice(1);
  }
  let spec: WatchSpec;
  if (words[0] === 'phys') {
    const address = parseNumber(words[1], 'a physical address');
    const length = parseNumber(words[2] ?? '1', 'a length', WATCH_LIMIT);
    if (words.length > 3) throw new CommandError(`unexpected '${words[3]}' (a condition starts with if)`);
    if (length < 1) throw new CommandError('a watched range is at least 1 byte');
    spec = { access, physical: true, space: -1, directory: -1, address, length };
  } else {
    const target = words[0];
    const colon = target?.indexOf(':') ?? -1;
    if (target === undefined || colon < 0) throw new CommandError('watch needs SPACE:ADDR (a linear address in a space) or phys ADDR');
    const space = names.space(target.slice(0, colon));
    const address = parseNumber(target.slice(colon + 1), 'an address');
    const length = parseNumber(words[1] ?? '1', 'a length', WATCH_LIMIT);
    if (words.length > 2) throw new CommandError(`unexpected '${words[2]}' (a condition starts with if)`);
    if (length < 1) throw new CommandError('a watched range is at least 1 byte');
    spec = { access, physical: false, space: space.id, directory: space.directory, address, length };
  }
  if (spec.address + spec.length > 2 ** 32) throw new CommandError('the watched range runs past the end of the address space');
  return { number, enabled: true, hits: 0, what: 'watch', event: -1, thread: null, label: -1, cycle: -1, watch: spec, condition };
}

/** A breakpoint as `info breakpoints` shows it. */
export function describeBreakpoint(b: Breakpoint): string {
  let what: string;
  switch (b.what) {
    case 'event':
      what = `break ${STOP_KINDS[b.event]}`;
      break;
    case 'thread':
      what = `break thread ${b.thread!.text}`;
      break;
    case 'label':
      what = `break label ${hex(b.label)}`;
      break;
    case 'cycle':
      what = `break cycle ${b.cycle}`;
      break;
    default: {
      const w = b.watch!;
      const where = w.physical ? `phys ${hex32(w.address)}` : `${w.space}:${hex32(w.address)}`;
      what = `watch ${w.access} ${where}${w.length > 1 ? ` ${w.length}` : ''}`;
    }
  }
  const condition = [b.condition.thread ? `thread ${b.condition.thread.text}` : '', b.condition.space !== null ? `space ${b.condition.space}` : ''].filter((c) => c).join(' and ');
  return `${what}${condition ? ` if ${condition}` : ''}`;
}

function hex(value: number): string {
  return '0x' + value.toString(16);
}

