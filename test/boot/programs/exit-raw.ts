// exit-raw: a program body without the runtime (test/boot/trust.test.ts). It calls
// process.exit(1) with nothing to catch the ReferenceError: the exception leaves the thread's
// body, so the kernel halts the thread and reports it; wortel never hears its exit status.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';

export default function* exitRaw(env: ProgramEnv): Op<void> {
  yield* env.print('exit-raw: calling process.exit(1)\n');
  process.exit(1);
}
