// spin: works for ever, ten cycles at a time, so that a debugger test has a machine
// that is still running when Ctrl-C comes.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { program } from '../../../servers/runtime.ts';

export default program(function* spin(env: ProgramEnv): Op<number> {
  for (;;) yield* env.work(10);
});
