// ipc-task: one of two tasks talking over IPC. `role=server` answers calls with the value plus
// one until it gets label 2; `role=client peer=T rounds=N` calls the thread numbered T (a boot
// program's first thread: 1000 + its place among the image's programs) N times, checks each
// answer, then tells the server to stop. The peer's full id comes from the task server (its
// version is the peer's task id); in a bare image every thread has version 1.
import { ANYTHREAD, Syscall, UTCB_MR_OFFSET, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { startupOf } from '../startup.ts';
import * as task from '../task/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';

export default program(function* ipcTask(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const mr = (i: number): number => env.utcb + UTCB_MR_OFFSET + 4 * i;
  if (options.role === 'server') {
    let served = 0;
    let [from] = yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    for (;;) {
      const [tag, value] = yield* env.readWords(mr(0), 2);
      if (tag! >>> 16 === 2) break;
      yield* env.writeWords(mr(0), [(1 << 16) | 1, value! + 1]);
      served++;
      [from] = yield* env.syscall(Syscall.Ipc, [from!, ANYTHREAD, 0x04000000]);
    }
    yield* print(env, `ipc-task: server answered ${served} calls\n`);
    return 0;
  }
  const number = numberOption(options, 'peer', 1000);
  const peer = (yield* startupOf(env)).taskServer ? yield* task.threadId(env, number) : globalId(number, 1);
  const rounds = numberOption(options, 'rounds', 10);
  let wrong = 0;
  for (let i = 0; i < rounds; i++) {
    yield* env.writeWords(mr(0), [(1 << 16) | 1, i]);
    yield* env.syscall(Syscall.Ipc, [peer, peer, 0]);
    const [, value] = yield* env.readWords(mr(0), 2);
    if (value !== i + 1) wrong++;
  }
  yield* env.writeWords(mr(0), [2 << 16]);
  yield* env.syscall(Syscall.Ipc, [peer, 0, 0]);
  yield* print(env, `ipc-task: client made ${rounds} calls, ${wrong} wrong answers\n`);
  return wrong === 0 ? 0 : 1;
});
