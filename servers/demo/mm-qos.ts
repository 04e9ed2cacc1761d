// mm-qos: QoS firewalling (Nemesis's claim): a well-behaved task next to one that thrashes.
//
//   role=good guarantee=G pages=W rounds=R work=C sleep=US
//                 works on its W pages (default G - 8) once a round, R rounds (default 20): reads
//                 and writes each and computes C cycles on it (default 2,000), then sleeps US
//                 microseconds (default 2,000), like an interactive task; its guarantee fits
//                 its working set
//   role=thrash guarantee=G factor=F sweeps=N           sweeps F times (default 8) more pages
//                 than its guarantee in order, writing each (LRU's worst case), until the task
//                 named `good` is gone (alone: N sweeps, default 4)
//
// Self-paging, each task pages within its own guarantee: the thrasher's misses cost it alone.
// Under the central pager one clock runs over all frames, and the thrasher's faults push the
// sleeping task's pages out. The good task prints `mm-qos: good R rounds over W pages, D words
// wrong`; the marks enclose its rounds.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { TCR_MY_GLOBAL_ID } from '../../libl4/abi.ts';
import { readTcr } from '../../libl4/registers.ts';
import { receive } from '../../libl4/syscalls.ts';
import { timeout } from '../../libl4/timeout.ts';
import * as mm from '../../libhurd-mm/index.ts';
import { ServerError } from '../errno.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import * as task from '../task/client.ts';
import { mark, pagerOptions, report } from './mm-common.ts';

function* sleep(env: ProgramEnv, us: number): Op<void> {
  yield* receive(env, yield* readTcr(env, TCR_MY_GLOBAL_ID), timeout(us));
}

function* alive(env: ProgramEnv, name: string): Op<boolean> {
  try {
    yield* task.lookup(env, name);
    return true;
  } catch (error) {
    if (error instanceof ServerError && error.code === 'ESRCH') return false;
    throw error;
  }
}

export default program(function* qos(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  if (options.role === 'thrash') {
    const pager = pagerOptions(options, 16);
    const pages = pager.guarantee * numberOption(options, 'factor', 8);
    yield* mm.startPager(env, pager);
    const base = yield* mm.mmap(env, { size: pages * 4096 });
    // Next to the good task, until it is gone; alone, `sweeps` times (default 4).
    const watching = yield* alive(env, 'good');
    const sweeps = numberOption(options, 'sweeps', 4);
    for (let sweep = 0; watching ? yield* alive(env, 'good') : sweep < sweeps; sweep++) {
      for (let p = 0; p < pages; p++) yield* env.write32(base + p * 4096, sweep);
    }
    return 0;
  }
  const pager = pagerOptions(options, 56);
  const pages = numberOption(options, 'pages', Math.max(1, pager.guarantee - 8));
  const rounds = numberOption(options, 'rounds', 20);
  const pause = numberOption(options, 'sleep', 2000);
  const work = numberOption(options, 'work', 2000);
  yield* mm.startPager(env, pager);
  const base = yield* mm.mmap(env, { size: pages * 4096 });
  // The first round brings the working set in; the marks enclose the steady state.
  for (let p = 0; p < pages; p++) yield* env.write32(base + p * 4096, p);
  const since = yield* mark(env, 'start');
  let wrong = 0;
  for (let round = 1; round <= rounds; round++) {
    for (let p = 0; p < pages; p++) {
      const at = base + p * 4096;
      if ((yield* env.read32(at)) !== ((round - 1) * pages + p) >>> 0) wrong++;
      yield* env.write32(at, (round * pages + p) >>> 0);
      yield* env.work(work);
    }
    yield* sleep(env, pause);
  }
  yield* mark(env, 'end');
  yield* print(env, `mm-qos: good ${rounds} rounds over ${pages} pages, ${wrong} words wrong\n`);
  yield* report(env, since);
  return wrong === 0 ? 0 : 1;
});
