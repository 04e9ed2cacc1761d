// The task server's interface, from one parent task and children it creates from this module:
// ids, threads, task creation and destruction with their permissions, death notices with their
// causes, and that dead tasks leave nothing behind. Lines start with `tasks:`.
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { readTcr } from '../../../libl4/registers.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import { startupOf } from '../../../servers/startup.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, next, refusal } from './common.ts';

const child = program(function* child(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const parent = numberOption(options, 'parent', 0);
  switch (options.do) {
    case 'exit':
      // Touch some memory first, so that dying has something to give back.
      for (let i = 0; i < 8; i++) yield* env.write32(0x10000000 + i * 4096, i);
      return numberOption(options, 'status', 0);
    case 'wait':
      yield* ask(env, parent, [1]);
      return 0;
    case 'destroy-sibling': {
      const sibling = numberOption(options, 'sibling', 0);
      const [] = yield* ask(env, parent, [
        ...[yield* refusal(task.destroyTask(env, sibling)), yield* refusal(task.destroyTask(env, 2)), yield* refusal(task.destroyTask(env, 0x3fff))].map((code) => ['ok', 'EPERM', 'ESRCH'].indexOf(code)),
      ]);
      return 0;
    }
    case 'fault':
      // The UTCB area: nothing pages there.
      yield* env.read32(0xbf800000);
      return 0;
    case 'self-destroy':
      yield* task.destroyTask(env, yield* task.self(env));
      return 5;
    default:
      return 2;
  }
});

export default program(function* tasks(env: ProgramEnv): Op<number> {
  const out = (line: string): Op<void> => print(env, `tasks: ${line}\n`);
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const self = yield* task.self(env);
  const startup = yield* startupOf(env);
  yield* out(`self ${self === startup.task && self === (me & 0x3fff) ? 'is the startup task and the version of its thread ids' : 'WRONG'}`);
  yield* out(`taskOf(self) ${(yield* task.taskOf(env, me)) === self}, taskOf(physmem) ${yield* task.taskOf(env, startup.physmem)}`);
  yield* out(`threadId(${me >>> 14}) ${(yield* task.threadId(env, me >>> 14)) === me}`);
  yield* out(`unknown thread: taskOf ${yield* refusal(task.taskOf(env, (123456 << 14) | 77))}, threadId ${yield* refusal(task.threadId(env, 123456))}`);
  yield* out(`watch no task: ${yield* refusal(task.watch(env, 0x3ffd))}`);
  yield* out(`lookup: tasks ${(yield* task.lookup(env, 'tasks')) === me}, physmem ${(yield* task.lookup(env, 'physmem')) === startup.physmem}, nobody ${yield* refusal(task.lookup(env, 'nobody'))}, too long ${yield* refusal(task.lookup(env, 'x'.repeat(32)))}`);
  yield* out(`long command line: ${yield* refusal(task.createTask(env, child, 'x'.repeat(241)))}`);

  // A thread of our own.
  let ran = 0;
  const worker = yield* task.createThread(env, function* (wenv: ProgramEnv): Op<void> {
    ran = wenv.sp;
    yield* ask(wenv, me, [0x77]);
  }, 42);
  const hello = yield* next(env);
  yield* answer(env, hello.from, []);
  yield* out(`thread: started with sp ${ran}, said ${hello.words[0]!.toString(16)}, in our task ${(yield* task.taskOf(env, worker)) === self}, local ${(hello.from & 0x3f) === 0}`);

  // program(main) as a thread's body: main runs with no command line; its end ends the thread only.
  yield* task.createThread(env, program(function* (tenv: ProgramEnv, targs: string): Op<number> {
    yield* ask(tenv, me, [targs === '' ? 0x88 : 0x99]);
    return 3;
  }));
  const fromThread = yield* next(env);
  yield* answer(env, fromThread.from, []);
  yield* out(`a program(main) thread said ${fromThread.words[0]!.toString(16)}; the task lives on`);

  const start = yield* physmem.stats(env);
  const deaths: string[] = [];
  function* died(): Op<task.DeathNotice> {
    for (;;) {
      const message = yield* next(env);
      const death = task.deathNotice(message.label, message.words);
      if (death) return death;
      yield* answer(env, message.from, []);
    }
  }
  const describe = (d: task.DeathNotice, name: string): string => `${name} ${task.DEATH_CAUSE_NAMES[d.cause]} status ${d.status}`;

  // A child that exits with a status.
  const exiting = yield* task.createTask(env, child, `do=exit status=7 parent=${me}`);
  yield* task.watch(env, exiting);
  deaths.push(describe(yield* died(), 'exiting child'));
  yield* out(`exiting child is gone: taskOf ${yield* refusal(task.watch(env, exiting))}`);

  // A child destroyed by its creator while it waits.
  const waiting = yield* task.createTask(env, child, `do=wait parent=${me}`);
  yield* task.watch(env, waiting);
  const asked = yield* next(env);
  yield* task.destroyTask(env, waiting);
  deaths.push(describe(yield* died(), 'waiting child'));
  void asked;

  // One child may not destroy another's sibling, nor a bootstrap task, nor nothing.
  const sibling = yield* task.createTask(env, child, `do=wait parent=${me}`);
  const siblingThread = (yield* next(env)).from;
  const bully = yield* task.createTask(env, child, `do=destroy-sibling sibling=${sibling} parent=${me}`);
  yield* task.watch(env, bully);
  const report = yield* next(env);
  yield* out(`a child destroying its sibling: ${['ok', 'EPERM', 'ESRCH'][report.words[0]!]}, physmem: ${['ok', 'EPERM', 'ESRCH'][report.words[1]!]}, no task: ${['ok', 'EPERM', 'ESRCH'][report.words[2]!]}`);
  yield* answer(env, report.from, []);
  deaths.push(describe(yield* died(), 'bully'));
  yield* task.watch(env, sibling);
  yield* answer(env, siblingThread, []);
  deaths.push(describe(yield* died(), 'sibling'));

  // A child that faults where nothing pages it, and one that destroys itself.
  const faulting = yield* task.createTask(env, child, `do=fault parent=${me}`);
  yield* task.watch(env, faulting);
  deaths.push(describe(yield* died(), 'faulting child'));
  const selfDestroying = yield* task.createTask(env, child, `do=self-destroy parent=${me}`);
  yield* task.watch(env, selfDestroying);
  deaths.push(describe(yield* died(), 'self-destroying child'));

  // Many children, one after another.
  for (let i = 0; i < 20; i++) {
    const id = yield* task.createTask(env, child, `do=exit status=0 parent=${me}`);
    yield* task.watch(env, id);
    yield* died();
  }
  for (const line of deaths) yield* out(line);
  const end = yield* physmem.stats(env);
  yield* out(`frames after the children died: ${end.free === start.free && end.allocated === start.allocated && end.reserved === start.reserved ? 'as before' : `free ${end.free} (was ${start.free})`}`);
  return 0;
});
