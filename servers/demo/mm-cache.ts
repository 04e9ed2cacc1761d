// mm-cache: lookups over cached objects whose cache the task can rebuild (Viengoos's
// discardable-memory experiment, in small).
//
//   guarantee=F objects=N pages=S lookups=L kind=discardable|anonymous rebuild=C seed=D
//
// The cache holds N objects (default 2 F) of S pages each (default 1), more than the task's
// frames. Each lookup draws an object from a Zipf distribution (s = 1) with the seed and reads
// it; an object whose pages do not hold its tag (never built, or dropped) is rebuilt: C cycles
// of work per page (default 5,000) and its pages written again. With kind=discardable the
// cache's pages are dropped under pressure, never written to the store; with kind=anonymous
// they are paged out and back in like any memory. It prints `mm-cache: L lookups over N
// objects, H hits, R rebuilds, W wrong, D discarded`, D being what discarded() reported.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import * as mm from '../../libhurd-mm/index.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { mark, pagerOptions, report, seeded } from './mm-common.ts';

/** The tag of page `page` of object `object` (never 0: a dropped page reads as zeros). */
function tag(object: number, page: number): number {
  return (Math.imul(object + 1, 0x9e3779b1) ^ Math.imul(page + 1, 0x85ebca77) ^ 0x80000000) >>> 0;
}

/** Words of a page a rebuild writes and a lookup checks, after the tag. */
const BODY_WORDS = 16;

export default program(function* cache(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pager = pagerOptions(options, 64);
  const objects = numberOption(options, 'objects', pager.guarantee * 2);
  const pages = Math.max(1, numberOption(options, 'pages', 1));
  const lookups = numberOption(options, 'lookups', objects * 8);
  const rebuild = numberOption(options, 'rebuild', 5000);
  const kind = options.kind === 'anonymous' ? 'anonymous' : 'discardable';
  const random = seeded(numberOption(options, 'seed', 3));
  // Zipf (s = 1): object i with weight 1 / (i + 1).
  const cdf = new Float64Array(objects);
  let total = 0;
  for (let i = 0; i < objects; i++) cdf[i] = total += 1 / (i + 1);
  const draw = (): number => {
    const x = (random() / 2 ** 32) * total;
    let low = 0;
    let high = objects - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (cdf[mid]! <= x) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  yield* mm.startPager(env, pager);
  const size = objects * pages * 4096;
  const base = yield* mm.mmap(env, { size, kind });

  const since = yield* mark(env, 'start');
  let hits = 0;
  let rebuilds = 0;
  let wrong = 0;
  for (let i = 0; i < lookups; i++) {
    const object = draw();
    const at = base + object * pages * 4096;
    let valid = true;
    for (let p = 0; p < pages && valid; p++) if ((yield* env.read32(at + p * 4096)) !== tag(object, p)) valid = false;
    if (!valid) {
      rebuilds++;
      for (let p = 0; p < pages; p++) {
        yield* env.work(rebuild);
        const words = [tag(object, p)];
        for (let w = 1; w <= BODY_WORDS; w++) words.push((tag(object, p) + w) >>> 0);
        yield* env.writeWords(at + p * 4096, words);
      }
    } else hits++;
    // Use the object: its body must be what was built.
    const body = yield* env.readWords(at + 4, BODY_WORDS);
    for (let w = 1; w <= BODY_WORDS; w++) if (body[w - 1] !== ((tag(object, 0) + w) >>> 0)) wrong++;
  }
  yield* mark(env, 'end');
  const dropped = yield* mm.discarded(env, base, size);
  yield* print(env, `mm-cache: ${lookups} lookups over ${objects} objects, ${hits} hits, ${rebuilds} rebuilds, ${wrong} wrong, ${dropped} discarded\n`);
  yield* report(env, since);
  return wrong === 0 ? 0 : 1;
});
