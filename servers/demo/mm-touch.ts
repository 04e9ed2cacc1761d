// mm-touch: a self-paging task that touches `factor` times more memory than its guarantee.
//
//   guarantee=G factor=F writes=W seed=S (and extra=, policy= as mm-common.ts)
//
// It maps F * G pages, writes W seeded random words at seeded random places in them (W defaults
// to 16 per page), keeping a shadow copy of every word outside the machine (in the program's
// own heap, not in emulated memory), then reads every page back whole and compares it with the
// shadow. It prints `mm-touch: N pages, W writes, checksum C, D words wrong`; C is the FNV-1a
// hash of the pages' words in order, so a test can check it against its own computation.
// Exit status 0 only when every word matches.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import * as mm from '../../libhurd-mm/index.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { mark, pagerOptions, report, seeded } from './mm-common.ts';

export default program(function* touch(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pager = pagerOptions(options, 64);
  const factor = numberOption(options, 'factor', 4);
  const pages = Math.max(1, pager.guarantee * factor);
  const writes = numberOption(options, 'writes', pages * 16);
  const random = seeded(numberOption(options, 'seed', 1));
  yield* mm.startPager(env, pager);
  const base = yield* mm.mmap(env, { size: pages * 4096 });
  const shadow = new Uint32Array(pages * 1024);
  const since = yield* mark(env, 'start');
  for (let i = 0; i < writes; i++) {
    const word = random(pages * 1024);
    const value = random();
    shadow[word] = value;
    yield* env.write32(base + word * 4, value);
  }
  let hash = 0x811c9dc5;
  let wrong = 0;
  for (let page = 0; page < pages; page++) {
    const words = yield* env.readWords(base + page * 4096, 1024);
    for (let i = 0; i < 1024; i++) {
      const value = words[i]! >>> 0;
      if (value !== shadow[page * 1024 + i]) wrong++;
      hash = Math.imul(hash ^ value, 0x01000193) >>> 0;
    }
  }
  yield* mark(env, 'end');
  yield* print(env, `mm-touch: ${pages} pages, ${writes} writes, checksum ${hash.toString(16).padStart(8, '0')}, ${wrong} words wrong\n`);
  yield* report(env, since);
  return wrong === 0 ? 0 : 1;
});
