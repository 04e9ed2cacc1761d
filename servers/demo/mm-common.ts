// What the paging workloads (mm-*.ts) share: their pager options from the command line, the
// console lines tools and tests read, and a seeded generator.
//
//   guarantee=N extra=N policy=clock|fifo|mru|random   startPager's options
//
// Each workload prints `mm: start NAME task=ID` before its measured part and `mm: end NAME
// task=ID` after it (l4hurd compare reads the machine's cycles at the two lines), then
// `mm: stats NAME mode=... faults=... zeroFills=... ...` with libhurd-mm's counters for the
// part the marks enclose, and lines of its own results. NAME is the task's name: the module's,
// so two tasks of one workload in an image tell their lines apart. The same program runs self-paging or under the central pager,
// depending only on whether the image holds one.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import * as mm from '../../libhurd-mm/index.ts';
import { numberOption, print } from '../runtime.ts';
import { startupOf } from '../startup.ts';
import * as task from '../task/client.ts';

export { answer, ask, next } from './messages.ts';

/** startPager's options from a command line's `guarantee=`, `extra=` and `policy=` words. */
export function pagerOptions(options: Record<string, string>, guarantee: number): mm.PagerOptions {
  const policy = options.policy ?? 'clock';
  if (policy !== 'clock' && policy !== 'fifo' && policy !== 'mru' && policy !== 'random') throw new RangeError(`policy=${policy}: clock, fifo, mru or random`);
  return { guarantee: numberOption(options, 'guarantee', guarantee), extra: numberOption(options, 'extra', 0), policy };
}

/** The task's name in the marks and stats lines. */
export function* nameOf(env: ProgramEnv): Op<string> {
  const startup = yield* startupOf(env);
  return startup.name || `task${startup.task}`;
}

/** The start or end mark; the start mark resolves to the stats at that point. */
export function* mark(env: ProgramEnv, what: 'start' | 'end'): Op<mm.MmStats> {
  const s = yield* mm.stats(env);
  yield* print(env, `mm: ${what} ${yield* nameOf(env)} task=${yield* task.self(env)}\n`);
  return s;
}

const COUNTED = ['faults', 'zeroFills', 'pageIns', 'pageOuts', 'evictions', 'discards', 'prefetched', 'remaps', 'reclaims', 'framesGivenBack'] as const;
const HELD = ['framesHeld', 'guaranteed', 'extra', 'resident'] as const;

/**
 * The stats line of a workload: the counters since `since` (the stats at its start mark, so
 * the line covers what the marks enclose), and the frames held now.
 */
export function* report(env: ProgramEnv, since: mm.MmStats): Op<mm.MmStats> {
  const s = yield* mm.stats(env);
  const name = yield* nameOf(env);
  const counted = COUNTED.map((f) => `${f}=${s[f] - since[f]}`);
  yield* print(env, `mm: stats ${name} mode=${s.mode} ${[...counted, ...HELD.map((f) => `${f}=${s[f]}`)].join(' ')}\n`);
  return s;
}

/** A seeded generator (mulberry32): a draw in [0, n), or a 32-bit word with no argument. */
export function seeded(seed: number): (n?: number) => number {
  let state = seed >>> 0;
  return (n?: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const word = (t ^ (t >>> 14)) >>> 0;
    return n === undefined ? word : word % n;
  };
}

