// mm-reclaim: physmem's reclaim requests with a self-paging task. The parent starts, from
// this module:
//   compliant  a self-paging task (guarantee G, up to E extra frames) that fills G + E pages
//              with seeded data, so that its extra frames hold written pages;
//   ignorer    a task that holds X extra frames with data in them through physmem directly and
//              registers a thread that ignores reclaim requests;
//   worker     a task that negotiates a guarantee and allocates all of it, which physmem can only
//              do by asking the other two for frames back: the compliant task gives its extra
//              frames back in time (evicting, writing its pages to the store), the ignorer is
//              revoked.
// Then the compliant task reads all its pages back and checks them. Lines start with
// `mm-reclaim:`. Command line: guarantee=G extra=E (the compliant task's), ignorer=X, short=N
// (the frames the worker's guarantee leaves physmem short of, default 400). The compliant task
// must write its E dirty extra pages to the store within physmem's reclaim time: with the
// store's default cost that needs about 70 µs a page (this image gives physmem reclaim-us=50000).
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { Rights } from '../../libl4/fpage.ts';
import { readTcr } from '../../libl4/registers.ts';
import * as mm from '../../libhurd-mm/index.ts';
import * as physmem from '../physmem/client.ts';
import * as policy from '../policy/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import * as task from '../task/client.ts';
import { answer, ask, next, seeded } from './mm-common.ts';

const P = 4096;
const IGNORER_BASE = 0x20000000;

const role = program(function* role(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const parent = numberOption(options, 'parent', 0);
  const out = (line: string): Op<void> => print(env, `mm-reclaim: ${options.role} ${line}\n`);
  if (options.role === 'compliant') {
    const guarantee = numberOption(options, 'guarantee', 32);
    const extra = numberOption(options, 'extra', 0);
    const pages = guarantee + extra;
    yield* mm.startPager(env, { guarantee, extra });
    const base = yield* mm.mmap(env, { size: pages * P });
    const random = seeded(11);
    const values: number[] = [];
    for (let i = 0; i < pages; i++) {
      values.push(random(0x7fffffff));
      yield* env.write32(base + i * P + 4 * (i % 1024), values[i]!);
    }
    const filled = yield* mm.stats(env);
    yield* out(`holds ${filled.framesHeld} frames, ${filled.extra} extra, ${filled.pageOuts} page-outs`);
    yield* ask(env, parent, [1]);
    // The worker has its guarantee now.
    const after = yield* mm.stats(env);
    yield* out(`answered ${after.reclaims} reclaim requests, gave back ${after.framesGivenBack} frames, holds ${after.framesHeld}, ${after.pageOuts - filled.pageOuts} page-outs`);
    let intact = 0;
    for (let i = 0; i < pages; i++) if ((yield* env.read32(base + i * P + 4 * (i % 1024))) === values[i]) intact++;
    yield* out(`${intact} of ${pages} pages intact`);
    return intact === pages ? 0 : 1;
  }
  if (options.role === 'ignorer') {
    const frames = numberOption(options, 'frames', 0);
    const cap = yield* physmem.create(env, { frames });
    yield* physmem.map(env, cap, 0, frames, IGNORER_BASE, Rights.ReadWrite);
    for (let i = 0; i < frames; i++) yield* env.write32(IGNORER_BASE + i * P, i);
    const listener = yield* task.createThread(env, function* listen(lenv: ProgramEnv): Op<void> {
      for (;;) {
        const message = yield* next(lenv);
        const request = physmem.reclaimRequest(message.label, message.words);
        if (request) yield* print(lenv, `mm-reclaim: ignorer asked for ${request.frames} frames, ignores it\n`);
      }
    });
    yield* physmem.onReclaim(env, listener);
    yield* out(`holds ${frames} extra frames`);
    yield* ask(env, parent, [1]);
    return 0;
  }
  // The worker.
  const wanted = numberOption(options, 'guarantee', 0);
  const granted = yield* policy.negotiate(env, wanted);
  const cap = yield* physmem.create(env);
  yield* physmem.allocate(env, cap, 0, granted);
  yield* out(`allocated ${granted} frames within its guarantee`);
  return 0;
});

export default program(function* parent(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const out = (line: string): Op<void> => print(env, `mm-reclaim: parent ${line}\n`);
  const guarantee = numberOption(options, 'guarantee', 32);
  const extra = numberOption(options, 'extra', 300);
  const ignored = numberOption(options, 'ignorer', 300);
  const short = numberOption(options, 'short', 400);
  const start = yield* physmem.stats(env);
  const waiting = new Map<number, number>();
  const started = function* (args: string): Op<number> {
    const id = yield* task.createTask(env, role, `${args} parent=${me}`);
    yield* task.watch(env, id);
    for (;;) {
      const message = yield* next(env);
      if ((message.from & 0x3fff) === id) {
        waiting.set(id, message.from);
        return id;
      }
    }
  };
  const compliant = yield* started(`role=compliant guarantee=${guarantee} extra=${extra}`);
  const ignorer = yield* started(`role=ignorer frames=${ignored}`);
  const loaded = yield* physmem.stats(env);
  // The worker's guarantee leaves `short` frames fewer free than it allocates.
  const worker = yield* task.createTask(env, role, `role=worker guarantee=${loaded.free + short} parent=${me}`);
  yield* task.watch(env, worker);
  let running = 3;
  while (running > 0) {
    const message = yield* next(env);
    const death = task.deathNotice(message.label, message.words);
    if (!death) continue;
    const who = death.task === compliant ? 'compliant' : death.task === ignorer ? 'ignorer' : death.task === worker ? 'worker' : 'another task';
    yield* out(`${who} ${task.DEATH_CAUSE_NAMES[death.cause]}${death.cause === task.DeathCause.Exited ? ` with status ${death.status}` : ''}`);
    running--;
    if (death.task === worker) {
      for (const [id, thread] of waiting) if (id !== worker) yield* answer(env, thread, []);
      waiting.clear();
    }
  }
  const after = yield* physmem.stats(env);
  yield* out(`free ${after.free === start.free ? 'as at the start' : `${after.free} (${start.free} at the start)`}, guaranteed ${after.guaranteed - start.guaranteed}`);
  return 0;
});
