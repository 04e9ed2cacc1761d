// libhurd-mm cases, each in a task of its own: the parent starts one child task per case named
// on its command line (`cases=a,b,c`, or `set=central`: the cases that mean the same under the
// central pager; default: all), watches it die and prints `mm-cases: CASE exited with
// status S` (or its death cause). A child prints `CASE: ...` lines; cases that end in a
// segmentation fault show libhurd-mm's line and status 139. With `frames` the parent also
// prints physmem's free frames before and after all cases (nothing may leak).
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { readTcr } from '../../../libl4/registers.ts';
import { Rights } from '../../../libl4/fpage.ts';
import * as mm from '../../../libhurd-mm/index.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import { commandLineOptions, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, hex, next, refusal, sleep } from './common.ts';
import * as storeClient from '../../../servers/store/client.ts';

const P = 4096;

/** The POSIX name of what `op` threw, or 'ok'. */
const code = refusal;

/** Pages of [base, base + n pages) resident, as a string of 0 and 1. */
function* residency(env: ProgramEnv, base: number, n: number): Op<string> {
  let out = '';
  for (let i = 0; i < n; i++) out += String(yield* mm.resident(env, base + i * P, P));
  return out;
}

const cases: Record<string, (env: ProgramEnv, out: (line: string) => Op<void>) => Op<number>> = {
  *'unmapped-read'(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 4 * P });
    yield* env.write32(base, 1);
    yield* out(`mapped at ${hex(base)}`);
    yield* env.read32(base + 16 * P);
    yield* out('survived');
    return 0;
  },
  *'readonly-write'(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 2 * P, rights: Rights.Read });
    yield* out(`reads ${yield* env.read32(base + 100)}`);
    yield* env.write32(base, 1);
    yield* out('survived');
    return 0;
  },
  *munmap(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 8 * P });
    for (let i = 0; i < 8; i++) yield* env.write32(base + i * P, 100 + i);
    yield* mm.munmap(env, base + 3 * P, 2 * P);
    let sum = 0;
    for (const i of [0, 1, 2, 5, 6, 7]) sum += yield* env.read32(base + i * P);
    yield* out(`outer pages sum ${sum}, resident ${yield* residency(env, base, 8)}`);
    // The hole can be mapped again, fresh.
    const again = yield* mm.mmap(env, { size: 2 * P, address: base + 3 * P });
    yield* out(`hole mapped again at +${(again - base) / P} reads ${yield* env.read32(again)}`);
    yield* mm.munmap(env, again, 2 * P);
    yield* env.read32(base + 4 * P);
    yield* out('survived');
    return 0;
  },
  *mprotect(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 4 * P });
    for (let i = 0; i < 4; i++) yield* env.write32(base + i * P, 7 * i);
    yield* mm.mprotect(env, base, 4 * P, Rights.Read);
    let sum = 0;
    for (let i = 0; i < 4; i++) sum += yield* env.read32(base + i * P);
    yield* out(`read-only, sum ${sum}`);
    yield* mm.mprotect(env, base + P, 2 * P, Rights.ReadWrite);
    yield* env.write32(base + P, 1000);
    yield* env.write32(base + 2 * P, 2000);
    yield* out(`middle writable again: ${yield* env.read32(base + P)} ${yield* env.read32(base + 2 * P)}, last ${yield* env.read32(base + 3 * P)}`);
    yield* out(`protect unmapped: ${yield* code(mm.mprotect(env, base + 3 * P, 2 * P, Rights.Read))}`);
    yield* mm.mprotect(env, base, P, 0);
    yield* out('page 0 inaccessible');
    yield* env.read32(base);
    yield* out('survived');
    return 0;
  },
  *'write-after-protect'(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 4 * P });
    yield* env.write32(base + 2 * P, 5);
    yield* mm.mprotect(env, base + 2 * P, P, Rights.Read);
    yield* env.write32(base + 3 * P, 6);
    yield* out('writes beside it');
    yield* env.write32(base + 2 * P, 7);
    yield* out('survived');
    return 0;
  },
  *refusals(env, out) {
    yield* out(`before startPager: ${yield* code(mm.mmap(env, { size: P }))}`);
    yield* mm.startPager(env, { guarantee: 8 });
    yield* out(`twice: ${yield* code(mm.startPager(env, { guarantee: 8 }))}`);
    const base = yield* mm.mmap(env, { size: 4 * P });
    const tries: [string, Op<unknown>][] = [
      ['size 0', mm.mmap(env, { size: 0 })],
      ['unaligned', mm.mmap(env, { size: P, address: 0x20000010 })],
      ['write-only', mm.mmap(env, { size: P, rights: Rights.Write })],
      ['kind', mm.mmap(env, { size: P, kind: 'swap' as never })],
      ['policy', mm.mmap(env, { size: P, policy: 'lru' as never })],
      ['overlap', mm.mmap(env, { size: P, address: base + P })],
      ['image', mm.mmap(env, { size: P, address: 0x300000 })],
      ['utcb', mm.mmap(env, { size: 2 * P, address: 0xbefff000 })],
      ['protect hole', mm.mprotect(env, base + 3 * P, 4 * P, Rights.Read)],
      ['advice', mm.madvise(env, base, P, 'random' as never)],
      ['advise hole', mm.madvise(env, base + 8 * P, P, 'willneed')],
      ['munmap unaligned', mm.munmap(env, base + 1, P)],
      ['munmap nothing', mm.munmap(env, base + 64 * P, P)],
    ];
    const results: string[] = [];
    for (const [what, op] of tries) results.push(`${what} ${yield* code(op)}`);
    yield* out(results.join(', '));
    // After all that the region still works.
    yield* env.write32(base + 3 * P, 42);
    yield* out(`still works: ${yield* env.read32(base + 3 * P)}`);
    return 0;
  },
  *advice(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 16 * P });
    for (let i = 0; i < 16; i++) yield* env.write32(base + i * P, 1 + i);
    // Pages 0-7 were paged out to make room for 8-15.
    let before = yield* mm.stats(env);
    yield* mm.madvise(env, base, 8 * P, 'willneed');
    let after = yield* mm.stats(env);
    yield* out(`willneed: ${after.prefetched - before.prefetched} prefetched, ${after.pageIns - before.pageIns} page-ins, resident ${yield* residency(env, base, 16)}`);
    before = after;
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += yield* env.read32(base + i * P);
    after = yield* mm.stats(env);
    yield* out(`then reading them: sum ${sum}, ${after.faults - before.faults} faults`);
    yield* mm.madvise(env, base, 4 * P, 'dontneed');
    yield* out(`dontneed: resident ${yield* residency(env, base, 16)}, page 0 reads ${yield* env.read32(base)}, page 5 reads ${yield* env.read32(base + 5 * P)}`);
    const seq = yield* mm.mmap(env, { size: 40 * P });
    yield* mm.madvise(env, seq, 40 * P, 'sequential');
    before = yield* mm.stats(env);
    for (let i = 0; i < 40; i++) yield* env.read32(seq + i * P);
    after = yield* mm.stats(env);
    yield* out(`sequential: 40 pages read with ${after.faults - before.faults} faults, ${after.prefetched - before.prefetched} prefetched`);
    yield* mm.madvise(env, seq, 40 * P, 'normal');
    yield* mm.munmap(env, seq, 40 * P);
    yield* mm.munmap(env, base, 16 * P);
    return 0;
  },
  *discard(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const cache = yield* mm.mmap(env, { size: 16 * P, kind: 'discardable' });
    for (let i = 0; i < 16; i++) yield* env.write32(cache + i * P + 8, 0xc0de0000 + i);
    const s = yield* mm.stats(env);
    let intact = 0;
    for (let i = 0; i < 16; i++) if ((yield* env.read32(cache + i * P + 8)) === 0xc0de0000 + i) intact++;
    const lost = yield* mm.discarded(env, cache, 16 * P);
    const t = yield* mm.stats(env);
    yield* out(`after writing 16: ${s.discards} discards, ${s.pageOuts} page-outs; reading back: ${intact} intact, ${lost} reported lost; ${t.pageOuts} page-outs, ${t.pageIns} page-ins`);
    yield* out(`reported again: ${yield* mm.discarded(env, cache, 16 * P)}`);
    return 0;
  },
  *clock(env, out) {
    yield* mm.startPager(env, { guarantee: 4, policy: 'clock' });
    const base = yield* mm.mmap(env, { size: 8 * P });
    for (let i = 0; i < 4; i++) yield* env.read32(base + i * P);
    // All four were referenced: the hand clears them all and evicts page 0.
    yield* env.read32(base + 4 * P);
    yield* out(`after 4: ${yield* residency(env, base, 8)}`);
    // Page 1 is used again: the hand spares it and takes page 2.
    yield* env.read32(base + P);
    yield* env.read32(base + 5 * P);
    yield* out(`after 1, 5: ${yield* residency(env, base, 8)}`);
    return 0;
  },
  *mru(env, out) {
    yield* mm.startPager(env, { guarantee: 4, policy: 'mru' });
    const base = yield* mm.mmap(env, { size: 8 * P });
    for (let i = 0; i < 5; i++) yield* env.read32(base + i * P);
    yield* out(`after 0-4: ${yield* residency(env, base, 8)}`);
    return 0;
  },
  *fifo(env, out) {
    yield* mm.startPager(env, { guarantee: 4, policy: 'fifo' });
    const base = yield* mm.mmap(env, { size: 8 * P });
    for (let i = 0; i < 4; i++) yield* env.read32(base + i * P);
    yield* env.read32(base);
    yield* env.read32(base + 4 * P);
    yield* out(`after 0-3, 0, 4: ${yield* residency(env, base, 8)}`);
    return 0;
  },
  *function(env, out) {
    const offered: string[] = [];
    let base = 0;
    yield* mm.startPager(env, {
      guarantee: 4,
      policy: (candidates) => {
        offered.push(candidates.map((c) => `${(c.address - base) / P}${c.referenced ? 'r' : ''}${c.dirty ? 'd' : ''}`).join(' '));
        // Keep page 0 and the written one; evict the other with the highest address.
        return candidates.filter((c) => c.address !== base && !c.dirty).sort((a, b) => b.address - a.address)[0]!;
      },
    });
    base = yield* mm.mmap(env, { size: 8 * P });
    yield* env.read32(base);
    yield* env.write32(base + P, 1);
    yield* env.read32(base + 2 * P);
    yield* env.read32(base + 3 * P);
    yield* env.read32(base + 4 * P);
    yield* env.read32(base + 5 * P);
    yield* out(`offered [${offered.join('] [')}], resident ${yield* residency(env, base, 8)}`);
    return 0;
  },
  *'region-policy'(env, out) {
    // The task's clock picks the region whose pages went cold; that region's mru its page.
    yield* mm.startPager(env, { guarantee: 6, policy: 'clock' });
    const table = yield* mm.mmap(env, { size: 8 * P, policy: 'mru' });
    const index = yield* mm.mmap(env, { size: 2 * P, policy: 'clock' });
    yield* env.read32(index);
    yield* env.read32(index + P);
    for (let i = 0; i < 4; i++) yield* env.read32(table + i * P);
    // Full: 2 index + 4 table pages. Another table page: clears all bits, the hand lands on
    // an index page (the first in), and the index's own clock gives one up.
    yield* env.read32(table + 4 * P);
    yield* out(`table ${yield* residency(env, table, 8)} index ${yield* residency(env, index, 2)}`);
    // Split the table's region (its scope goes with its pages): a write-protected middle.
    yield* mm.mprotect(env, table + 2 * P, 2 * P, Rights.Read);
    yield* env.read32(index + P);
    yield* env.read32(index);
    for (const i of [5, 6, 7]) yield* env.read32(table + i * P);
    yield* out(`table ${yield* residency(env, table, 8)} index ${yield* residency(env, index, 2)}`);
    return 0;
  },
  *threads(env, out) {
    yield* mm.startPager(env, { guarantee: 8 });
    const base = yield* mm.mmap(env, { size: 16 * P });
    const before = yield* mm.stats(env);
    const main = yield* readTcr(env, TCR_MY_GLOBAL_ID);
    yield* task.createThread(env, function* worker(wenv: ProgramEnv): Op<void> {
      for (let i = 0; i < 16; i++) yield* wenv.write32(base + i * P, 3 * i);
      // Done: wait until the main thread has reported.
      yield* ask(wenv, main, []);
      // A thread created after startPager is paged by libhurd-mm: no catch-all.
      yield* wenv.read32(0x7000000);
    });
    const { from } = yield* next(env);
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += yield* env.read32(base + i * P);
    const after = yield* mm.stats(env);
    yield* out(`worker wrote 16 pages, sum ${sum}, ${after.faults - before.faults} faults, ${after.pageOuts} page-outs`);
    yield* answer(env, from, []);
    // The worker's fault ends the task.
    for (;;) yield* next(env);
  },
};

/** The cases whose meaning does not depend on who decides evictions. */
const CENTRAL_SET = ['unmapped-read', 'readonly-write', 'munmap', 'mprotect', 'write-after-protect', 'refusals', 'advice', 'discard', 'threads'];

const child = program(function* child(env: ProgramEnv, args: string): Op<number> {
  const name = commandLineOptions(args).case!;
  return yield* cases[name]!(env, (line) => print(env, `${name}: ${line}\n`));
});

export default program(function* parent(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const names = options.set === 'central' ? CENTRAL_SET : (options.cases ?? Object.keys(cases).join(',')).split(',');
  const before = yield* physmem.stats(env);
  for (const name of names) {
    if (!cases[name]) {
      yield* print(env, `mm-cases: no case ${name}\n`);
      return 1;
    }
    const id = yield* task.createTask(env, child, `case=${name}`);
    yield* task.watch(env, id);
    for (;;) {
      const message = yield* next(env);
      const death = task.deathNotice(message.label, message.words);
      if (!death || death.task !== id) continue;
      yield* print(env, `mm-cases: ${name} ${death.cause === task.DeathCause.Exited ? `exited with status ${death.status}` : task.DEATH_CAUSE_NAMES[death.cause]}\n`);
      break;
    }
  }
  const after = yield* physmem.stats(env);
  if ('frames' in options) {
    yield* print(env, `mm-cases: free frames ${before.free} before, ${after.free} after; guaranteed ${before.guaranteed} before, ${after.guaranteed} after\n`);
    // The store forgets a task's pages when it dies (it is told when it next waits).
    const store = yield* storeClient.find(env);
    let kept = (yield* storeClient.stats(env, store)).keptTotal;
    for (let tries = 0; kept > 0 && tries < 10; tries++) {
      yield* sleep(env, 1000);
      kept = (yield* storeClient.stats(env, store)).keptTotal;
    }
    yield* print(env, `mm-cases: the store keeps ${kept} pages\n`);
  }
  return 0;
});
