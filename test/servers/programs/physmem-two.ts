// Two tasks and one container, the seeds' worked examples: `scenario=share` (a weak reference:
// the writes of each are seen by the other), `scenario=cow` (a copy-on-write copy: a write on
// either side leaves the other's data alone, both directions), `scenario=lock` (lock_physical:
// the physical addresses, the other task refused until unlock), `scenario=lockbreak` (a lock
// held past the container's lock time is broken). The parent creates the child task from this
// same module; they talk by calls. Output lines start with `two:`.
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import { readTcr } from '../../../libl4/registers.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, hex, next, refusal, sleep } from './common.ts';

const P = 0x20000000;
const Q = 0x30000000;

const child = program(function* child(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const parent = numberOption(options, 'parent', 0);
  const out = (line: string): Op<void> => print(env, `two: child ${line}\n`);
  const [cap] = yield* ask(env, parent, [1]);
  switch (options.scenario) {
    case 'share': {
      yield* physmem.map(env, cap!, 0, 2, Q, Rights.ReadWrite);
      yield* out(`reads ${hex(yield* env.read32(Q))}`);
      yield* env.write32(Q + 4096, 0x22222222);
      yield* ask(env, parent, [2]);
      yield* out(`reads ${hex(yield* env.read32(Q))} after the parent wrote`);
      break;
    }
    case 'cow': {
      const own = yield* physmem.create(env, { frames: 2 });
      yield* physmem.copy(env, cap!, 0, own, 0, 2);
      yield* physmem.map(env, own, 0, 2, Q, Rights.ReadWrite);
      yield* out(`copy reads ${hex(yield* env.read32(Q))} ${hex(yield* env.read32(Q + 4096))}`);
      yield* env.write32(Q, 0xb0);
      yield* ask(env, parent, [2]);
      yield* out(`after the parent wrote, reads ${hex(yield* env.read32(Q))} ${hex(yield* env.read32(Q + 4096))}`);
      break;
    }
    case 'lock': {
      yield* physmem.map(env, cap!, 0, 2, Q, Rights.Read);
      yield* out(`reads ${hex(yield* env.read32(Q))}`);
      yield* ask(env, parent, [2]);
      // The parent holds a physical lock with unmapOthers: no mapping for anyone else.
      yield* out(`map while locked: ${yield* refusal(physmem.map(env, cap!, 0, 1, Q, Rights.Read))}`);
      yield* out(`lock while locked: ${yield* refusal(physmem.lockMap(env, cap!, false))}`);
      yield* ask(env, parent, [3]);
      yield* out(`after unlock reads ${hex(yield* env.read32(Q))} ${hex(yield* env.read32(Q + 4096))}`);
      break;
    }
    default:
      return 2;
  }
  yield* ask(env, parent, [9]);
  return 0;
});

export default program(function* two(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const scenario = options.scenario ?? 'share';
  const out = (line: string): Op<void> => print(env, `two: parent ${line}\n`);
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const frames = 2;
  const lockTimeCycles = numberOption(options, 'lock-cycles', 0);
  const a = yield* physmem.create(env, { frames, lockTimeCycles });
  yield* physmem.map(env, a, 0, frames, P, Rights.ReadWrite);
  yield* env.write32(P, 0xa0);
  yield* env.write32(P + 4096, 0xa1);

  if (scenario === 'lockbreak') {
    const version = yield* physmem.lockMap(env, a, true);
    yield* out(`locked, version ${version}, locked ${(yield* physmem.info(env, a)).locked}`);
    yield* sleep(env, numberOption(options, 'sleep-us', 1000));
    const info = yield* physmem.info(env, a);
    yield* out(`after the lock time: locked ${info.locked}, version ${info.version}`);
    yield* out(`unlock: ${yield* refusal(physmem.unlock(env, a))}`);
    return 0;
  }

  const childTask = yield* task.createTask(env, child, `parent=${me} scenario=${scenario}`);
  yield* task.watch(env, childTask);
  for (;;) {
    const message = yield* next(env);
    const death = task.deathNotice(message.label, message.words);
    if (death) {
      yield* out(`child task ${death.task === childTask ? 'died' : 'other'}: cause ${death.cause} status ${death.status}`);
      break;
    }
    const [step] = message.words;
    if (step === 1) {
      yield* answer(env, message.from, [yield* physmem.share(env, a, message.from & 0x3fff)]);
    } else if (step === 2 && scenario === 'share') {
      yield* out(`reads ${hex(yield* env.read32(P + 4096))} the child wrote`);
      yield* env.write32(P, 0x33333333);
      yield* answer(env, message.from, []);
    } else if (step === 2 && scenario === 'cow') {
      yield* out(`after the child wrote, reads ${hex(yield* env.read32(P))} ${hex(yield* env.read32(P + 4096))}`);
      yield* env.write32(P + 4096, 0xa2);
      yield* out(`wrote its second page, reads ${hex(yield* env.read32(P))} ${hex(yield* env.read32(P + 4096))}`);
      yield* answer(env, message.from, []);
    } else if (step === 2 && scenario === 'lock') {
      const addresses = yield* physmem.lockPhysical(env, a, true);
      yield* out(`lock_physical ${addresses.map(hex).join(' ')}`);
      yield* answer(env, message.from, []);
    } else if (step === 3) {
      yield* out(`unlock version ${yield* physmem.unlock(env, a)}`);
      yield* answer(env, message.from, []);
    } else {
      yield* answer(env, message.from, []);
    }
  }
  return 0;
});
