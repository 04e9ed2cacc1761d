// mm-bench: the loops the paging benchmarks time, between the marks (tools/bench-selfpaging.ts).
//
//   mode=faults pages=N resident=R access=read|write pager=self|default|trivial
//       maps R + N pages (guarantee R + N: no eviction), touches R of them before the start
//       mark and N between the marks, one access each: N faults, each a fresh page served by
//       the pager: libhurd-mm's; with pager=default the default pager every task starts with;
//       with pager=trivial a pager thread of the task's own that maps each page with one map
//       item from a window of frames physmem mapped beforehand (the floor for any pager in the
//       task: the fault, the pager's receive and reply, the map, the restart). With warm=W a
//       task made from this module first takes W faults the same way (the host's compiler warms
//       up on the same code) and holds its frames until the end, before the R resident pages
//       are touched: runs that differ only in R then compare the same code, equally warm
//   mode=pageouts pages=N guarantee=G rounds=K
//       writes N pages (N > G) in order K times between the marks: past the first G pages
//       every fault evicts a written page, which goes to the store
//
// It prints `mm-bench: ...` with what it did, and the stats line.

import { ExchangeControl, mrOffset, TCR_MY_GLOBAL_ID, type Op, type ProgramBody, type ProgramEnv } from '../../libl4/abi.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { readTcr, setAcceptor } from '../../libl4/registers.ts';
import { exchangeRegisters, replyWait, wait } from '../../libl4/syscalls.ts';
import * as mm from '../../libhurd-mm/index.ts';
import * as physmem from '../physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import * as task from '../task/client.ts';
import { answer, ask, mark, nameOf, next, report } from './mm-common.ts';

/** Where the default and trivial pagers' pages go. */
const DEFAULT_BASE = 0x10000000;
/** The trivial pager's window of premapped frames. */
const WINDOW = 0x80000000;

/**
 * A pager thread that maps page i of [base, base + pages) from frame i of a window physmem
 * filled beforehand, one map item per fault, and makes it the caller's pager.
 */
function* trivialPager(env: ProgramEnv, base: number, pages: number): Op<void> {
  const cap = yield* physmem.create(env, { frames: pages });
  yield* physmem.map(env, cap, 0, pages, WINDOW, Rights.ReadWrite);
  const pager = yield* task.createThread(env, function* trivial(penv: ProgramEnv): Op<void> {
    yield* setAcceptor(penv, 0);
    let from = (yield* wait(penv)).from;
    for (;;) {
      const address = (yield* penv.read32(penv.utcb + mrOffset(1))) >>> 0;
      const page = (address & ~0xfff) >>> 0;
      const [item0, item1] = mapItem(page, fpage(WINDOW + (page - base), 12, Rights.ReadWrite));
      yield* penv.writeWords(penv.utcb + mrOffset(0), [msgTag(0, 0, 2), item0, item1]);
      from = (yield* replyWait(penv, from)).from;
    }
  });
  yield* exchangeRegisters(env, env.utcb, ExchangeControl.SetPager, 0, 0, 0, 0, pager);
}

const bench: ProgramBody = program(function* main(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pages = numberOption(options, 'pages', 1024);
  if (options.role === 'warm') {
    // The warm-up task: W faults through libhurd-mm, then wait to be let go.
    yield* mm.startPager(env, { guarantee: pages });
    const base = yield* mm.mmap(env, { size: pages * 4096 });
    for (let p = 0; p < pages; p++) yield* env.read32(base + p * 4096);
    yield* ask(env, numberOption(options, 'parent', 0), []);
    return 0;
  }
  if (options.mode === 'pageouts') {
    const guarantee = numberOption(options, 'guarantee', 64);
    const rounds = numberOption(options, 'rounds', 2);
    yield* mm.startPager(env, { guarantee });
    const base = yield* mm.mmap(env, { size: pages * 4096 });
    const since = yield* mark(env, 'start');
    for (let round = 0; round < rounds; round++) for (let p = 0; p < pages; p++) yield* env.write32(base + p * 4096, round + p);
    yield* mark(env, 'end');
    yield* print(env, `mm-bench: ${rounds} rounds of writes over ${pages} pages with ${guarantee} frames\n`);
    yield* report(env, since);
    return 0;
  }
  const resident = numberOption(options, 'resident', 0);
  const write = options.access === 'write';
  const warm = numberOption(options, 'warm', 0);
  let warmer = 0;
  if (warm > 0) {
    yield* task.createTask(env, bench, `role=warm pages=${warm} parent=${yield* readTcr(env, TCR_MY_GLOBAL_ID)}`);
    warmer = (yield* next(env)).from;
  }
  const total = resident + pages;
  let base = DEFAULT_BASE;
  const self = options.pager !== 'default' && options.pager !== 'trivial';
  if (self) {
    yield* mm.startPager(env, { guarantee: total });
    base = yield* mm.mmap(env, { size: total * 4096 });
  } else if (options.pager === 'trivial') yield* trivialPager(env, base, total);
  for (let p = 0; p < resident; p++) yield* env.read32(base + p * 4096);
  const since = self ? yield* mark(env, 'start') : null;
  if (!self) yield* print(env, `mm: start ${yield* nameOf(env)} task=${yield* task.self(env)}\n`);
  const first = base + resident * 4096;
  if (write) for (let p = 0; p < pages; p++) yield* env.write32(first + p * 4096, p);
  else for (let p = 0; p < pages; p++) yield* env.read32(first + p * 4096);
  if (since) yield* mark(env, 'end');
  else yield* print(env, `mm: end ${yield* nameOf(env)} task=${yield* task.self(env)}\n`);
  yield* print(env, `mm-bench: ${pages} faults after ${resident} resident pages (${self ? 'libhurd-mm' : `the ${options.pager} pager`})\n`);
  if (since) yield* report(env, since);
  if (warmer) yield* answer(env, warmer, []);
  return 0;
});

export default bench;
