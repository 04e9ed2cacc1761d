// mm-database: a table scan repeated over more pages than the task has frames, with index
// lookups in between: the access pattern LRU handles worst and a database knows best.
//
//   guarantee=F table=T index=I passes=P every=K app=0|1 seed=S (and extra=, policy=)
//
// The table is T pages (default 1.5 F), the index I pages (default F / 8). Both are filled
// first; then each of P passes (default 4) reads every table page in order and, after every K
// of them (default 4), one index page drawn with the seed. With app=1 the program maps the
// table with policy 'mru' and the index with 'clock' (its own knowledge: a scanned page will
// not be needed again until every other has been); with app=0 both take the task's policy.
// Under clock every pass misses on every table page (each is evicted just before it is needed
// again); under the application's policy the table keeps what fits and only the rest misses.
// It prints `mm-database: P passes over T table pages, I index pages, sum S (expected E)`.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import * as mm from '../../libhurd-mm/index.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { mark, pagerOptions, report, seeded } from './mm-common.ts';

/** The word at `word` of page `page` of the table (or, with a different salt, the index). */
function content(salt: number, page: number, word: number): number {
  let x = Math.imul(page + 1, 0x9e3779b1) ^ Math.imul(word + salt, 0x85ebca77);
  x ^= x >>> 15;
  return Math.imul(x, 0xc2b2ae3d) >>> 0;
}

/** The words of each page a pass reads. */
const READ_WORDS = [0, 255, 511, 1023];

export default program(function* database(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pager = pagerOptions(options, 64);
  const frames = pager.guarantee;
  const tablePages = numberOption(options, 'table', Math.ceil(frames * 1.5));
  const indexPages = numberOption(options, 'index', Math.max(1, Math.floor(frames / 8)));
  const passes = numberOption(options, 'passes', 4);
  const every = Math.max(1, numberOption(options, 'every', 4));
  const app = numberOption(options, 'app', 0) === 1;
  const random = seeded(numberOption(options, 'seed', 7));
  yield* mm.startPager(env, pager);
  const table = yield* mm.mmap(env, { size: tablePages * 4096, policy: app ? 'mru' : undefined });
  const index = yield* mm.mmap(env, { size: indexPages * 4096, policy: app ? 'clock' : undefined });
  for (let p = 0; p < indexPages; p++) for (const w of READ_WORDS) yield* env.write32(index + p * 4096 + w * 4, content(1, p, w));
  for (let p = 0; p < tablePages; p++) for (const w of READ_WORDS) yield* env.write32(table + p * 4096 + w * 4, content(0, p, w));

  const since = yield* mark(env, 'start');
  let sum = 0;
  let expected = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (let p = 0; p < tablePages; p++) {
      for (const w of READ_WORDS) {
        sum = (sum + (yield* env.read32(table + p * 4096 + w * 4))) >>> 0;
        expected = (expected + content(0, p, w)) >>> 0;
      }
      if ((p + 1) % every === 0) {
        const q = random(indexPages);
        const w = READ_WORDS[random(READ_WORDS.length)]!;
        sum = (sum + (yield* env.read32(index + q * 4096 + w * 4))) >>> 0;
        expected = (expected + content(1, q, w)) >>> 0;
      }
    }
  }
  yield* mark(env, 'end');
  yield* print(env, `mm-database: ${passes} passes over ${tablePages} table pages, ${indexPages} index pages, sum ${sum} (expected ${expected})\n`);
  yield* report(env, since);
  return sum === expected ? 0 : 1;
});
