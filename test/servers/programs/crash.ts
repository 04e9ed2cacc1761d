// Programs that fail, for the reports of those failures (test/servers/failures.test.ts):
//   do=throw-thread   a thread of the task throws: the task is destroyed as crashed
//   do=loop           the first thread loops without calling its environment
//   do=block          waits for a message nobody sends (the boot goes idle)
//   do=kernel-read    reads kernel memory
//   do=ok             exits 0 (a neighbour that must be unaffected)
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { wait } from '../../../libl4/syscalls.ts';
import { commandLineOptions, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';

export default program(function* crash(env: ProgramEnv, args: string): Op<number> {
  const what = commandLineOptions(args).do;
  yield* print(env, `crash: ${what}\n`);
  switch (what) {
    case 'throw-thread':
      yield* task.createThread(env, function* thrower(): Op<void> {
        throw new RangeError('a thread gives up');
      });
      // Wait: the task ends when the thread throws.
      yield* wait(env);
      return 0;
    case 'loop':
      for (;;) {}
    case 'block':
      yield* wait(env);
      return 0;
    case 'kernel-read':
      yield* env.read32(0xc0001000);
      return 0;
    default:
      return 0;
  }
});
