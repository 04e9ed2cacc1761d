// Guaranteed and extra frames under memory pressure. The parent starts, from this module:
//   a hog      that holds most of the box as extra frames (guarantee 0). With comply=yes it
//              registers a thread that gives frames back when physmem asks; with comply=no
//              its thread ignores the requests; with comply=none it registers no thread;
//   a neighbour that holds a few extra frames with data in them, and checks them at the end;
//   a worker   that negotiates a guarantee and allocates all of it, which physmem can only do
//              by taking frames back from the hog.
// Lines start with `reclaim:`. Sizes come from the command line (frames= for the hog,
// guarantee= for the worker).
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import { readTcr } from '../../../libl4/registers.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import * as policy from '../../../servers/policy/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, next } from './common.ts';

const NEIGHBOUR_PAGES = 16;
const N = 0x20000000;

const role = program(function* role(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const parent = numberOption(options, 'parent', 0);
  const out = (line: string): Op<void> => print(env, `reclaim: ${options.role} ${line}\n`);
  if (options.role === 'hog') {
    const frames = numberOption(options, 'frames', 0);
    const cap = yield* physmem.create(env, { frames });
    let held = frames;
    if (options.comply !== 'none') {
      const comply = options.comply === 'yes';
      const listener = yield* task.createThread(env, function* listen(lenv: ProgramEnv): Op<void> {
        for (;;) {
          const message = yield* next(lenv);
          const request = physmem.reclaimRequest(message.label, message.words);
          if (!request) continue;
          yield* print(lenv, `reclaim: hog asked for ${request.frames} frames${comply ? '' : ', ignores it'}\n`);
          if (!comply) continue;
          // Give back the newest frames.
          yield* physmem.deallocate(lenv, cap, held - request.frames, request.frames);
          held -= request.frames;
          yield* print(lenv, `reclaim: hog gave back ${request.frames} frames, holds ${held}\n`);
        }
      });
      yield* physmem.onReclaim(env, listener);
    }
    yield* out(`holds ${frames} extra frames`);
    yield* ask(env, parent, [1]);
    // Stay alive until told to end.
    yield* ask(env, parent, [2]);
    return 0;
  }
  if (options.role === 'neighbour') {
    const cap = yield* physmem.create(env, { frames: NEIGHBOUR_PAGES });
    yield* physmem.map(env, cap, 0, NEIGHBOUR_PAGES, N, Rights.ReadWrite);
    for (let i = 0; i < NEIGHBOUR_PAGES; i++) yield* env.write32(N + i * 4096, 0x5eed0000 + i);
    yield* ask(env, parent, [1]);
    let good = 0;
    for (let i = 0; i < NEIGHBOUR_PAGES; i++) if ((yield* env.read32(N + i * 4096)) === 0x5eed0000 + i) good++;
    yield* out(`${good} of ${NEIGHBOUR_PAGES} pages intact`);
    return good === NEIGHBOUR_PAGES ? 0 : 1;
  }
  // The worker.
  const wanted = numberOption(options, 'guarantee', 0);
  const granted = yield* policy.negotiate(env, wanted);
  yield* out(`guarantee ${granted} of ${wanted} asked`);
  const cap = yield* physmem.create(env);
  yield* physmem.allocate(env, cap, 0, granted);
  const info = yield* physmem.info(env, cap);
  yield* out(`allocated ${info.frames} frames within its guarantee`);
  // Asking for more than the box: the guarantee is what the others' guarantees leave.
  const most = yield* policy.negotiate(env, 1 << 30);
  const stats = yield* physmem.stats(env);
  yield* out(`asking for everything gets ${stats.total - most} less than the box, guaranteed in all ${stats.guaranteed === stats.total ? 'the whole box' : stats.guaranteed}`);
  return 0;
});

export default program(function* parent(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const out = (line: string): Op<void> => print(env, `reclaim: parent ${line}\n`);
  const start = yield* physmem.stats(env);
  const guarantee = numberOption(options, 'guarantee', 0);
  const hogFrames = numberOption(options, 'frames', start.free - guarantee / 2);

  // Messages come from the hog (ready, then waiting to be let go), the neighbour (ready, then
  // waiting to check its pages) and the task server (deaths); each is told apart by its sender.
  const waiting = new Map<number, number>(); // task -> thread waiting for our answer
  const hog = yield* task.createTask(env, role, `role=hog parent=${me} frames=${hogFrames} comply=${options.comply ?? 'yes'}`);
  yield* task.watch(env, hog);
  const fromTask = function* (id: number): Op<number> {
    for (;;) {
      const message = yield* next(env);
      if ((message.from & 0x3fff) === id) return message.from;
      waiting.set(message.from & 0x3fff, message.from);
    }
  };
  yield* answer(env, yield* fromTask(hog), []);
  const neighbour = yield* task.createTask(env, role, `role=neighbour parent=${me}`);
  yield* task.watch(env, neighbour);
  const neighbourThread = yield* fromTask(neighbour);
  const before = yield* physmem.stats(env);
  yield* out(`before: free ${before.free}, extra ${before.extra - start.extra}`);
  const worker = yield* task.createTask(env, role, `role=worker parent=${me} guarantee=${guarantee}`);
  yield* task.watch(env, worker);

  let running = 3;
  let workerDone = false;
  const release = function* (): Op<void> {
    for (const [id, thread] of waiting) {
      waiting.delete(id);
      yield* answer(env, thread, []);
    }
  };
  while (running > 0) {
    const message = yield* next(env);
    const death = task.deathNotice(message.label, message.words);
    if (death) {
      const who = death.task === hog ? 'hog' : death.task === neighbour ? 'neighbour' : death.task === worker ? 'worker' : 'another task';
      yield* out(`${who} ${task.DEATH_CAUSE_NAMES[death.cause]}${death.cause === task.DeathCause.Exited ? ` with status ${death.status}` : ''}`);
      running--;
      waiting.delete(death.task);
      if (death.task === worker) {
        // The worker is done: let the neighbour check its pages, and the hog end.
        workerDone = true;
        waiting.set(neighbour, neighbourThread);
        yield* release();
      }
      continue;
    }
    waiting.set(message.from & 0x3fff, message.from);
    if (workerDone) yield* release();
  }
  const after = yield* physmem.stats(env);
  yield* out(`after: free ${after.free === start.free ? 'as at the start' : `${after.free} (${start.free} at the start)`}, guaranteed ${after.guaranteed - start.guaranteed}`);
  return 0;
});
